import { CfnResource } from 'aws-cdk-lib';
import { rules } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { acknowledge } from './acknowledge';

/** A reviewed kind of wildcard, and why it stays within one named resource. */
export type WildcardReason = readonly [pattern: RegExp, reason: string];

/**
 * Acknowledges each AwsSolutions-IAM5 finding of one policy with the reason of the first pattern it
 * matches (cdk-nag's own rule computes the findings). A wildcard that matches no reviewed pattern
 * throws, so a new one cannot land unreviewed.
 */
export function acknowledgeWildcards(policy: IConstruct, reasons: readonly WildcardReason[]): void {
  const found = rules.iam.IAMNoWildcardPermissions(policy as CfnResource);
  for (const finding of Array.isArray(found) ? found : []) {
    const reason = reasons.find(([pattern]) => pattern.test(finding))?.[1];
    if (!reason) throw new Error(`${policy.node.path}: unreviewed wildcard ${finding}`);
    acknowledge(policy, { id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
}
