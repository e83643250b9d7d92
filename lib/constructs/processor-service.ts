import * as path from 'path';
import { Duration, IgnoreMode, RemovalPolicy } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';
import { EncryptedLogGroup } from './encrypted-log-group';

/** The repository root: the processor image's build context (see lib/processor/Dockerfile). */
const REPO_ROOT = path.join(__dirname, '..', '..');

/** The performance log group Container Insights writes for a cluster (its name is fixed by ECS). */
export function containerInsightsLogGroupName(clusterName: string): string {
  return `/aws/ecs/containerinsights/${clusterName}/performance`;
}

/** Namespace of the processor's Embedded Metric Format metrics. */
export const PROCESSOR_METRICS_NAMESPACE = 'HipaaFhir/Processor';

export interface ProcessorServiceProps {
  readonly vpc: ec2.IVpc;
  readonly subnetGroupName: string;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly clusterName: string;
  /** Task definition family; named so a test step can be allowed to run exactly this task. */
  readonly family: string;
  /** Task and execution role names; named so iam:PassRole can be granted for exactly these. */
  readonly taskRoleName: string;
  readonly executionRoleName: string;
  readonly stream: kinesis.IStream;
  readonly database: { readonly host: string; readonly port: string; readonly name: string };
  /**
   * The database instance; the task role may `rds-db:connect` as exactly `processorUser` on it.
   * The processor never sees the master secret (migrations run as a separate task, DatabaseMigration).
   */
  readonly databaseInstance: rds.IDatabaseInstance;
  /** The processor's own database login (created by migration 10), used through IAM authentication. */
  readonly processorUser: string;
  readonly logGroupName: string;
  /** Encrypts the processor and Container Insights log groups; its policy must admit both names. */
  readonly logKey: kms.IKey;
  readonly logRetentionDays: number;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly minTasks: number;
  readonly maxTasks: number;
  readonly alarmTopic: sns.ITopic;
  /**
   * The container image. @default - built from lib/processor/Dockerfile (the pipeline's Assets stage builds it)
   */
  readonly image?: ecs.ContainerImage;
}

/**
 * The processor on ECS Fargate: isolated subnets, read-only root filesystem, non-root user,
 * credentials as ECS secrets, least-privilege grants, a deployment circuit breaker with
 * rollback, scaling on iterator age bounded by the shard count, and alarms to the audit topic.
 */
