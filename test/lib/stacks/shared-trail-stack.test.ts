import { TRAIL_FILTERS } from '../../../lib/constructs/security-alarms';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Naming, SHARED_SUFFIX } from '../../../lib/contract';
import { EncryptionKey } from '../../../lib/constructs/encryption-key';
import { SharedTrailStack } from '../../../lib/stacks/shared-trail-stack';
import { getAtt, testApp } from '../../helpers';

describe('SharedTrailStack', () => {
  const stack = new SharedTrailStack(testApp(), 'SharedTrail', {
    naming: new Naming('hipaa-fhir', SHARED_SUFFIX),
    env: { account: '123456789012', region: 'eu-west-2' },
    alarmEmail: 'soc@example.org',
  });
  const template = Template.fromStack(stack);

  test('one trail records management events and data events of every project stream by name prefix', () => {
    expect(stack.stackName).toBe('hipaa-fhir-audit-shared');
    template.resourceCountIs('AWS::CloudTrail::Trail', 1);
    template.hasResourceProperties('AWS::CloudTrail::Trail', {
      TrailName: 'hipaa-fhir-trail-shared',
      EnableLogFileValidation: true,
      KMSKeyId: getAtt((stack.node.findChild('SharedAuditKey') as EncryptionKey).key),
      AdvancedEventSelectors: Match.arrayWith([
        Match.objectLike({
          FieldSelectors: Match.arrayWith([
            {
              Field: 'resources.ARN',
              StartsWith: [`arn:aws:kinesis:eu-west-2:123456789012:stream/${Naming.streamNamePrefix('hipaa-fhir')}`],
            },
          ]),
        }),
      ]),
    });
    template.hasOutput('SharedTrailName', { Value: 'hipaa-fhir-trail-shared' });
  });

  test('audit records outlive the stack: bucket, log group and key are retained, and it is termination-protected', () => {
    expect(stack.terminationProtection).toBe(true);
    for (const type of ['AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::KMS::Key'])
      template.allResources(type, { DeletionPolicy: 'Retain' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    template.hasResourceProperties('AWS::KMS::Key', { PendingWindowInDays: 30, EnableKeyRotation: true });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hipaa-fhir/shared/audit/cloudtrail', RetentionInDays: 365 });
    template.resourcePropertiesCountIs(
      'AWS::S3::Bucket',
      { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 365 })] } },
      2,
    );
  });

  test('account-wide security alarms watch the shared trail and notify its topic', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', Object.keys(TRAIL_FILTERS).length);
    template.resourceCountIs('AWS::Logs::MetricFilter', Object.keys(TRAIL_FILTERS).length);
    const [logGroupId] = Object.keys(
      template.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: '/hipaa-fhir/shared/audit/cloudtrail' } }),
    );
    template.allResourcesProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: logGroupId },
      MetricTransformations: [Match.objectLike({ MetricNamespace: 'hipaa-fhir/shared/Security' })],
    });
    const [topicId] = Object.keys(
      template.findResources('AWS::SNS::Topic', { Properties: { TopicName: 'hipaa-fhir-security-alarms-shared' } }),
    );
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: topicId }] });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'soc@example.org' });
    template.hasOutput('SharedSecurityAlarmTopicArn', { Value: { Ref: topicId } });
    template.hasOutput('SharedTrailLogGroupName', { Value: { Ref: logGroupId } });
  });
});
