import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/**
 * CloudTrail patterns for security-relevant events. The CIS AWS Foundations Benchmark ones are its own
 * filter patterns (Security Hub CloudWatch.1-14: https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html):
 * CloudWatch.4 (IAM policy changes), CloudWatch.5 (CloudTrail configuration changes, which include
 * StopLogging, UpdateTrail and DeleteTrail), CloudWatch.10 (security group changes). The snapshot-sharing and
 * backup-vault patterns follow the same form for the events an attacker uses to copy or delete recovery points.
 */
export const TRAIL_FILTERS = {
  UnauthorizedApiCalls: '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
  KmsKeyDisabledOrScheduledForDeletion:
    '{ ($.eventSource = "kms.amazonaws.com") && (($.eventName = "DisableKey") || ($.eventName = "ScheduleKeyDeletion")) }',
  SecretAccessFailures: '{ ($.eventSource = "secretsmanager.amazonaws.com") && ($.errorCode = "*") }',
  IamPolicyChanges:
    '{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=DeleteUserPolicy)||($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.eventName=PutUserPolicy)||($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.eventName=CreatePolicyVersion)||($.eventName=DeletePolicyVersion)||($.eventName=AttachRolePolicy)||($.eventName=DetachRolePolicy)||($.eventName=AttachUserPolicy)||($.eventName=DetachUserPolicy)||($.eventName=AttachGroupPolicy)||($.eventName=DetachGroupPolicy)}',
  CloudTrailConfigurationChanges:
    '{($.eventName=CreateTrail)||($.eventName=UpdateTrail)||($.eventName=DeleteTrail)||($.eventName=StartLogging)||($.eventName=StopLogging)}',
  SecurityGroupChanges:
    '{($.eventName=AuthorizeSecurityGroupIngress)||($.eventName=AuthorizeSecurityGroupEgress)||($.eventName=RevokeSecurityGroupIngress)||($.eventName=RevokeSecurityGroupEgress)||($.eventName=CreateSecurityGroup)||($.eventName=DeleteSecurityGroup)}',
  SnapshotSharing:
    '{(($.eventSource="rds.amazonaws.com")&&(($.eventName=ModifyDBSnapshotAttribute)||($.eventName=ModifyDBClusterSnapshotAttribute)))||(($.eventSource="ec2.amazonaws.com")&&($.eventName=ModifySnapshotAttribute))}',
  BackupVaultChanges:
    '{($.eventSource="backup.amazonaws.com")&&(($.eventName=PutBackupVaultAccessPolicy)||($.eventName=DeleteBackupVaultAccessPolicy)||($.eventName=PutBackupVaultLockConfiguration)||($.eventName=DeleteBackupVaultLockConfiguration)||($.eventName=DeleteBackupVault)||($.eventName=DeleteRecoveryPoint)||($.eventName=UpdateRecoveryPointLifecycle))}',
} as const;

/** PostgreSQL log lines for failed password, IAM (PAM) and pg_hba authentication. */
export const DATABASE_AUTH_FAILURE_PATTERN = '?"password authentication failed" ?"PAM authentication failed" ?"no pg_hba.conf entry"';

export interface AlarmTopicProps {
  readonly topicName: string;
  /** Its policy must let CloudWatch alarms use it (EncryptionKey.allowCloudWatchAlarms). */
  readonly encryptionKey: kms.IKey;
  /** @default - no subscription; subscribe your incident tooling to the topic */
  readonly email?: string;
}

/** The KMS-encrypted SNS topic security alarms notify; its policy denies publishing without TLS. */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: props.topicName,
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    // enforceSSL leaves the topic policy with its one Deny (insecure transport): without this Allow,
    // CloudWatch alarms in this account cannot publish. The key policy must allow CloudWatch as well
    // (EncryptionKey.allowCloudWatchAlarms).
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    const { account, region, partition } = Stack.of(this);
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
        },
      }),
    );
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
  }
}

export interface SecurityAlarmsProps {
  readonly topic: sns.ITopic;
  /** Custom metric namespace, unique per environment. */
  readonly namespace: string;
  /** CloudTrail log group; adds the TRAIL_FILTERS alarms. @default - no trail alarms */
  readonly trailLogGroup?: logs.ILogGroup;
  /** PostgreSQL log group; adds the authentication-failure alarm. @default - no database alarm */
  readonly databaseLogGroup?: logs.ILogGroup;
}

/** Metric filters and alarms that notify the topic on any occurrence within five minutes. */
export class SecurityAlarms extends Construct {
  public readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: SecurityAlarmsProps) {
    super(scope, id);
    if (props.trailLogGroup) {
      for (const [name, pattern] of Object.entries(TRAIL_FILTERS)) {
        this.addAlarm(name, props.trailLogGroup, logs.FilterPattern.literal(pattern), props);
      }
    }
    if (props.databaseLogGroup) {
      this.addAlarm(
        'DatabaseAuthenticationFailures',
        props.databaseLogGroup,
        logs.FilterPattern.literal(DATABASE_AUTH_FAILURE_PATTERN),
        props,
      );
    }
  }

  private addAlarm(name: string, logGroup: logs.ILogGroup, filterPattern: logs.IFilterPattern, props: SecurityAlarmsProps): void {
    const filter = new logs.MetricFilter(this, `${name}Filter`, {
      logGroup,
      filterPattern,
      metricNamespace: props.namespace,
      metricName: name,
      metricValue: '1',
      defaultValue: 0,
    });
    const alarm = new cloudwatch.Alarm(this, `${name}Alarm`, {
      alarmDescription: `${name} in ${props.namespace}: investigate per the incident response procedure`,
      metric: filter.metric({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new actions.SnsAction(props.topic));
    this.alarms.push(alarm);
  }
}
