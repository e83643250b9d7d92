import { Match, Template } from 'aws-cdk-lib/assertions';
import { Naming, SHARED_SUFFIX } from '../../../lib/contract';
import { SharedTrailStack } from '../../../lib/stacks/shared-trail-stack';
import { resourcesOf, testApp } from '../../helpers';

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
      AdvancedEventSelectors: Match.arrayWith([
        Match.objectLike({
          FieldSelectors: Match.arrayWith([
            { Field: 'resources.ARN', StartsWith: ['arn:aws:kinesis:eu-west-2:123456789012:stream/hipaa-fhir-records-'] },
          ]),
        }),
      ]),
    });
  });

  test('the stream prefix matches the stream name of any environment', () => {
    expect(new Naming('hipaa-fhir', 'abc-123').streamName.startsWith(Naming.streamNamePrefix('hipaa-fhir'))).toBe(true);
  });

  test('audit records outlive the stack: bucket, log group and key are retained, and it is termination-protected', () => {
    expect(stack.terminationProtection).toBe(true);
    for (const [, r] of resourcesOf(template).filter(([, r]) => ['AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::KMS::Key'].includes(r.Type))) {
      expect(r.DeletionPolicy).toBe('Retain');
    }
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hipaa-fhir/shared/audit/cloudtrail', RetentionInDays: 365 });
  });

  test('account-wide security alarms watch the shared trail', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'soc@example.org' });
  });
});
