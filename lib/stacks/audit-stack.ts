import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ToolingNames } from '../contract';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { EncryptionKey } from '../constructs/encryption-key';
import { strengthenReplaceableReferences } from '../constructs/reference-strength';
import { lifecycleOf } from '../constructs/removal';
import { AuditArchive } from '../constructs/audit-archive';
import { AlarmTopic, SecurityAlarms } from '../constructs/security-alarms';
import { SecurityTrail } from '../constructs/security-trail';
import type { DataResources } from './data-stack';
import { EnvironmentStack, EnvironmentStackProps } from './environment-stack';

/** What the audit layer gives the layers above it. */
export interface AuditResources {
  /** The encrypted topic every alarm of the environment notifies (publishing without TLS is denied). */
  readonly alarmTopic: sns.ITopic;
  /** The environment's security alarms (database authentication failures; trail alarms in dedicated mode). */
  readonly securityAlarms: readonly cloudwatch.IAlarm[];
  /** Where the audit chain heads are exported (Object-Locked in production). */
  readonly auditArchive: s3.IBucket;
}

export interface AuditStackProps extends EnvironmentStackProps {
  /** The stream (its data events are recorded) and the PostgreSQL log (watched for authentication failures). */
  readonly data: Pick<DataResources, 'stream' | 'databaseLogGroup'>;
}

/**
 * Audit logging for one environment: the application audit log group, the security alarm topic
 * and alarms, and, in `dedicated` trail mode, a CloudTrail trail of its own. In `shared` mode
 * the account's SharedTrailStack records this environment's API and Kinesis data events.
 */
export class AuditStack extends EnvironmentStack<'audit'> implements AuditResources {
  public readonly auditKey: EncryptionKey;
  public readonly appAuditLogGroup: EncryptedLogGroup;
  public readonly securityAlarmTopic: AlarmTopic;
  public readonly alarmTopic: sns.ITopic;
  public readonly securityAlarms: readonly cloudwatch.IAlarm[];
  public readonly trail?: SecurityTrail;
  public readonly archive: AuditArchive;
  public readonly auditArchive: s3.IBucket;

  constructor(scope: Construct, id: string, props: AuditStackProps) {
    super(scope, id, 'audit', props);
    const { config } = props;
    const { naming } = config;
    const lifecycle = lifecycleOf(config);
    const dedicated = config.audit.trailMode === 'dedicated';
    const { trail: trailLogGroupName, applicationAudit: appAuditLogGroupName } = naming.logGroupNames;

    this.auditKey = new EncryptionKey(this, 'AuditKey', {
      alias: naming.kmsAlias('audit'),
      ...lifecycle.keys,
      description: `Audit logs, CloudTrail files and security alarms of ${config.environmentSuffix}`,
      logGroupNamePatterns: dedicated ? [appAuditLogGroupName, trailLogGroupName] : [appAuditLogGroupName],
      cloudTrailName: dedicated ? naming.trailName : undefined,
      allowCloudWatchAlarms: true,
    });

    this.appAuditLogGroup = new EncryptedLogGroup(this, 'ApplicationAuditLogs', {
      ...lifecycle.logs,
      logGroupName: appAuditLogGroupName,
      encryptionKey: this.auditKey.key,
    });

    this.securityAlarmTopic = new AlarmTopic(this, 'SecurityAlarmTopic', {
      topicName: naming.topicName('security-alarms'),
      encryptionKey: this.auditKey.key,
      email: config.audit.alarmEmail,
    });
    this.alarmTopic = this.securityAlarmTopic.topic;

    let trailLogGroup: EncryptedLogGroup | undefined;
    if (dedicated) {
      trailLogGroup = new EncryptedLogGroup(this, 'TrailLogs', {
        ...lifecycle.logs,
        logGroupName: trailLogGroupName,
        encryptionKey: this.auditKey.key,
      });
      this.trail = new SecurityTrail(this, 'Trail', {
        trailName: naming.trailName,
        encryptionKey: this.auditKey.key,
        logGroup: trailLogGroup.logGroup,
        streams: { kind: 'arns', arns: [props.data.stream.streamArn] },
        ...lifecycle.logs,
        // Production records every region's management events: an attacker's calls elsewhere are seen too.
        multiRegion: config.profile === 'production',
        objectLockDays: config.audit.lockDays || undefined,
      });
    }

    this.archive = new AuditArchive(this, 'AuditArchive', {
      ...lifecycle.logs,
      bucketName: naming.auditArchiveBucketName(this.account),
      encryptionKey: this.auditKey.key,
      objectLockDays: config.audit.lockDays || undefined,
    });
    this.auditArchive = this.archive.bucket;

    this.securityAlarms = new SecurityAlarms(this, 'SecurityAlarms', {
      topic: this.alarmTopic,
      namespace: `${config.project}/${config.environmentSuffix}/Security`,
      trailLogGroup: trailLogGroup?.logGroup,
      databaseLogGroup: props.data.databaseLogGroup,
    }).alarms;

    // The compute stack's roles name the audit key (the archive's): a replaced key must not go stale there.
    strengthenReplaceableReferences(this);

    this.output('AuditKeyArn', this.auditKey.key.keyArn);
    this.output('ApplicationAuditLogGroupName', this.appAuditLogGroup.logGroup.logGroupName);
    this.output('SecurityAlarmTopicArn', this.alarmTopic.topicArn);
    this.output('TrailMode', config.audit.trailMode);
    this.output('AuditArchiveBucketName', this.archive.bucket.bucketName, 'Object-Locked archive of the audit chain heads');
    this.output(
      'TrailName',
      dedicated ? naming.trailName : new ToolingNames(config.project).sharedTrailNaming.trailName,
      dedicated ? 'Trail of this environment' : 'Shared trail that records this environment',
    );
  }
}
