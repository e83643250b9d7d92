import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';

export interface ProducerRoleProps {
  readonly roleName: string;
  readonly stream: kinesis.IStream;
  /** The stream's customer managed key: producers need kms:GenerateDataKey on it. */
  readonly streamKey: kms.IKey;
  /**
   * Account ids or IAM role/user ARNs that may assume the role (another account allowed).
   * @default none: principals of the stack's own account that an IAM policy allows
   */
  readonly trustedPrincipals?: readonly string[];
}

const ACCOUNT_ID = /^\d{12}$/;
const PRINCIPAL_ARN = /^arn:aws:iam::\d{12}:(root|role\/[\w+=,.@/-]{1,512}|user\/[\w+=,.@/-]{1,512})$/;

/**
 * The one identity that puts records on an environment's stream: exactly PutRecord, PutRecords and
 * DescribeStreamSummary on the stream and kms:GenerateDataKey on its key, what a Kinesis producer
 * needs with a customer managed key (https://docs.aws.amazon.com/streams/latest/dev/permissions-user-key-KMS.html,
 * "Example producer permissions"). It reads nothing: no GetRecords, no kms:Decrypt.
 */
export class ProducerRole extends Construct {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: ProducerRoleProps) {
    super(scope, id);
    const trusted = props.trustedPrincipals ?? [];
    for (const p of trusted)
      if (!ACCOUNT_ID.test(p) && !PRINCIPAL_ARN.test(p))
        throw new Error(
          `ProducerRole trusted principal "${p.slice(0, 80)}" is invalid: use a 12-digit account id or an IAM role or user ARN (arn:aws:iam::123456789012:role/name)`,
        );
    const principals: iam.IPrincipal[] =
      trusted.length === 0
        ? [new iam.AccountRootPrincipal()]
        : trusted.map((p) => (ACCOUNT_ID.test(p) ? new iam.AccountPrincipal(p) : new iam.ArnPrincipal(p)));
    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName,
      description: "Puts FHIR records on this environment's record stream; reads nothing",
      assumedBy: principals.length === 1 ? principals[0] : new iam.CompositePrincipal(...principals),
    });
    props.stream.grant(this.role, 'kinesis:PutRecord', 'kinesis:PutRecords', 'kinesis:DescribeStreamSummary');
    props.streamKey.grant(this.role, 'kms:GenerateDataKey');
    acknowledge(
      this.role,
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        'CDK grants write this policy for the producer role only: put records on this one stream and generate data keys with its key; inline, it cannot be attached to any other principal.',
      ),
    );
  }
}
