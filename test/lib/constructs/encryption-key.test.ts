import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EncryptionKey } from '../../../lib/constructs/encryption-key';
import { testApp } from '../../helpers';

function keyPolicy(props: Partial<ConstructorParameters<typeof EncryptionKey>[2]> = {}) {
  const stack = new Stack(testApp(), 'S', { env: { account: '123456789012', region: 'eu-west-2' } });
  new EncryptionKey(stack, 'K', { alias: 'alias/x/dev/test', description: 'test', removalPolicy: RemovalPolicy.DESTROY, pendingWindowDays: 7, ...props });
  return Template.fromStack(stack);
}

describe('EncryptionKey', () => {
  test('a bare key grants no service principal anything', () => {
    const t = keyPolicy();
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, PendingWindowInDays: 7 });
    const json = JSON.stringify(t.toJSON());
    expect(json).not.toContain('logs.eu-west-2.amazonaws.com');
    expect(json).not.toContain('cloudtrail.amazonaws.com');
    expect(json).not.toContain('cloudwatch.amazonaws.com');
    t.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/x/dev/test' });
  });

  test('CloudWatch alarms may use the key only for this account', () => {
    keyPolicy({ allowCloudWatchAlarms: true }).hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
      })]) },
    });
  });

  test('CloudTrail may encrypt only for the named trail', () => {
    keyPolicy({ cloudTrailName: 'x-trail-dev' }).hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({
        Sid: 'AllowCloudTrailToEncryptLogFiles',
        Condition: Match.objectLike({ StringEquals: { 'aws:SourceArn': 'arn:aws:cloudtrail:eu-west-2:123456789012:trail/x-trail-dev' } }),
      })]) },
    });
  });
});
