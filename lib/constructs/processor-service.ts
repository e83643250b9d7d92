import * as path from 'path';
import { Duration, IgnoreMode, RemovalPolicy } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';
import type { ProcessorSettings } from '../config';
import {
  Naming,
  processorCommand,
  PROCESSOR_CONTAINER_NAME,
  PROCESSOR_ENV,
  PROCESSOR_HEALTH_PORT,
  PROCESSOR_LOG_STREAM_PREFIX,
  PROCESSOR_METRICS,
} from '../contract';
import { EncryptedLogGroup } from './encrypted-log-group';
import { ProcessorMetrics } from './processor-metrics';

/** The repository root: the processor image's build context (see lib/processor/Dockerfile). */
const REPO_ROOT = path.join(__dirname, '..', '..');

/**
 * The processor image's build: lib/processor/Dockerfile over the repository root. The read API's
 * function uses the same asset (same directory and options, so one image is built and pushed).
 */
export const PROCESSOR_IMAGE_ASSET: { readonly directory: string; readonly options: ecrAssets.DockerImageAssetOptions } = {
  directory: REPO_ROOT,
  options: {
    file: 'lib/processor/Dockerfile',
    platform: ecrAssets.Platform.LINUX_AMD64,
    ignoreMode: IgnoreMode.DOCKER,
    // Only what the image build reads: the asset hash changes only when the processor does.
    exclude: ['*', '!package.json', '!package-lock.json', '!tsconfig.json', '!lib', 'lib/*', '!lib/processor', '!lib/contract'],
  },
};

/** The performance log group Container Insights writes for a cluster (its name is fixed by ECS). */
export function containerInsightsLogGroupName(clusterName: string): string {
  return `/aws/ecs/containerinsights/${clusterName}/performance`;
}

export interface ProcessorServiceProps {
  /** Cluster, task family, role and log group names of this environment. */
  readonly naming: Naming;
  readonly vpc: ec2.IVpc;
  readonly subnetGroupName: string;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly stream: kinesis.IStream;
  /**
   * The largest record the stream accepts (bytes): the processor's MAX_RECORD_BYTES. Never lower, or
   * a record the stream took would be quarantined TOO_LARGE.
   * @default 1048576 (a stream's default maximum record size, 1 MiB)
   */
  readonly maxRecordBytes?: number;
  /**
   * The database instance; the task role may `rds-db:connect` as exactly `database.user` on it.
   * The processor never sees the master secret (migrations run as a separate task, DatabaseMigration).
   */
  readonly database: { readonly instance: rds.IDatabaseInstance; readonly name: string; readonly user: string };
  /** Task size and scaling bounds of the profile. */
  readonly settings: ProcessorSettings;
  /** Encrypts the processor and Container Insights log groups; its policy must admit both names. */
  readonly logKey: kms.IKey;
  /** Retention and removal policy of those log groups. */
  readonly logs: { readonly retentionDays: number; readonly removalPolicy: RemovalPolicy };
  /**
   * The container image. @default - built from lib/processor/Dockerfile (the pipeline's Assets stage builds it)
   */
  readonly image?: ecs.ContainerImage;
}

/** The container environment of every task that runs the processor image against this database. */
export function processorDatabaseEnvironment(
  region: string,
  database: { readonly instance: rds.IDatabaseInstance; readonly name: string },
): Record<string, string> {
  return {
    [PROCESSOR_ENV.region]: region,
    [PROCESSOR_ENV.dbHost]: database.instance.dbInstanceEndpointAddress,
    [PROCESSOR_ENV.dbPort]: database.instance.dbInstanceEndpointPort,
    [PROCESSOR_ENV.dbName]: database.name,
    [PROCESSOR_ENV.dbSslMode]: 'verify-full',
  };
}

/**
 * The processor on ECS Fargate: isolated subnets, read-only root filesystem, non-root user,
 * IAM database authentication (no secret), least-privilege grants, a deployment circuit breaker
 * with rollback, and scaling on iterator age bounded by the shard count. Its alarms are a separate
 * construct (ProcessorAlarms) over the same metrics (ProcessorMetrics).
 */
