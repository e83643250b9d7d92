import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';
import { acknowledgeWildcards } from '../compliance/wildcards';
import { acknowledgeScheduleRole } from './restore-drill';
import { AUDIT_CHAIN_CONTAINER_NAME, AUDIT_HEADS_PREFIX, AUDITOR_DB_USER, Naming, PROCESSOR_ENV, processorCommand } from '../contract';

/** Where the export keeps its place (lib/processor/tasks/audit-chain/main.ts LATEST_HEADS_KEY). */
const LATEST_HEADS_KEY = 'audit-chain-latest.json';

export interface AuditChainExportProps {
  readonly naming: Naming;
  readonly cluster: ecs.ICluster;
  /** The processor image: its audit-chain entry point runs the export. */
  readonly image: ecs.ContainerImage;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly database: rds.IDatabaseInstance;
  readonly databaseName: string;
  /** The Object-Locked audit archive. */
  readonly archive: s3.IBucket;
  readonly logGroup: logs.ILogGroup;
  /** @default rate(1 hour) */
  readonly schedule?: events.Schedule;
}

/**
 * The periodic export of the audit_event chain heads: a one-off Fargate task that EventBridge starts every
 * hour, logs in as fhir_auditor (the id and chain columns of audit_event only, never what a row says) and writes
 * the heads of the chains that advanced into the Object-Locked archive. Its role may connect as that login,
 * read the export's place and write exports: nothing else, so neither the task nor whoever can run it can read
 * PHI or rewrite an earlier export (Object Lock keeps every version).
 */
export class AuditChainExport extends Construct {
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: AuditChainExportProps) {
    super(scope, id);
    const names = props.naming.auditChainNames;
    const assumedBy = new iam.ServicePrincipal('ecs-tasks.amazonaws.com');
    const taskRole = new iam.Role(this, 'TaskRole', {
      roleName: names.task,
      assumedBy,
      description: 'Audit chain export: read chain heads as fhir_auditor, write them to the audit archive',
    });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      family: names.family,
      taskRole,
      executionRole: new iam.Role(this, 'ExecutionRole', {
        roleName: names.execution,
        assumedBy,
        description: 'Audit chain export task execution: image and logs',
      }),
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.taskDefinition.addContainer(AUDIT_CHAIN_CONTAINER_NAME, {
      image: props.image,
      essential: true,
      readonlyRootFilesystem: true,
      user: '1000',
      command: processorCommand('auditChain', 'export', '--archive-bucket', props.archive.bucketName),
      logging: ecs.LogDrivers.awsLogs({
        logGroup: props.logGroup,
        streamPrefix: AUDIT_CHAIN_CONTAINER_NAME,
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
      }),
      environment: {
        [PROCESSOR_ENV.region]: Stack.of(this).region,
        [PROCESSOR_ENV.dbHost]: props.database.dbInstanceEndpointAddress,
        [PROCESSOR_ENV.dbPort]: props.database.dbInstanceEndpointPort,
        [PROCESSOR_ENV.dbName]: props.databaseName,
        [PROCESSOR_ENV.dbUser]: AUDITOR_DB_USER,
        [PROCESSOR_ENV.dbIamAuth]: 'true',
        [PROCESSOR_ENV.dbSslMode]: 'verify-full',
      },
    });
    // rds-db:connect as fhir_auditor on this instance only; the export's place and its exports, nothing else.
    props.database.grantConnect(taskRole, AUDITOR_DB_USER);
    // PutObject only (grantPut would add PutObjectRetention and PutObjectLegalHold, which the export never needs).
    props.archive.grantRead(taskRole, LATEST_HEADS_KEY);
    taskRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteChainExports',
        actions: ['s3:PutObject'],
        resources: [props.archive.arnForObjects(LATEST_HEADS_KEY), props.archive.arnForObjects(`${AUDIT_HEADS_PREFIX}*`)],
      }),
    );
    props.archive.encryptionKey?.grantEncrypt(taskRole);

    this.rule = new events.Rule(this, 'Schedule', {
      ruleName: names.rule,
      description: `Export the audit chain heads of ${props.naming.suffix} to the audit archive`,
      schedule: props.schedule ?? events.Schedule.expression('rate(1 hour)'),
    });
    this.rule.addTarget(
      new targets.EcsTask({
        cluster: props.cluster,
        taskDefinition: this.taskDefinition,
        launchType: ecs.LaunchType.FARGATE,
        platformVersion: ecs.FargatePlatformVersion.LATEST,
        subnetSelection: props.subnets,
        securityGroups: [props.securityGroup],
        assignPublicIp: false,
      }),
    );
    this.acknowledgeFindings(taskRole);
  }

  private acknowledgeFindings(taskRole: iam.Role): void {
    acknowledge(this.taskDefinition, {
      id: 'AwsSolutions-ECS2',
      reason:
        'The plain environment variables are non-secret settings (region, database endpoint, name and login name, TLS mode); the task authenticates with short-lived IAM tokens and holds no password.',
    });
    const execution = this.taskDefinition.obtainExecutionRole();
    acknowledge(
      execution,
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'ecr:GetAuthorizationToken has no resource-level permissions; every other statement names the asset repository or the log group.',
      },
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        'CDK grants write this policy for the audit chain export execution role only (image repository and log group); inline, it cannot be attached elsewhere.',
      ),
    );
    acknowledge(
      taskRole,
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        'CDK grants write this policy for this one role (connect as fhir_auditor, read and write the chain exports); inline, it cannot be attached elsewhere.',
      ),
    );
    acknowledgeWildcards(taskRole.node.findChild('DefaultPolicy').node.defaultChild!, [
      [
        /^Action::s3:(GetObject|GetBucket|List|Abort)\*$/,
        'CDK grantRead/grantPut action groups, limited to the archive bucket and its export keys.',
      ],
      [
        /^Action::kms:(ReEncrypt|GenerateDataKey)\*$/,
        'CDK grants on the archive bucket key for S3 encryption of the exports; the key is used through S3 only.',
      ],
      [
        /audit-chain-heads\/\*>?$/,
        'The export writes one object per run under the audit chain heads prefix (its name is the run time); Object Lock keeps every version.',
      ],
    ]);
    acknowledgeScheduleRole(this.taskDefinition, 'the export');
  }
}
