import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface EncryptionKeyProps {
  /** Alias, e.g. `alias/<project>/<suffix>/stream`. */
  readonly alias: string;
  readonly description: string;
  readonly removalPolicy: RemovalPolicy;
  /** Days before a scheduled deletion takes effect (7 to 30). */
  readonly pendingWindowDays: number;
  /**
   * Log group name patterns (e.g. `/aws/rds/instance/x-db-dev/*`) whose CloudWatch Logs
   * encryption this key serves. Logs may use the key only for these groups.
   * @default - CloudWatch Logs may not use the key
   */
  readonly logGroupNamePatterns?: string[];
  /**
   * Trail name whose log files this key encrypts.
   * @default - CloudTrail may not use the key
   */
  readonly cloudTrailName?: string;
  /**
   * Let CloudWatch alarms publish to SNS topics encrypted with this key.
   * @default false
   */
  readonly allowCloudWatchAlarms?: boolean;
  /**
   * Narrows the key policy for a key that encrypts PHI: key administration stays with the account (its IAM
   * policies decide who administers the key, so it cannot become unmanageable), and cryptographic use is allowed
   * only to these roles of the account, only through these services (kms:ViaService)
   * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam,
   * https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators,
   * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).
   * Role patterns may end in `*` (roles whose names CloudFormation generates start with their stack's name).
   * @default - CDK's default key policy: the account's IAM policies decide who uses the key
   */
  readonly users?: { readonly roleNames: readonly string[]; readonly viaServices: readonly string[] };
}

/** Key administration without cryptographic use (AWS's key administrators statement, less kms:CreateGrant). */
export const KEY_ADMINISTRATION_ACTIONS = [
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:UpdateAlias',
  'kms:Describe*',
  'kms:Enable*',
  'kms:Disable*',
  'kms:List*',
  'kms:Get*',
  'kms:Put*',
  'kms:Update*',
  'kms:RevokeGrant',
  'kms:RetireGrant',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:RotateKeyOnDemand',
];

/** Cryptographic use through an AWS service (the service creates grants for the resources it encrypts). */
export const KEY_USE_ACTIONS = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey*',
  'kms:ReEncrypt*',
  'kms:CreateGrant',
  'kms:DescribeKey',
];

/**
 * A customer managed KMS key with yearly rotation. Service access is added per use,
 * scoped to this account and to the named resources, never to a whole service.
 */
export class EncryptionKey extends Construct {
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: EncryptionKeyProps) {
    super(scope, id);
    const { account, region, partition } = Stack.of(this);

    this.key = new kms.Key(this, 'Key', {
      alias: props.alias,
      description: props.description,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
      pendingWindow: Duration.days(props.pendingWindowDays),
      // A policy given here replaces CDK's default (kms:* for the account).
      ...(props.users ? { policy: narrowKeyPolicy(account, partition, region, props.users) } : {}),
    });

    if (props.logGroupNamePatterns && props.logGroupNamePatterns.length > 0) {
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowCloudWatchLogsForNamedLogGroups',
          principals: [new iam.ServicePrincipal(`logs.${region}.amazonaws.com`)],
          actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
          resources: ['*'],
          conditions: {
            ArnLike: {
              'kms:EncryptionContext:aws:logs:arn': props.logGroupNamePatterns.map(
                (pattern) => `arn:${partition}:logs:${region}:${account}:log-group:${pattern}`,
              ),
            },
          },
        }),
      );
    }

    if (props.cloudTrailName) {
      const trailArn = `arn:${partition}:cloudtrail:${region}:${account}:trail/${props.cloudTrailName}`;
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowCloudTrailToEncryptLogFiles',
          principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
          actions: ['kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: {
            StringEquals: { 'aws:SourceArn': trailArn },
            StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:${partition}:cloudtrail:*:${account}:trail/*` },
          },
        }),
      );
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowCloudTrailToDescribeKey',
          principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
          actions: ['kms:DescribeKey'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceArn': trailArn } },
        }),
      );
    }

    if (props.allowCloudWatchAlarms) {
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowCloudWatchAlarmsToPublishEncrypted',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': account } },
        }),
      );
    }
  }
}

function narrowKeyPolicy(
  account: string,
  partition: string,
  region: string,
  users: NonNullable<EncryptionKeyProps['users']>,
): iam.PolicyDocument {
  const accountRoot = new iam.AccountRootPrincipal();
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        sid: 'KeyAdministrationStaysWithTheAccount',
        principals: [accountRoot],
        actions: KEY_ADMINISTRATION_ACTIONS,
        resources: ['*'],
      }),
      // The account principal with aws:PrincipalArn: the roles may be created after the key (another stack).
      new iam.PolicyStatement({
        sid: 'UseByTheNamedRolesThroughTheirServices',
        principals: [accountRoot],
        actions: KEY_USE_ACTIONS,
        resources: ['*'],
        conditions: {
          ArnLike: { 'aws:PrincipalArn': users.roleNames.map((name) => `arn:${partition}:iam::${account}:role/${name}`) },
          StringEquals: { 'kms:ViaService': users.viaServices.map((service) => `${service}.${region}.amazonaws.com`) },
        },
      }),
    ],
  });
}