export class ProcessorService extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly service: ecs.FargateService;
  public readonly logGroup: logs.LogGroup;
  public readonly containerInsightsLogGroup: logs.LogGroup;
  /** The metrics of this service, its stream and its own EMF metrics. */
  public readonly metrics: ProcessorMetrics;
  /** The image, shared with the migration task. */
  public readonly image: ecs.ContainerImage;

  constructor(scope: Construct, id: string, props: ProcessorServiceProps) {
    super(scope, id);
    const { naming, settings } = props;
    const maxRecordBytes = props.maxRecordBytes ?? 1_048_576;
    // Kinesis accepts records of at least 1 MiB on every stream, and at most 10 MiB on any.
    if (!Number.isInteger(maxRecordBytes) || maxRecordBytes < 1_048_576 || maxRecordBytes > 10_485_760)
      throw new Error(
        `ProcessorService maxRecordBytes ${maxRecordBytes} is invalid: use the stream's maximum record size in bytes (1048576-10485760), never less than the stream accepts`,
      );
    const clusterName = naming.clusterName;
    const roleNames = naming.processorRoleNames;

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      clusterName,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    // Container Insights writes to this fixed group; created first, it is CMK-encrypted, expires with
    // the profile and goes with the stack, instead of being created unencrypted and kept forever.
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-view-metrics.html
    this.containerInsightsLogGroup = new EncryptedLogGroup(this, 'ContainerInsightsLogs', {
      ...props.logs,
      logGroupName: containerInsightsLogGroupName(clusterName),
      encryptionKey: props.logKey,
    }).logGroup;
    this.cluster.node.addDependency(this.containerInsightsLogGroup);

    this.logGroup = new EncryptedLogGroup(this, 'Logs', {
      ...props.logs,
      logGroupName: naming.processorLogGroupName,
      encryptionKey: props.logKey,
    }).logGroup;

    const assumedBy = new iam.ServicePrincipal('ecs-tasks.amazonaws.com');
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      family: naming.processorFamily,
      taskRole: new iam.Role(this, 'TaskRole', { roleName: roleNames.task, assumedBy, description: 'Processor task: read the stream' }),
      executionRole: new iam.Role(this, 'ExecutionRole', {
        roleName: roleNames.execution,
        assumedBy,
        description: 'Processor task execution: image and logs',
      }),
      cpu: settings.cpu,
      memoryLimitMiB: settings.memoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });

    const image = (this.image =
      props.image ?? ecs.ContainerImage.fromAsset(PROCESSOR_IMAGE_ASSET.directory, PROCESSOR_IMAGE_ASSET.options));

    this.taskDefinition.addContainer(PROCESSOR_CONTAINER_NAME, {
      image,
      essential: true,
      readonlyRootFilesystem: true,
      user: '1000',
      stopTimeout: Duration.seconds(120),
      logging: ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: PROCESSOR_LOG_STREAM_PREFIX,
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
      }),
      environment: {
        [PROCESSOR_ENV.streamName]: props.stream.streamName,
        [PROCESSOR_ENV.maxRecordBytes]: String(maxRecordBytes),
        ...processorDatabaseEnvironment(props.stream.stack.region, props.database),
        // Its own login through IAM authentication: no password exists for it, and no secret is injected.
        [PROCESSOR_ENV.dbUser]: props.database.user,
        [PROCESSOR_ENV.dbIamAuth]: 'true',
        // Migrations need the master user; the DatabaseMigration task applies them before this service.
        [PROCESSOR_ENV.dbMigrateOnStart]: 'false',
        // aws-embedded-metrics writes EMF to stdout (the awslogs driver ships it) instead of probing for an agent.
        AWS_EMF_ENVIRONMENT: 'Local',
        [PROCESSOR_ENV.metricsNamespace]: PROCESSOR_METRICS.namespace,
        [PROCESSOR_ENV.healthPort]: String(PROCESSOR_HEALTH_PORT),
      },
      healthCheck: {
        command: ['CMD', ...processorCommand('health')],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        startPeriod: Duration.seconds(60),
        retries: 3,
      },
    });
    props.stream.grantRead(this.taskDefinition.taskRole);
    // rds-db:connect on arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<processorUser> only.
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html
    props.database.instance.grantConnect(this.taskDefinition.taskRole, props.database.user);

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: settings.minTasks,
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

    this.metrics = new ProcessorMetrics({
      stream: props.stream,
      streamName: naming.streamName,
      service: this.service,
      cluster: this.cluster,
    });
    if (settings.maxTasks > settings.minTasks) {
      const scaling = this.service.autoScaleTaskCount({ minCapacity: settings.minTasks, maxCapacity: settings.maxTasks });
      scaling.scaleOnMetric('ScaleOnIteratorAge', {
        metric: this.metrics.iteratorAgeMax(),
        adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        scalingSteps: [
          { upper: 10_000, change: -1 },
          { lower: 60_000, change: +1 },
          { lower: 300_000, change: +2 },
        ],
        cooldown: Duration.minutes(3),
      });
    }

    acknowledge(this.taskDefinition, {
      id: 'AwsSolutions-ECS2',
      reason:
        'The plain environment variables are non-secret settings (stream name, database host, port, name and login name, TLS mode); the processor authenticates with short-lived IAM tokens, so it holds no password.',
    });
    acknowledge(this.taskDefinition.obtainExecutionRole(), {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecr:GetAuthorizationToken has no resource-level permissions; every other statement names the asset repository or the log group.',
    });
    const inlineReason =
      'CDK grants write this policy for one role: the stream, its key and rds-db:connect as the processor user (task role) or the image repository and log group (execution role); inline, it cannot be attached elsewhere.';
    for (const role of [this.taskDefinition.taskRole, this.taskDefinition.obtainExecutionRole()]) {
      acknowledge(role, ...hipaaAndNist('IAMNoInlinePolicy', inlineReason));
    }
  }
}
