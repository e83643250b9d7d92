import { CfnOutput } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { Naming, SHARED_SUFFIX } from '../config';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { EncryptionKey } from '../constructs/encryption-key';
import { removalPolicyFor } from '../constructs/removal';
import { AlarmTopic, SecurityAlarms } from '../constructs/security-alarms';
import { SecurityTrail } from '../constructs/security-trail';
import { EnvironmentStack, EnvironmentStackProps } from './environment-stack';

export interface AuditStackProps extends EnvironmentStackProps {
  readonly stream: kinesis.IStream;
  /** The PostgreSQL (and pgaudit) log group, watched for authentication failures. */
  readonly databaseLogGroup: logs.ILogGroup;
}

/**
 * Audit logging for one environment: the application audit log group, the security alarm topic
 * and alarms, and, in `dedicated` trail mode, a CloudTrail trail of its own. In `shared` mode
 * the account's SharedTrailStack records this environment's API and Kinesis data events.
 */
export class AuditStack extends EnvironmentStack {
  public readonly auditKey: EncryptionKey;
  public readonly appAuditLogGroup: EncryptedLogGroup;
  public readonly alarmTopic: AlarmTopic;
  public readonly trail?: SecurityTrail;

  constructor(scope: Construct, id: string, props: AuditStackProps) {
    super(scope, id, 'audit', 'Audit trail, audit log groups and security alarms', props);
    const { config } = props;
    const { naming } = config;
    const removal = removalPolicyFor(config);
    const dedicated = config.audit.trailMode === 'dedicated';
    const trailLogGroupName = naming.logGroupName('audit/cloudtrail');
    const appAuditLogGroupName = naming.logGroupName('audit/application');

    this.auditKey = new EncryptionKey(this, 'AuditKey', {
      alias: naming.kmsAlias('audit'),
      description: `Audit logs, CloudTrail files and security alarms of ${config.environmentSuffix}`,
      removalPolicy: removal,
      pendingWindowDays: config.keyPendingWindowDays,
      logGroupNamePatterns: dedicated ? [appAuditLogGroupName, trailLogGroupName] : [appAuditLogGroupName],
      cloudTrailName: dedicated ? naming.trailName : undefined,
      allowCloudWatchAlarms: true,
    });

    this.appAuditLogGroup = new EncryptedLogGroup(this, 'ApplicationAuditLogs', {
      logGroupName: appAuditLogGroupName,
      encryptionKey: this.auditKey.key,
      retentionDays: config.logRetentionDays,
      removalPolicy: removal,
    });

    this.alarmTopic = new AlarmTopic(this, 'SecurityAlarmTopic', {
      topicName: naming.topicName('security-alarms'),
      encryptionKey: this.auditKey.key,
      email: config.audit.alarmEmail,
    });

    let trailLogGroup: EncryptedLogGroup | undefined;
    if (dedicated) {
      trailLogGroup = new EncryptedLogGroup(this, 'TrailLogs', {
        logGroupName: trailLogGroupName,
        encryptionKey: this.auditKey.key,
        retentionDays: config.logRetentionDays,
        removalPolicy: removal,
      });
      this.trail = new SecurityTrail(this, 'Trail', {
        trailName: naming.trailName,
        encryptionKey: this.auditKey.key,
        logGroup: trailLogGroup.logGroup,
        streams: { kind: 'arns', arns: [props.stream.streamArn] },
        retentionDays: config.logRetentionDays,
        removalPolicy: removal,
      });
    }

    new SecurityAlarms(this, 'SecurityAlarms', {
      topic: this.alarmTopic.topic,
      namespace: `${config.project}/${config.environmentSuffix}/Security`,
      trailLogGroup: trailLogGroup?.logGroup,
      databaseLogGroup: props.databaseLogGroup,
    });

    new CfnOutput(this, 'AuditKeyArn', { value: this.auditKey.key.keyArn });
    new CfnOutput(this, 'ApplicationAuditLogGroupName', { value: this.appAuditLogGroup.logGroup.logGroupName });
    new CfnOutput(this, 'SecurityAlarmTopicArn', { value: this.alarmTopic.topic.topicArn });
    new CfnOutput(this, 'TrailMode', { value: config.audit.trailMode });
    new CfnOutput(this, 'TrailName', {
      value: dedicated ? naming.trailName : new Naming(config.project, SHARED_SUFFIX).trailName,
      description: dedicated ? 'Trail of this environment' : 'Shared trail that records this environment',
    });
  }
}

