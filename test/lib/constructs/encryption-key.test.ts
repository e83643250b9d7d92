import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EncryptionKey, EncryptionKeyProps } from '../../../lib/constructs/encryption-key';
import { testStack } from '../../helpers';

const ACCOUNT = '123456789012';

function keyTemplate(props: Partial<EncryptionKeyProps> = {}): Template {
  const stack = testStack({ env: { account: ACCOUNT, region: 'eu-west-2' } });
  new EncryptionKey(stack, 'K', {
    alias: 'alias/x/dev/test',
    description: 'test',
    removalPolicy: RemovalPolicy.DESTROY,
    pendingWindowDays: 7,
    ...props,
  });
  return Template.fromStack(stack);
}

/** The key policy statement CDK always writes: the account administers the key through IAM. */
const ACCOUNT_ROOT = {
  Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
  Action: 'kms:*',
  Resource: '*',
};

describe('EncryptionKey', () => {
  const bare = keyTemplate();
  const logs = keyTemplate({ logGroupNamePatterns: ['/x/dev/flow', '/aws/rds/instance/x-db-dev/*'] });
  const trail = keyTemplate({ cloudTrailName: 'x-trail-dev' });
  const alarms = keyTemplate({ allowCloudWatchAlarms: true });
  const retained = keyTemplate({ removalPolicy: RemovalPolicy.RETAIN, pendingWindowDays: 30 });

  test('a bare key rotates yearly and grants no service principal anything', () => {
    bare.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      PendingWindowInDays: 7,
      Description: 'test',
      KeyPolicy: { Statement: [ACCOUNT_ROOT], Version: '2012-10-17' },
    });
    bare.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/x/dev/test' });
  });

  test('removal policy and deletion window are the ones given', () => {
    bare.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    retained.hasResource('AWS::KMS::Key', {
      Properties: Match.objectLike({ PendingWindowInDays: 30 }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('CloudWatch Logs of this region may use the key only for the named log groups of this account', () => {
    logs.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: [
          ACCOUNT_ROOT,
          {
            Sid: 'AllowCloudWatchLogsForNamedLogGroups',
            Effect: 'Allow',
            Principal: { Service: 'logs.eu-west-2.amazonaws.com' },
            Action: ['kms:Decrypt*', 'kms:Describe*', 'kms:Encrypt*', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
            Resource: '*',
            Condition: {
              ArnLike: {
                'kms:EncryptionContext:aws:logs:arn': [
                  `arn:aws:logs:eu-west-2:${ACCOUNT}:log-group:/x/dev/flow`,
                  `arn:aws:logs:eu-west-2:${ACCOUNT}:log-group:/aws/rds/instance/x-db-dev/*`,
                ],
              },
            },
          },
        ],
      },
    });
    // An empty list grants nothing (no statement with an empty condition).
    keyTemplate({ logGroupNamePatterns: [] }).hasResourceProperties('AWS::KMS::Key', { KeyPolicy: { Statement: [ACCOUNT_ROOT] } });
  });

  test('CloudTrail may encrypt and describe only for the named trail', () => {
    const trailArn = `arn:aws:cloudtrail:eu-west-2:${ACCOUNT}:trail/x-trail-dev`;
    trail.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: [
          ACCOUNT_ROOT,
          {
            Sid: 'AllowCloudTrailToEncryptLogFiles',
            Effect: 'Allow',
            Principal: { Service: 'cloudtrail.amazonaws.com' },
            Action: 'kms:GenerateDataKey*',
            Resource: '*',
            Condition: {
              StringEquals: { 'aws:SourceArn': trailArn },
              StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:aws:cloudtrail:*:${ACCOUNT}:trail/*` },
            },
          },
          {
            Sid: 'AllowCloudTrailToDescribeKey',
            Effect: 'Allow',
            Principal: { Service: 'cloudtrail.amazonaws.com' },
            Action: 'kms:DescribeKey',
            Resource: '*',
            Condition: { StringEquals: { 'aws:SourceArn': trailArn } },
          },
        ],
      },
    });
  });

  test('CloudWatch alarms may use the key only for this account', () => {
    alarms.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: [
          ACCOUNT_ROOT,
          {
            Sid: 'AllowCloudWatchAlarmsToPublishEncrypted',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Resource: '*',
            Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
          },
        ],
      },
    });
  });

  test('users: no kms:* for the account; administration without use, and use only by the named roles through the named services', () => {
    const narrowed = keyTemplate({ users: { roleNames: ['x-processor-task-dev', 'x-data-dev-*'], viaServices: ['kinesis', 'rds'] } });
    const key = Object.values(narrowed.findResources('AWS::KMS::Key'))[0] as {
      Properties: { KeyPolicy: { Statement: Array<Record<string, unknown>> } };
    };
    const statements = key.Properties.KeyPolicy.Statement;
    expect(statements.map((st) => st.Sid)).toEqual(['KeyAdministrationStaysWithTheAccount', 'UseByTheNamedRolesThroughTheirServices']);
    const admin = ([] as string[]).concat(statements[0].Action as string[]);
    for (const use of ['kms:*', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*', 'kms:CreateGrant', 'kms:Create*'])
      expect([use, admin.includes(use)]).toEqual([use, false]);
    expect(admin).toEqual(expect.arrayContaining(['kms:Put*', 'kms:ScheduleKeyDeletion', 'kms:Describe*']));
    expect(statements[1]).toEqual(
      expect.objectContaining({
        Principal: { AWS: expect.anything() },
        Condition: {
          ArnLike: {
            'aws:PrincipalArn': [`arn:aws:iam::${ACCOUNT}:role/x-processor-task-dev`, `arn:aws:iam::${ACCOUNT}:role/x-data-dev-*`],
          },
          StringEquals: { 'kms:ViaService': ['kinesis.eu-west-2.amazonaws.com', 'rds.eu-west-2.amazonaws.com'] },
        },
      }),
    );
  });
});
