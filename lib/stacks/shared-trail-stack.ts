import { CfnOutput, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Naming } from '../contract';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { EncryptionKey } from '../constructs/encryption-key';
import { AlarmTopic, SecurityAlarms } from '../constructs/security-alarms';
import { SecurityTrail } from '../constructs/security-trail';

export interface SharedTrailStackProps extends StackProps {
  /** Naming with the SHARED_SUFFIX. */
  readonly naming: Naming;
  /** @default 365 */
  readonly retentionDays?: number;
  /** @default - no e-mail subscription */
  readonly alarmEmail?: string;
}

/**
 * The one trail per account and region that records management events and the Kinesis data
 * events of every stream of the project (selected by stream-name prefix). Environments in
 * `shared` trail mode rely on it, so any number of them fit within CloudTrail's hard limit of
 * five trails per region. Deploy it once per account and region; it is not part of a stage and
 * keeps its audit records when deleted.
 */
export class SharedTrailStack extends Stack {
  public readonly trail: SecurityTrail;

  constructor(scope: Construct, id: string, props: SharedTrailStackProps) {
    const { naming } = props;
    super(scope, id, {
      ...props,
      stackName: naming.stackName('audit'),
      description: `Shared CloudTrail trail for every ${naming.project} environment in shared trail mode`,
      terminationProtection: true,
      tags: { Project: naming.project, Compliance: 'HIPAA', Component: 'shared-trail', ...props.tags },
    });
    const retentionDays = props.retentionDays ?? 365;
    const trailLogGroupName = naming.logGroupNames.trail;

    const key = new EncryptionKey(this, 'SharedAuditKey', {
      alias: naming.kmsAlias('audit'),
      description: `Shared trail and security alarms of ${naming.project}`,
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindowDays: 30,
      logGroupNamePatterns: [trailLogGroupName],
      cloudTrailName: naming.trailName,
      allowCloudWatchAlarms: true,
    });
    const logGroup = new EncryptedLogGroup(this, 'TrailLogs', {
      logGroupName: trailLogGroupName,
      encryptionKey: key.key,
      retentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.trail = new SecurityTrail(this, 'Trail', {
      trailName: naming.trailName,
      encryptionKey: key.key,
      logGroup: logGroup.logGroup,
      streams: {
        kind: 'arnPrefix',
        prefix: `arn:${this.partition}:kinesis:${this.region}:${this.account}:stream/${Naming.streamNamePrefix(naming.project)}`,
      },
      retentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
      // The account's one trail: every region's management events, so calls made elsewhere are seen too.
      multiRegion: true,
    });
    const topic = new AlarmTopic(this, 'SecurityAlarmTopic', {
      topicName: naming.topicName('security-alarms'),
      encryptionKey: key.key,
      email: props.alarmEmail,
    });
    new SecurityAlarms(this, 'SecurityAlarms', {
      topic: topic.topic,
      namespace: `${naming.project}/${naming.suffix}/Security`,
      trailLogGroup: logGroup.logGroup,
    });

    new CfnOutput(this, 'SharedTrailName', { value: naming.trailName });
    new CfnOutput(this, 'SharedTrailLogGroupName', { value: logGroup.logGroup.logGroupName });
    new CfnOutput(this, 'SharedSecurityAlarmTopicArn', { value: topic.topic.topicArn });
  }
}
