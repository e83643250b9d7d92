import { Match } from 'aws-cdk-lib/assertions';
import { DATABASE_AUTH_FAILURE_PATTERN, TRAIL_FILTERS } from '../../../lib/constructs/security-alarms';
import { resourcesOf, synthStage } from '../../helpers';

describe('AuditStack', () => {
  const shared = synthStage({ environmentSuffix: 'aud', profile: 'development' }).templates.audit;
  const dedicated = synthStage({ environmentSuffix: 'aud', profile: 'production', alarmEmail: 'soc@example.org' }).templates.audit;

  test('shared trail mode creates no trail, so ephemeral stages do not count against the five-trail limit', () => {
    shared.resourceCountIs('AWS::CloudTrail::Trail', 0);
    shared.resourceCountIs('AWS::S3::Bucket', 0);
    shared.hasOutput('TrailName', { Value: 'hipaa-fhir-trail-shared' });
  });

  test('dedicated mode: one trail with validation, KMS, CloudWatch delivery, management and this stream\'s data events', () => {
    dedicated.resourceCountIs('AWS::CloudTrail::Trail', 1);
    dedicated.hasResourceProperties('AWS::CloudTrail::Trail', {
      TrailName: 'hipaa-fhir-trail-aud',
      EnableLogFileValidation: true,
      IncludeGlobalServiceEvents: true,
      KMSKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('AuditKey'), 'Arn'] },
      CloudWatchLogsLogGroupArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TrailLogs'), 'Arn'] },
      AdvancedEventSelectors: [
        { Name: 'Management events', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] },
        {
          Name: Match.anyValue(),
          FieldSelectors: [
            { Field: 'eventCategory', Equals: ['Data'] },
            { Field: 'resources.type', Equals: ['AWS::Kinesis::Stream'] },
            { Field: 'resources.ARN', Equals: [{ 'Fn::GetStackOutput': Match.objectLike({ StackName: 'hipaa-fhir-data-aud' }) }] },
          ],
        },
      ],
    });
    const trail = resourcesOf(dedicated).find(([, r]) => r.Type === 'AWS::CloudTrail::Trail')![1];
    expect(trail.Properties?.EventSelectors).toBeUndefined();
  });

  test('the trail bucket is KMS-encrypted, versioned, TLS-only, private and access-logged; production keeps it', () => {
    dedicated.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({
        BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AuditKey'), 'Arn'] } } })] },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LoggingConfiguration: Match.objectLike({ DestinationBucketName: { Ref: Match.stringLikeRegexp('AccessLogsBucket') } }),
      }),
      DeletionPolicy: 'Retain',
    });
    const policies = resourcesOf(dedicated).filter(([, r]) => r.Type === 'AWS::S3::BucketPolicy');
    expect(policies).toHaveLength(2);
    for (const [, policy] of policies) {
      expect(JSON.stringify(policy.Properties)).toContain('"aws:SecureTransport":"false"');
    }
  });

  test('the audit key admits CloudTrail only for this trail, and Logs only for the audit groups', () => {
    const key = resourcesOf(dedicated).find(([id, r]) => r.Type === 'AWS::KMS::Key' && id.startsWith('AuditKey'))![1];
    const statements = (key.Properties?.KeyPolicy as { Statement: Array<Record<string, unknown>> }).Statement;
    const trailStatement = statements.find((s) => s.Sid === 'AllowCloudTrailToEncryptLogFiles')!;
    expect(JSON.stringify(trailStatement.Condition)).toContain(':trail/hipaa-fhir-trail-aud');
    const logs = statements.find((s) => s.Sid === 'AllowCloudWatchLogsForNamedLogGroups')!;
    expect(JSON.stringify(logs.Condition)).toContain('log-group:/hipaa-fhir/aud/audit/application');
    expect(JSON.stringify(logs.Condition)).toContain('log-group:/hipaa-fhir/aud/audit/cloudtrail');
    const sharedKey = resourcesOf(shared).find(([id, r]) => r.Type === 'AWS::KMS::Key' && id.startsWith('AuditKey'))![1];
    expect(JSON.stringify(sharedKey.Properties?.KeyPolicy)).not.toContain('cloudtrail.amazonaws.com');
  });

  test('security alarms: trail patterns in dedicated mode, database authentication failures in both', () => {
    const patterns = (t: typeof shared) => resourcesOf(t).filter(([, r]) => r.Type === 'AWS::Logs::MetricFilter').map(([, r]) => r.Properties?.FilterPattern);
    expect(patterns(dedicated).sort()).toEqual([...Object.values(TRAIL_FILTERS), DATABASE_AUTH_FAILURE_PATTERN].sort());
    expect(patterns(shared)).toEqual([DATABASE_AUTH_FAILURE_PATTERN]);
    dedicated.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    dedicated.allResourcesProperties('AWS::CloudWatch::Alarm', {
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('SecurityAlarmTopic') }],
    });
    dedicated.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: DATABASE_AUTH_FAILURE_PATTERN,
      LogGroupName: { 'Fn::GetStackOutput': Match.objectLike({ StackName: 'hipaa-fhir-data-aud' }) },
      MetricTransformations: [Match.objectLike({ MetricNamespace: 'hipaa-fhir/aud/Security', MetricName: 'DatabaseAuthenticationFailures' })],
    });
  });

  test('the alarm topic is KMS-encrypted and TLS-only, with the configured subscriber', () => {
    dedicated.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: 'hipaa-fhir-security-alarms-aud',
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('AuditKey'), 'Arn'] },
    });
    dedicated.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    dedicated.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'soc@example.org' });
    shared.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  // Issue 8, defect 1: with only the enforceSSL Deny, CloudWatch alarms could not publish.
  test('CloudWatch alarms of this account may publish to the topic, and use its key', () => {
    for (const template of [shared, dedicated]) {
      const [, policy] = resourcesOf(template).find(([, r]) => r.Type === 'AWS::SNS::TopicPolicy')!;
      const statements = (policy.Properties!.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement;
      const allow = statements.filter((st) => st.Effect === 'Allow');
      expect(allow).toEqual([{
        Sid: 'AllowCloudWatchAlarmsToPublish',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: expect.stringMatching(/^SecurityAlarmTopic/) },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:aws:cloudwatch:eu-west-2:', { Ref: 'AWS::AccountId' }, ':alarm:*']] } },
        },
      }]);
      const [, key] = resourcesOf(template).find(([id, r]) => r.Type === 'AWS::KMS::Key' && id.startsWith('AuditKey'))!;
      const keyStatements = (key.Properties!.KeyPolicy as { Statement: Array<Record<string, unknown>> }).Statement;
      expect(keyStatements).toContainEqual(expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }));
    }
  });

  test('audit log groups are encrypted with the stack\'s audit key, with profile retention', () => {
    // The audit key by its logical id: the stack's only KMS key, the one the trail uses too.
    const auditKey = (t: typeof dedicated) => {
      const keys = resourcesOf(t).filter(([, r]) => r.Type === 'AWS::KMS::Key').map(([id]) => id);
      expect(keys).toEqual([expect.stringMatching(/^AuditKey/)]);
      return { 'Fn::GetAtt': [keys[0], 'Arn'] };
    };
    dedicated.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hipaa-fhir/aud/audit/application', RetentionInDays: 2192, KmsKeyId: auditKey(dedicated) });
    dedicated.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hipaa-fhir/aud/audit/cloudtrail', RetentionInDays: 2192, KmsKeyId: auditKey(dedicated) });
    shared.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hipaa-fhir/aud/audit/application', RetentionInDays: 7, KmsKeyId: auditKey(shared) });
    // No audit log group of either mode escapes the check.
    expect(resourcesOf(dedicated).filter(([, r]) => r.Type === 'AWS::Logs::LogGroup')).toHaveLength(2);
    expect(resourcesOf(shared).filter(([, r]) => r.Type === 'AWS::Logs::LogGroup')).toHaveLength(1);
  });
});
