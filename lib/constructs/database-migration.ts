import { readFileSync } from 'fs';
import { join } from 'path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import { acknowledge, deployHookFindings, hipaaAndNist } from '../compliance/acknowledge';
import { acknowledgeWildcards } from '../compliance/wildcards';
import { processorCommand, PROCESSOR_ENV } from '../contract';
import { processorDatabaseEnvironment } from './processor-service';

/**
 * The trigger's handler, deployed as the file's text: plain CommonJS that the Lambda Node.js runtime loads
 * with no build step; its tests, and the scripts that run the other one-off tasks, import the same file.
 */
export const MIGRATION_TRIGGER_HANDLER_FILE = join(__dirname, 'handlers', 'one-off-task.js');

export interface DatabaseMigrationProps {
  readonly cluster: ecs.ICluster;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
  /** The processor image: its migrate entry point (`dist/processor/tasks/migrate/main.js`) applies the migrations. */
  readonly image: ecs.ContainerImage;
  /** Task definition family, e.g. `<project>-migrate-<suffix>`. */
  readonly family: string;
  readonly roleNames: { readonly task: string; readonly execution: string };
  readonly database: { readonly instance: rds.IDatabaseInstance; readonly name: string };
  /** The master secret (existing, or RDS-managed in previews): read only by this task's execution role. */
  readonly masterSecret: secretsmanager.ISecret;
  /** CMK of that secret, when it is not the AWS managed key. @default - AWS managed key */
  readonly masterSecretKey?: kms.IKey;
  readonly region: string;
  readonly logGroup: logs.ILogGroup;
  /** Where the trigger's own Lambda logs (created by the stack, encrypted). */
  readonly hookLogGroup: logs.ILogGroup;
  /** Constructs that must not be created or updated before the migrations ran (the service). */
  readonly before: Construct[];
}

/**
 * Applies the database migrations with the master credentials, once per deployment, BEFORE the
 * processor service is created or updated: a one-off Fargate task (the processor image running
 * `node dist/processor/tasks/migrate/main.js`) started by a CDK Trigger, which waits for it and fails the deployment
 * (and so rolls it back) when the task does not exit 0.
 *
 * Why a Trigger and not a pipeline step: preview environments are deployed with plain
 * `cdk deploy`, outside the pipeline; a Trigger runs the same way in both, inside the stack's own
 * deployment, ordered before the service. The long-running service never sees the master secret:
 * only this task definition's execution role can read it.
 * https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.triggers-readme.html
 */
export class DatabaseMigration extends Construct {
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly trigger: triggers.TriggerFunction;

  constructor(scope: Construct, id: string, props: DatabaseMigrationProps) {
    super(scope, id);
    const { account, partition } = Stack.of(this);
    const assumedBy = new iam.ServicePrincipal('ecs-tasks.amazonaws.com');
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      family: props.family,
      taskRole: new iam.Role(this, 'TaskRole', {
        roleName: props.roleNames.task,
        assumedBy,
        description: 'Database migration task: no AWS permissions',
      }),
      executionRole: new iam.Role(this, 'ExecutionRole', {
        roleName: props.roleNames.execution,
        assumedBy,
        description: 'Database migration task execution: image, logs, master secret',
      }),
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.taskDefinition.addContainer('migrate', {
      image: props.image,
      essential: true,
      readonlyRootFilesystem: true,
      user: '1000',
      command: processorCommand('migrate'),
      logging: ecs.LogDrivers.awsLogs({ logGroup: props.logGroup, streamPrefix: 'migrate', mode: ecs.AwsLogDriverMode.NON_BLOCKING }),
      environment: processorDatabaseEnvironment(props.region, props.database),
      secrets: {
        [PROCESSOR_ENV.dbUser]: ecs.Secret.fromSecretsManager(props.masterSecret, 'username'),
        [PROCESSOR_ENV.dbPassword]: ecs.Secret.fromSecretsManager(props.masterSecret, 'password'),
      },
    });
    props.masterSecretKey?.grantDecrypt(this.taskDefinition.obtainExecutionRole());

    const subnetIds = props.cluster.vpc.selectSubnets(props.subnets).subnetIds;
    this.trigger = new triggers.TriggerFunction(this, 'Run', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline(readFileSync(MIGRATION_TRIGGER_HANDLER_FILE, 'utf8')),
      timeout: Duration.minutes(14),
      logGroup: props.hookLogGroup,
      description: `Runs the ${props.family} migration task once and waits for it to exit 0`,
      environment: {
        CLUSTER: props.cluster.clusterArn,
        // The task definition ARN changes with each new image or setting: the trigger runs again.
        TASK_DEFINITION: this.taskDefinition.taskDefinitionArn,
        SUBNETS: subnetIds.join(','),
        SECURITY_GROUP: props.securityGroup.securityGroupId,
      },
      executeAfter: [this.taskDefinition],
      executeBefore: props.before,
      executeOnHandlerChange: true,
    });
    this.trigger.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'RunMigrationTask',
        actions: ['ecs:RunTask'],
        resources: [`arn:${partition}:ecs:${props.region}:${account}:task-definition/${props.family}:*`],
        conditions: { ArnEquals: { 'ecs:cluster': props.cluster.clusterArn } },
      }),
    );
    this.trigger.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'WatchMigrationTask',
        actions: ['ecs:DescribeTasks'],
        resources: [`arn:${partition}:ecs:${props.region}:${account}:task/${props.cluster.clusterName}/*`],
      }),
    );
    this.trigger.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'PassMigrationRoles',
        actions: ['iam:PassRole'],
        resources: [this.taskDefinition.taskRole.roleArn, this.taskDefinition.obtainExecutionRole().roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );

    acknowledge(this.taskDefinition, {
      id: 'AwsSolutions-ECS2',
      reason:
        'The plain environment variables are non-secret settings (region, database host, port and name, TLS mode); the master credentials are ECS secrets from Secrets Manager.',
    });
    acknowledge(
      this.taskDefinition.obtainExecutionRole(),
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'ecr:GetAuthorizationToken has no resource-level permissions; every other statement names the asset repository, the log group or the master secret.',
      },
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        'CDK grants write this policy for the migration execution role only (image, log group, master secret); inline, it cannot be attached elsewhere.',
      ),
    );
    const fn = this.trigger;
    // The trigger runs only once its role's policy exists: otherwise CloudFormation may invoke the function
    // before RunTask and PassRole are allowed, and the deployment fails with AccessDenied.
    const policy = fn.role!.node.findChild('DefaultPolicy');
    fn.trigger.node.addDependency(policy);
    acknowledge(
      fn.role!,
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'The AWS-managed basic execution policy only lets the function write its own CloudWatch logs (into the encrypted deploy-hooks group).',
      },
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        'The trigger policy is written for this one function: run and watch the migration task, pass its two roles.',
      ),
    );
    acknowledgeWildcards(policy.node.defaultChild!, [
      [
        /:task-definition\/[^*]+-migrate-[^*]+:\*$/,
        'Any revision of the one named migration task family, and only on this cluster (ecs:cluster condition).',
      ],
      [/:task\/[^*]+\/\*$/, 'Tasks of this one cluster, whose ids ECS assigns when the migration task starts.'],
    ]);
    acknowledge(
      fn,
      ...deployHookFindings(
        'The function calls only the ECS API (RunTask, DescribeTasks) and never touches PHI or the database; the migration itself runs inside the VPC as a Fargate task.',
      ),
    );
  }
}
