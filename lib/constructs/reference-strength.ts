import { CfnResource, ReferenceStrength } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Resource types whose identifiers AWS generates and that CloudFormation may REPLACE on an update
 * (new subnet and security-group ids when a CIDR or description changes, a new key ARN, a new
 * database endpoint and DbiResourceId when the instance identifier changes).
 *
 * The rule for cross-stack references in this app (cdk.json defaults them to weak,
 * `Fn::GetStackOutput`): a weak reference is read only when the CONSUMER deploys, and CloudFormation
 * skips a consumer whose template did not change, so a replaced producer value would go stale in it.
 * - Values that a replacement can change are referenced STRONGLY (Export/ImportValue): CloudFormation
 *   then refuses to replace the producer while a consumer imports the old value, so nothing is stale.
 * - Values fixed by our own naming helper (stream, topic, log group, cluster names, the database
 *   instance identifier and so its endpoint) cannot change without a code change to both stacks, and
 *   a named resource cannot be replaced in place by CloudFormation at all: they stay weak. The
 *   database instance is named too, but its endpoint and DbiResourceId (in the processor's
 *   rds-db:connect ARN) are AWS-generated and change when the identifier does: strong.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-getstackoutput.html
 */
export const REPLACEABLE_ID_TYPES: readonly string[] = [
  'AWS::EC2::Subnet',
  'AWS::EC2::SecurityGroup',
  'AWS::EC2::VPC',
  'AWS::KMS::Key',
  'AWS::RDS::DBInstance',
];

/** Makes every reference to a replaceable producer below `scope` strong (see REPLACEABLE_ID_TYPES). */
export function strengthenReplaceableReferences(scope: IConstruct): void {
  for (const c of scope.node.findAll()) {
    if (c instanceof CfnResource && REPLACEABLE_ID_TYPES.includes(c.cfnResourceType))
      c.applyCrossStackReferenceStrength(ReferenceStrength.STRONG);
  }
}
