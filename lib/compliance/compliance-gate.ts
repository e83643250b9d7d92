import { PolicyViolation, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NagPack, NIST80053R5Checks } from 'cdk-nag';
import { IConstruct } from 'constructs';

/** The three rule packs every stack must pass. */
export function compliancePacks(): NagPack[] {
  return [new HIPAASecurityChecks(), new AwsSolutionsChecks(), new NIST80053R5Checks()];
}

/**
 * Registers the packs as validation plugins of an App or Stage, so `cdk synth` fails on any
 * unacknowledged error or warning in any stack below it, stacks inside Stages included.
 */
export function applyComplianceGate(scope: IConstruct): void {
  Validations.of(scope).addPlugins(...compliancePacks());
}

export interface PackResult {
  readonly pack: string;
  readonly violations: PolicyViolation[];
}

/** Runs every pack over a construct tree and returns what each found (for tests and reports). */
export function runComplianceChecks(scope: IConstruct): PackResult[] {
  return compliancePacks().map((pack) => ({ pack: pack.readPackName, violations: pack.validateScope(scope).violations }));
}