export class ProcessorService extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly service: ecs.FargateService;
  public readonly logGroup: logs.LogGroup;
  public readonly containerInsightsLogGroup: logs.LogGroup;
  public readonly alarms: cloudwatch.Alarm[] = [];
  /** The image, shared with the migration task. */
  public readonly image: ecs.ContainerImage;

  constructor(scope: Construct, id: string, props: ProcessorServiceProps) {
    super(scope, id);

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      clusterName: props.clusterName,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    // Container Insights writes to this fixed group; created first, it is CMK-encrypted, expires with
    // the profile and goes with the stack, instead of being created unencrypted and kept forever.
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-view-metrics.html
    this.containerInsightsLogGroup = new EncryptedLogGroup(this, 'ContainerInsightsLogs', {
      logGroupName: containerInsightsLogGroupName(props.clusterName),
      encryptionKey: props.logKey,
      retentionDays: props.logRetentionDays,
      removalPolicy: props.logRemovalPolicy,
    }).logGroup;
    this.cluster.node.addDependency(this.containerInsightsLogGroup);

    this.logGroup = new EncryptedLogGroup(this, 'Logs', {
      logGroupName: props.logGroupName,
      encryptionKey: props.logKey,
      retentionDays: props.logRetentionDays,
      removalPolicy: props.logRemovalPolicy,
    }).logGroup;

    const assumedBy = new iam.ServicePrincipal('ecs-tasks.amazonaws.com');
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      family: props.family,
      taskRole: new iam.Role(this, 'TaskRole', { roleName: props.taskRoleName, assumedBy, description: 'Processor task: read the stream' }),
      executionRole: new iam.Role(this, 'ExecutionRole', { roleName: props.executionRoleName, assumedBy, description: 'Processor task execution: image and logs' }),
      cpu: props.cpu,
      memoryLimitMiB: props.memoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });

    const image = this.image = props.image ?? ecs.ContainerImage.fromAsset(REPO_ROOT, {
      file: 'lib/processor/Dockerfile',
      platform: ecrAssets.Platform.LINUX_AMD64,
      ignoreMode: IgnoreMode.DOCKER,
      // Only what the image build reads: the asset hash changes only when the processor does.
      exclude: ['*', '!package.json', '!package-lock.json', '!tsconfig.json', '!lib', 'lib/*', '!lib/processor'],
    });

    this.taskDefinition.addContainer('processor', {
      image,
      essential: true,
      readonlyRootFilesystem: true,
      user: '1000',
      stopTimeout: Duration.seconds(120),
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'processor', mode: ecs.AwsLogDriverMode.NON_BLOCKING }),
      environment: {
        STREAM_NAME: props.stream.streamName,
        AWS_REGION: props.stream.stack.region,
        DB_HOST: props.database.host,
        DB_PORT: props.database.port,
        DB_NAME: props.database.name,
        DB_SSL_MODE: 'verify-full',
        // Its own login through IAM authentication: no password exists for it, and no secret is injected.
        DB_USER: props.processorUser,
        DB_IAM_AUTH: 'true',
        // Migrations need the master user; the DatabaseMigration task applies them before this service.
        DB_MIGRATE_ON_START: 'false',
        AWS_EMF_ENVIRONMENT: 'Local',
        METRICS_NAMESPACE: PROCESSOR_METRICS_NAMESPACE,
      },
      healthCheck: {
        command: ['CMD', 'node', 'dist/health.js'],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        startPeriod: Duration.seconds(60),
        retries: 3,
      },
    });
    props.stream.grantRead(this.taskDefinition.taskRole);
    // rds-db:connect on arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<processorUser> only.
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html
    props.databaseInstance.grantConnect(this.taskDefinition.taskRole, props.processorUser);

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: props.minTasks,
      assignPublicIp: false,
      vpcSubnets: { subnetGroupName: props.subnetGroupName },
      securityGroups: [props.securityGroup],
      circuitBreaker: { enable: true, rollback: true },
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      platformVersion: ecs.FargatePlatformVersion.LATEST,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      enableExecuteCommand: false,
    });

    const iteratorAge = props.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) });
    if (props.maxTasks > props.minTasks) {
      const scaling = this.service.autoScaleTaskCount({ minCapacity: props.minTasks, maxCapacity: props.maxTasks });
      scaling.scaleOnMetric('ScaleOnIteratorAge', {
        metric: iteratorAge,
        adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        scalingSteps: [
          { upper: 10_000, change: -1 },
          { lower: 60_000, change: +1 },
          { lower: 300_000, change: +2 },
        ],
        cooldown: Duration.minutes(3),
      });
    }

    const serviceDimensions = { ClusterName: this.cluster.clusterName, ServiceName: this.service.serviceName };
    this.addAlarm('IteratorAgeHigh', {
      metric: iteratorAge,
      threshold: 300_000,
      evaluationPeriods: 5,
      alarmDescription: 'Records wait more than 5 minutes in the stream: the processor is behind or stopped',
    }, props.alarmTopic);
    this.addAlarm('QuarantineRateHigh', {
      metric: new cloudwatch.MathExpression({
        expression: 'IF(processed > 0, 100 * quarantined / processed, 0)',
        usingMetrics: {
          processed: new cloudwatch.Metric({ namespace: PROCESSOR_METRICS_NAMESPACE, metricName: 'RecordsProcessed', dimensionsMap: { StreamName: props.stream.streamName }, statistic: cloudwatch.Stats.SUM }),
          quarantined: new cloudwatch.Metric({ namespace: PROCESSOR_METRICS_NAMESPACE, metricName: 'RecordsQuarantined', dimensionsMap: { StreamName: props.stream.streamName }, statistic: cloudwatch.Stats.SUM }),
        },
        period: Duration.minutes(5),
        label: 'Quarantined %',
      }),
      threshold: 5,
      evaluationPeriods: 1,
      alarmDescription: 'More than 5% of records were quarantined in 5 minutes: a producer is sending invalid FHIR',
    }, props.alarmTopic);
    // The processor emits ShardStuck = 1 on every failed attempt once a batch has failed three
    // times in a row (and 0 with every commit): a shard that cannot make progress, while /health is 503.
    this.addAlarm('ShardStuck', {
      metric: new cloudwatch.Metric({ namespace: PROCESSOR_METRICS_NAMESPACE, metricName: 'ShardStuck', dimensionsMap: { StreamName: props.stream.streamName }, statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      alarmDescription: 'A shard has failed the same batch repeatedly for minutes: a record or the database blocks it (see stuckShards in /health and the processor log)',
    }, props.alarmTopic);
    this.addAlarm('RunningTasksBelowMinimum', {
      metric: new cloudwatch.Metric({ namespace: 'ECS/ContainerInsights', metricName: 'RunningTaskCount', dimensionsMap: serviceDimensions, statistic: cloudwatch.Stats.MINIMUM, period: Duration.minutes(1) }),
      threshold: props.minTasks,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      alarmDescription: 'Fewer processor tasks running than the minimum for 5 minutes: tasks are failing',
    }, props.alarmTopic);

    acknowledge(this.taskDefinition, {
      id: 'AwsSolutions-ECS2',
      reason: 'The plain environment variables are non-secret settings (stream name, database host, port, name and login name, TLS mode); the processor authenticates with short-lived IAM tokens, so it holds no password.',
    });
    acknowledge(this.taskDefinition.obtainExecutionRole(), {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken has no resource-level permissions; every other statement names the asset repository or the log group.',
    });
    const inlineReason = 'CDK grants write this policy for one role: the stream, its key and rds-db:connect as the processor user (task role) or the image repository and log group (execution role); inline, it cannot be attached elsewhere.';
    for (const role of [this.taskDefinition.taskRole, this.taskDefinition.obtainExecutionRole()]) {
      acknowledge(role, ...hipaaAndNist('IAMNoInlinePolicy', inlineReason));
    }
  }

  private addAlarm(id: string, props: Omit<cloudwatch.AlarmProps, 'comparisonOperator' | 'treatMissingData'> & Partial<Pick<cloudwatch.AlarmProps, 'comparisonOperator' | 'treatMissingData'>>, topic: sns.ITopic): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...props,
    });
    alarm.addAlarmAction(new actions.SnsAction(topic));
    this.alarms.push(alarm);
  }
}
