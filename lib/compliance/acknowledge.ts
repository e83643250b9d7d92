import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** One acknowledged finding: the exact rule id (with `[finding]` where the rule reports several). */
export interface Finding {
  readonly id: string;
  readonly reason: string;
}

const MIN_REASON_LENGTH = 40;
export const RULE_ID = /^((AwsSolutions|HIPAA\.Security|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[.+\])?|CloudFormation-Validate::[EW]\d+)$/;

/** The same rule in the HIPAA.Security and NIST.800.53.R5 packs, which share many rules, with one reason. */
export function hipaaAndNist(rule: string, reason: string): Finding[] {
  return [
    { id: `HIPAA.Security-${rule}`, reason },
    { id: `NIST.800.53.R5-${rule}`, reason },
  ];
}

/**
 * Acknowledges compliance findings on one construct (and what it contains). Each finding must
 * name a rule of the three packs and carry a reason an auditor can check; a vague or blanket
 * acknowledgement is a programming error.
 */
export function acknowledge(construct: IConstruct, ...findings: Finding[]): void {
  for (const finding of findings) {
    if (!RULE_ID.test(finding.id)) {
      throw new Error(
        `acknowledgement "${finding.id}" on ${construct.node.path} is not a rule id of AwsSolutions, HIPAA.Security, NIST.800.53.R5 or CloudFormation-Validate`,
      );
    }
    if (finding.reason.trim().length < MIN_REASON_LENGTH) {
      throw new Error(
        `acknowledgement ${finding.id} on ${construct.node.path} needs a specific reason (at least ${MIN_REASON_LENGTH} characters)`,
      );
    }
    Validations.of(construct).acknowledge({ id: finding.id, reason: finding.reason });
  }
}

/**
 * The findings of a deploy-time hook: a function a CDK Trigger invokes once per deployment, synchronously.
 * Concurrency and a dead-letter queue have nothing to protect there; why it may run outside the VPC is the
 * caller's to say (what it calls, and that it touches no PHI).
 */
export function deployHookFindings(outsideVpcReason: string): Finding[] {
  return [
    ...hipaaAndNist(
      'LambdaConcurrency',
      'Invoked once per deployment by CloudFormation; reserving concurrency would only take capacity from the account.',
    ),
    ...hipaaAndNist(
      'LambdaDLQ',
      'Invoked synchronously by the trigger custom resource, which reports a failure to CloudFormation and fails the deployment; there is no asynchronous event to lose.',
    ),
    ...hipaaAndNist('LambdaInsideVPC', outsideVpcReason),
  ];
}
