import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AlarmTopic, DATABASE_AUTH_FAILURE_PATTERN, SecurityAlarms, TRAIL_FILTERS } from '../../../lib/constructs/security-alarms';
import { getAtt, logicalIdOf, testStack } from '../../helpers';

function build(options: { email?: string; trail?: boolean; database?: boolean }) {
  const stack = testStack();
  const key = new kms.Key(stack, 'AuditKey');
  const topic = new AlarmTopic(stack, 'SecurityAlarmTopic', {
    topicName: 'hipaa-fhir-security-alarms-dev',
    encryptionKey: key,
    email: options.email,
  });
  const trailLogGroup = options.trail ? new logs.LogGroup(stack, 'TrailLogs') : undefined;
  const databaseLogGroup = options.database ? new logs.LogGroup(stack, 'DatabaseLogs') : undefined;
  const alarms = new SecurityAlarms(stack, 'SecurityAlarms', {
    topic: topic.topic,
    namespace: 'hipaa-fhir/dev/Security',
    trailLogGroup,
    databaseLogGroup,
  });
  return { key, topic, alarms, trailLogGroup, databaseLogGroup, template: Template.fromStack(stack) };
}

describe('AlarmTopic', () => {
  const { key, topic, template } = build({ email: 'soc@example.org' });
  const quiet = build({});

  test('the topic is named and encrypted with the given key', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'hipaa-fhir-security-alarms-dev', KmsMasterKeyId: getAtt(key) });
  });

  test('TLS only: the policy denies any request without secure transport', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: logicalIdOf(topic.topic) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowPublishThroughSSLOnly',
            Effect: 'Deny',
            Principal: '*',
            Action: 'sns:Publish',
            Resource: { Ref: logicalIdOf(topic.topic) },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ]),
      },
    });
  });

  // Issue 8, defect 1: with only the enforceSSL Deny, CloudWatch alarms could not publish.
  test('CloudWatch alarms of this account, and nothing else, may publish', () => {
    const [policy] = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
    const allow = (policy.Properties.PolicyDocument.Statement as Array<{ Effect: string }>).filter((st) => st.Effect === 'Allow');
    expect(allow).toEqual([
      {
        Sid: 'AllowCloudWatchAlarmsToPublish',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: logicalIdOf(topic.topic) },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:aws:cloudwatch:eu-west-2:', { Ref: 'AWS::AccountId' }, ':alarm:*']] } },
        },
      },
    ]);
  });

  test('the configured e-mail subscribes; without one, nobody does', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'soc@example.org',
      TopicArn: { Ref: logicalIdOf(topic.topic) },
    });
    quiet.template.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('SecurityAlarms', () => {
  const all = build({ trail: true, database: true });
  const databaseOnly = build({ database: true });
  const none = build({});

  const patterns = (t: Template) =>
    Object.values(t.findResources('AWS::Logs::MetricFilter'))
      .map((r) => r.Properties.FilterPattern)
      .sort();

  test('trail patterns with a trail log group, the authentication-failure pattern with a database log group, nothing without either', () => {
    expect(patterns(all.template)).toEqual([...Object.values(TRAIL_FILTERS), DATABASE_AUTH_FAILURE_PATTERN].sort());
    expect(patterns(databaseOnly.template)).toEqual([DATABASE_AUTH_FAILURE_PATTERN]);
    none.template.resourceCountIs('AWS::Logs::MetricFilter', 0);
    none.template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    expect([all.alarms.alarms.length, databaseOnly.alarms.alarms.length, none.alarms.alarms.length]).toEqual([
      Object.keys(TRAIL_FILTERS).length + 1,
      1,
      0,
    ]);
  });

  test("each filter counts its matches as 1 in the environment's namespace, on its own log group", () => {
    for (const [name, pattern] of Object.entries(TRAIL_FILTERS)) {
      all.template.hasResourceProperties('AWS::Logs::MetricFilter', {
        FilterPattern: pattern,
        LogGroupName: { Ref: logicalIdOf(all.trailLogGroup!) },
        MetricTransformations: [{ MetricNamespace: 'hipaa-fhir/dev/Security', MetricName: name, MetricValue: '1', DefaultValue: 0 }],
      });
    }
    all.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: DATABASE_AUTH_FAILURE_PATTERN,
      LogGroupName: { Ref: logicalIdOf(all.databaseLogGroup!) },
      MetricTransformations: [
        { MetricNamespace: 'hipaa-fhir/dev/Security', MetricName: 'DatabaseAuthenticationFailures', MetricValue: '1', DefaultValue: 0 },
      ],
    });
  });

  test('every alarm fires on one occurrence in five minutes, treats no data as fine, and notifies the topic', () => {
    all.template.resourceCountIs('AWS::CloudWatch::Alarm', Object.keys(TRAIL_FILTERS).length + 1);
    all.template.allResourcesProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'hipaa-fhir/dev/Security',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: logicalIdOf(all.topic.topic) }],
    });
    for (const name of [...Object.keys(TRAIL_FILTERS), 'DatabaseAuthenticationFailures']) {
      all.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: name,
        AlarmDescription: `${name} in hipaa-fhir/dev/Security: investigate per the incident response procedure`,
      });
    }
  });
});
