import { Match, Template } from 'aws-cdk-lib/assertions';
import { ToolingNames } from '../../../lib/contract';
import { DATABASE_AUTH_FAILURE_PATTERN, TRAIL_FILTERS } from '../../../lib/constructs/security-alarms';
import { EncryptedLogGroup } from '../../../lib/constructs/encrypted-log-group';
import { getAtt, logicalIdOf, logsKeyStatement, synthStage } from '../../helpers';

const inAccount = (prefix: string, suffix: string) => ({ 'Fn::Join': ['', [prefix, { Ref: 'AWS::AccountId' }, suffix]] });
/** A weak reference to an output of the data stack (Fn::GetStackOutput). */
const fromData = (suffix: string) => ({ 'Fn::GetStackOutput': Match.objectLike({ StackName: `hipaa-fhir-data-${suffix}` }) });

describe('AuditStack', () => {
  const sharedStage = synthStage({ environmentSuffix: 'aud', profile: 'development' });
  const dedicatedStage = synthStage({ environmentSuffix: 'aud', profile: 'production', alarmEmail: 'soc@example.org' });
  const shared = sharedStage.templates.audit;
  const dedicated = dedicatedStage.templates.audit;
  const { naming } = dedicatedStage.stage.config;
  const auditKey = (stage: typeof sharedStage) => getAtt(stage.stage.audit.auditKey.key);
  const trailLogGroup = (dedicatedStage.stage.audit.node.findChild('TrailLogs') as EncryptedLogGroup).logGroup;

  test('shared trail mode creates no trail, so ephemeral stages do not count against the five-trail limit', () => {
    expect([sharedStage.stage.config.audit.trailMode, dedicatedStage.stage.config.audit.trailMode]).toEqual(['shared', 'dedicated']);
    shared.resourceCountIs('AWS::CloudTrail::Trail', 0);
    // The audit archive (chain heads) and its access-log bucket only.
    shared.resourceCountIs('AWS::S3::Bucket', 2);
    shared.hasOutput('TrailMode', { Value: 'shared' });
    shared.hasOutput('TrailName', { Value: new ToolingNames('hipaa-fhir').sharedTrailNaming.trailName });
    shared.hasOutput('TrailName', { Value: 'hipaa-fhir-trail-shared' });
  });

  test("dedicated mode: one trail of its own, on the audit key and trail log group, recording this environment's stream", () => {
    dedicated.resourceCountIs('AWS::CloudTrail::Trail', 1);
    dedicated.hasResourceProperties('AWS::CloudTrail::Trail', {
      TrailName: naming.trailName,
      EnableLogFileValidation: true,
      IncludeGlobalServiceEvents: true,
      KMSKeyId: auditKey(dedicatedStage),
      CloudWatchLogsLogGroupArn: getAtt(trailLogGroup),
      AdvancedEventSelectors: [
        { Name: 'Management events', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] },
        {
          Name: 'Kinesis data events for patient-record streams',
          FieldSelectors: [
            { Field: 'eventCategory', Equals: ['Data'] },
            { Field: 'resources.type', Equals: ['AWS::Kinesis::Stream'] },
            { Field: 'resources.ARN', Equals: [fromData('aud')] },
          ],
        },
      ],
      EventSelectors: Match.absent(),
    });
    expect(naming.trailName).toBe('hipaa-fhir-trail-aud');
    dedicated.hasOutput('TrailName', { Value: 'hipaa-fhir-trail-aud', Description: 'Trail of this environment' });
  });

  test('the trail bucket is encrypted with the audit key; production keeps both buckets', () => {
    dedicated.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: auditKey(dedicatedStage) } }),
        ],
      },
    });
    dedicated.resourceCountIs('AWS::S3::Bucket', 4);
    dedicated.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    // Log files are kept as long as the profile keeps logs.
    dedicated.resourcePropertiesCountIs(
      'AWS::S3::Bucket',
      { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 2192 })] } },
      4,
    );
  });

  test('production: a multi-region trail, and the trail bucket and audit archive Object-Locked in compliance mode for six years', () => {
    expect(dedicatedStage.stage.config.profile).toBe('production');
    dedicated.hasResourceProperties('AWS::CloudTrail::Trail', { IsMultiRegionTrail: true });
    const lock = { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2192 } } };
    dedicated.resourcePropertiesCountIs('AWS::S3::Bucket', { ObjectLockEnabled: true, ObjectLockConfiguration: lock }, 2);
    for (const bucket of [dedicatedStage.stage.audit.trail!.bucket, dedicatedStage.stage.audit.archive.bucket]) {
      expect(dedicated.toJSON().Resources[logicalIdOf(bucket)].Properties.ObjectLockConfiguration).toEqual(lock);
    }
    dedicated.hasOutput('AuditArchiveBucketName', { Value: { Ref: logicalIdOf(dedicatedStage.stage.audit.archive.bucket) } });
    // Development is destroyed with its stage: nothing is locked.
    shared.resourcePropertiesCountIs('AWS::S3::Bucket', { ObjectLockEnabled: Match.anyValue() }, 0);
  });

  test('the audit key admits CloudTrail only for this trail, and Logs only for the audit groups', () => {
    const trailArn = inAccount('arn:aws:cloudtrail:eu-west-2:', ':trail/hipaa-fhir-trail-aud');
    dedicated.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          logsKeyStatement([
            inAccount('arn:aws:logs:eu-west-2:', ':log-group:/hipaa-fhir/aud/audit/application'),
            inAccount('arn:aws:logs:eu-west-2:', ':log-group:/hipaa-fhir/aud/audit/cloudtrail'),
          ]),
          Match.objectLike({
            Sid: 'AllowCloudTrailToEncryptLogFiles',
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceArn': trailArn } }),
          }),
          Match.objectLike({ Sid: 'AllowCloudTrailToDescribeKey', Condition: { StringEquals: { 'aws:SourceArn': trailArn } } }),
        ]),
      },
    });
    shared.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          logsKeyStatement([inAccount('arn:aws:logs:eu-west-2:', ':log-group:/hipaa-fhir/aud/audit/application')]),
        ]),
      },
    });
    // In shared mode no trail may use the key.
    shared.resourcePropertiesCountIs(
      'AWS::KMS::Key',
      { KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudtrail.amazonaws.com' } })]) } },
      0,
    );
  });

  test('security alarms: trail patterns in dedicated mode, database authentication failures in both', () => {
    const patterns = (t: Template) =>
      Object.values(t.findResources('AWS::Logs::MetricFilter'))
        .map((r) => r.Properties.FilterPattern)
        .sort();
    expect(patterns(dedicated)).toEqual([...Object.values(TRAIL_FILTERS), DATABASE_AUTH_FAILURE_PATTERN].sort());
    expect(patterns(shared)).toEqual([DATABASE_AUTH_FAILURE_PATTERN]);
    expect([sharedStage.stage.audit.securityAlarms.length, dedicatedStage.stage.audit.securityAlarms.length]).toEqual([
      1,
      Object.keys(TRAIL_FILTERS).length + 1,
    ]);
    dedicated.resourceCountIs('AWS::CloudWatch::Alarm', Object.keys(TRAIL_FILTERS).length + 1);
    dedicated.allResourcesProperties('AWS::CloudWatch::Alarm', {
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: logicalIdOf(dedicatedStage.stage.audit.alarmTopic) }],
    });
    // The database alarm watches the data stack's PostgreSQL log; the trail alarms the trail's own group.
    dedicated.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: DATABASE_AUTH_FAILURE_PATTERN,
      LogGroupName: fromData('aud'),
      MetricTransformations: [
        Match.objectLike({ MetricNamespace: 'hipaa-fhir/aud/Security', MetricName: 'DatabaseAuthenticationFailures' }),
      ],
    });
    dedicated.resourcePropertiesCountIs(
      'AWS::Logs::MetricFilter',
      { LogGroupName: { Ref: logicalIdOf(trailLogGroup) } },
      Object.keys(TRAIL_FILTERS).length,
    );
  });

  test('the alarm topic is named for the environment, encrypted with the audit key, with the configured subscriber', () => {
    dedicated.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: naming.topicName('security-alarms'),
      KmsMasterKeyId: auditKey(dedicatedStage),
    });
    expect(naming.topicName('security-alarms')).toBe('hipaa-fhir-security-alarms-aud');
    dedicated.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'soc@example.org' });
    shared.resourceCountIs('AWS::SNS::Subscription', 0);
    dedicated.hasOutput('SecurityAlarmTopicArn', { Value: { Ref: logicalIdOf(dedicatedStage.stage.audit.alarmTopic) } });
  });

  // Issue 8, defect 1: with only the enforceSSL Deny, CloudWatch alarms could not publish.
  test('CloudWatch alarms of this account may publish to the topic, and use its key', () => {
    for (const stage of [sharedStage, dedicatedStage]) {
      const template = stage.templates.audit;
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: logicalIdOf(stage.stage.audit.alarmTopic) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Sid: 'AllowCloudWatchAlarmsToPublish',
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
            }),
          ]),
        },
      });
      template.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: {
          Statement: Match.arrayWith([
            {
              Sid: 'AllowCloudWatchAlarmsToPublishEncrypted',
              Effect: 'Allow',
              Resource: '*',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
            },
          ]),
        },
      });
    }
  });

  test("audit log groups are encrypted with the stack's audit key, with profile retention", () => {
    // The audit key: the stack's only KMS key, the one the trail uses too.
    for (const stage of [sharedStage, dedicatedStage]) stage.templates.audit.resourceCountIs('AWS::KMS::Key', 1);
    dedicated.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/hipaa-fhir/aud/audit/application',
      RetentionInDays: 2192,
      KmsKeyId: auditKey(dedicatedStage),
    });
    dedicated.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/hipaa-fhir/aud/audit/cloudtrail',
      RetentionInDays: 2192,
      KmsKeyId: auditKey(dedicatedStage),
    });
    shared.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/hipaa-fhir/aud/audit/application',
      RetentionInDays: 7,
      KmsKeyId: auditKey(sharedStage),
    });
    // No audit log group of either mode escapes the check.
    dedicated.resourceCountIs('AWS::Logs::LogGroup', 2);
    shared.resourceCountIs('AWS::Logs::LogGroup', 1);
    dedicated.hasOutput('ApplicationAuditLogGroupName', {
      Value: { Ref: logicalIdOf(dedicatedStage.stage.audit.appAuditLogGroup.logGroup) },
    });
    dedicated.hasOutput('AuditKeyArn', { Value: auditKey(dedicatedStage) });
  });
});
