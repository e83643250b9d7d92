import { CfnOutput } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { RESTORE_DRILL_DATABASE_USER } from '../config';
import { routeCustomResourceLogs } from '../constructs/custom-resource-logs';
import { DatabaseMigration } from '../constructs/database-migration';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { EncryptionKey } from '../constructs/encryption-key';
import { WORKLOAD_SUBNETS } from '../constructs/isolated-network';
import { PostDeployRole, PostDeploySuite } from '../constructs/post-deploy-role';
import { containerInsightsLogGroupName, ProcessorService } from '../constructs/processor-service';
import { removalPolicyFor } from '../constructs/removal';
import { RestoreDrill } from '../constructs/restore-drill';
import { EnvironmentStack, EnvironmentStackProps } from './environment-stack';

export interface ComputeStackProps extends EnvironmentStackProps {
  readonly vpc: ec2.IVpc;
  readonly workloadSecurityGroup: ec2.ISecurityGroup;
  readonly stream: kinesis.IStream;
  readonly database: rds.IDatabaseInstance;
  /** The EXISTING master secret: read only by the migration task, never by the service. */
  readonly databaseSecret: secretsmanager.ISecret;
  readonly alarmTopic: sns.ITopic;
  /** @default - built from lib/processor/Dockerfile */
  readonly processorImage?: ecs.ContainerImage;
  /**
   * The role the pipeline's post-deploy step assumes in this account (see PostDeployRole).
   * @default - none (a stage deployed by hand has no post-deploy step)
   */
  readonly postDeploy?: { readonly trustedRoleArn: string; readonly suite: PostDeploySuite; readonly protectStacks?: boolean };
}

/** The ECS Fargate processor that moves records from the stream into the database. */
export class ComputeStack extends EnvironmentStack {
  public readonly processor: ProcessorService;
  public readonly postDeployRole?: PostDeployRole;
  public readonly migration: DatabaseMigration;
  /** The scheduled restore drill, when config.restoreDrill.enabled. */
  public readonly restoreDrill?: RestoreDrill;

  constructor(scope: Construct, id: string, props: ComputeStackProps) {
    super(scope, id, 'compute', 'ECS Fargate FHIR processor', props);
    const { config } = props;
    const { naming } = config;
    const logGroupName = naming.processorLogGroupName;
    const hookLogGroupName = naming.logGroupName('deploy-hooks');

    const logKey = new EncryptionKey(this, 'ProcessorLogKey', {
      alias: naming.kmsAlias('processor-logs'),
      description: `Processor logs of ${config.environmentSuffix}`,
      removalPolicy: removalPolicyFor(config),
      pendingWindowDays: config.keyPendingWindowDays,
      logGroupNamePatterns: [logGroupName, containerInsightsLogGroupName(naming.clusterName), hookLogGroupName],
    });

    this.processor = new ProcessorService(this, 'Processor', {
      vpc: props.vpc,
      subnetGroupName: WORKLOAD_SUBNETS,
      securityGroup: props.workloadSecurityGroup,
      clusterName: naming.clusterName,
      family: naming.processorFamily,
      taskRoleName: naming.processorRoleNames.task,
      executionRoleName: naming.processorRoleNames.execution,
      stream: props.stream,
      database: { host: props.database.dbInstanceEndpointAddress, port: props.database.dbInstanceEndpointPort, name: config.database.databaseName },
      databaseInstance: props.database,
      processorUser: config.database.processorUser,
      logGroupName,
      logKey: logKey.key,
      logRetentionDays: config.logRetentionDays,
      logRemovalPolicy: removalPolicyFor(config),
      cpu: config.processor.cpu,
      memoryMiB: config.processor.memoryMiB,
      minTasks: config.processor.minTasks,
      maxTasks: config.processor.maxTasks,
      alarmTopic: props.alarmTopic,
      image: props.processorImage,
    });

    // Migrations run with the master credentials as a one-off task before the service starts or
    // changes; the custom-resource and trigger Lambdas log into a group of ours.
    const hookLogs = new EncryptedLogGroup(this, 'DeployHookLogs', {
      logGroupName: hookLogGroupName,
      encryptionKey: logKey.key,
      retentionDays: config.logRetentionDays,
      removalPolicy: removalPolicyFor(config),
    });
    this.migration = new DatabaseMigration(this, 'Migration', {
      cluster: this.processor.cluster,
      subnets: { subnetGroupName: WORKLOAD_SUBNETS },
      securityGroup: props.workloadSecurityGroup,
      image: this.processor.image,
      family: naming.resourceName('migrate'),
      roleNames: { task: naming.resourceName('migrate-task'), execution: naming.resourceName('migrate-exec') },
      database: { host: props.database.dbInstanceEndpointAddress, port: props.database.dbInstanceEndpointPort, name: config.database.databaseName },
      masterSecret: props.databaseSecret,
      masterSecretKey: config.database.masterSecretKeyArn ? kms.Key.fromKeyArn(this, 'DatabaseSecretKey', config.database.masterSecretKeyArn) : undefined,
      region: this.region,
      logGroup: this.processor.logGroup,
      hookLogGroup: hookLogs.logGroup,
      before: [this.processor.service],
    });
    routeCustomResourceLogs(this, hookLogs.logGroup);

    if (config.restoreDrill.enabled) {
      this.restoreDrill = new RestoreDrill(this, 'RestoreDrill', {
        cluster: this.processor.cluster,
        image: this.processor.image,
        subnets: { subnetGroupName: WORKLOAD_SUBNETS },
        securityGroup: props.workloadSecurityGroup,
        database: props.database,
        databaseName: config.database.databaseName,
        databaseUser: RESTORE_DRILL_DATABASE_USER,
        databaseKeyAlias: naming.kmsAlias('database'),
        project: config.project,
        environmentSuffix: config.environmentSuffix,
        instancePrefix: `${naming.resourceName('drill')}-`,
        family: naming.resourceName('restore-drill'),
        roleNames: { task: naming.resourceName('restore-drill-task'), execution: naming.resourceName('restore-drill-exec') },
        ruleName: naming.resourceName('restore-drill'),
        settings: config.restoreDrill,
        logGroup: this.processor.logGroup,
        alarmTopic: props.alarmTopic,
      });
      new CfnOutput(this, 'RestoreDrillTaskDefinitionArn', { value: this.restoreDrill.taskDefinition.taskDefinitionArn, description: 'npm run restore-drill runs this task once' });
      new CfnOutput(this, 'RestoreDrillRuleName', { value: this.restoreDrill.rule.ruleName });
    }

    if (props.postDeploy) {
      this.postDeployRole = new PostDeployRole(this, 'PostDeploy', { naming, ...props.postDeploy });
      new CfnOutput(this, 'PostDeployRoleArn', { value: this.postDeployRole.role.roleArn, description: 'Assumed by the pipeline\'s post-deploy step' });
    }

    new CfnOutput(this, 'ProcessorClusterName', { value: this.processor.cluster.clusterName });
    new CfnOutput(this, 'ProcessorServiceName', { value: this.processor.service.serviceName });
    new CfnOutput(this, 'ProcessorTaskDefinitionArn', { value: this.processor.taskDefinition.taskDefinitionArn });
    new CfnOutput(this, 'ProcessorLogGroupName', { value: this.processor.logGroup.logGroupName });
    new CfnOutput(this, 'ProcessorLogKeyArn', { value: logKey.key.keyArn });
  }
}
