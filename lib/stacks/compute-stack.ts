import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { AuditChainExport } from '../constructs/audit-chain-export';
import { acknowledgeWildcards } from '../compliance/wildcards';
import { AUDIT_HEADS_PREFIX } from '../contract';
import { routeCustomResourceLogs } from '../constructs/custom-resource-logs';
import { DatabaseMigration } from '../constructs/database-migration';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { EncryptionKey } from '../constructs/encryption-key';
import { WORKLOAD_SUBNETS } from '../constructs/isolated-network';
import { PostDeployRole, PostDeploySuite } from '../constructs/post-deploy-role';
import { ProcessorAlarms } from '../constructs/processor-alarms';
import { containerInsightsLogGroupName, ProcessorService } from '../constructs/processor-service';
import { OperationsDashboard, dashboardUrl } from '../constructs/operations-dashboard';
import { rdsLogGroupName } from '../constructs/patient-database';
import { lifecycleOf } from '../constructs/removal';
import { ReadApi } from '../constructs/read-api';
import { RestoreDrill } from '../constructs/restore-drill';
import { SecretRotation } from '../constructs/secret-rotation';
import type { AuditResources } from './audit-stack';
import type { DataResources } from './data-stack';
import { EnvironmentStack, EnvironmentStackProps } from './environment-stack';
import type { NetworkResources } from './network-stack';

/** The role a pipeline's post-deploy step assumes in the environment's account (see PostDeployRole). */
export interface PostDeployProps {
  /** The step's CodeBuild role in the tooling account: the one principal the role trusts. */
  readonly trustedRoleArn: string;
  readonly suite: PostDeploySuite;
  /** Let the step turn on termination protection of the environment's stacks. @default false */
  readonly protectStacks?: boolean;
}

export interface ComputeStackProps extends EnvironmentStackProps {
  readonly network: NetworkResources;
  readonly data: DataResources;
  readonly audit: AuditResources;
  /** @default - built from lib/processor/Dockerfile */
  readonly processorImage?: ecs.ContainerImage;
  /** @default - none (a stage deployed by hand has no post-deploy step) */
  readonly postDeploy?: PostDeployProps;
}

/** The ECS Fargate processor that moves records from the stream into the database. */
export class ComputeStack extends EnvironmentStack<'compute'> {
  public readonly processor: ProcessorService;
  public readonly alarms: ProcessorAlarms;
  public readonly postDeployRole?: PostDeployRole;
  public readonly migration: DatabaseMigration;
  public readonly dashboard: OperationsDashboard;
  /** The FHIR read API and its reader role. */
  public readonly readApi: ReadApi;
  /** The scheduled restore drill, when config.restoreDrill.enabled. */
  public readonly restoreDrill?: RestoreDrill;
  /** The hourly export of the audit chain heads to the audit archive. */
  public readonly auditChainExport: AuditChainExport;
  /** The master secret's rotation function and schedule, where an existing secret is rotated (databaseRotationDays). */
  public readonly secretRotation?: SecretRotation;

  constructor(scope: Construct, id: string, props: ComputeStackProps) {
    super(scope, id, 'compute', props);
    const { config, network, data, audit } = props;
    const { naming } = config;
    const lifecycle = lifecycleOf(config);
    const logGroupNames = naming.logGroupNames;
    const hookLogGroupName = logGroupNames.deployHooks;

    // Only where the environment has an existing master secret to rotate, and rotation is not turned off (previews'
    // RDS-managed secrets are rotated by RDS).
    const { master } = config.database;
    const rotationDays = master.source === 'existing-secret' ? master.rotationDays : undefined;

    const logKey = new EncryptionKey(this, 'ProcessorLogKey', {
      ...lifecycle.keys,
      alias: naming.kmsAlias('processor-logs'),
      description: `Processor logs of ${config.environmentSuffix}`,
      logGroupNamePatterns: [
        naming.processorLogGroupName,
        containerInsightsLogGroupName(naming.clusterName),
        hookLogGroupName,
        naming.readApi.functionLogGroup,
        naming.readApi.accessLogGroup,
        ...(rotationDays ? [naming.secretRotation.logGroup] : []),
      ],
    });

    this.processor = new ProcessorService(this, 'Processor', {
      naming,
      vpc: network.vpc,
      subnetGroupName: WORKLOAD_SUBNETS,
      securityGroup: network.workloadSecurityGroup,
      stream: data.stream,
      maxRecordBytes: data.streamMaxRecordBytes,
      database: { instance: data.database, name: config.database.databaseName, user: config.database.processorUser },
      settings: config.processor,
      logKey: logKey.key,
      logs: lifecycle.logs,
      image: props.processorImage,
    });
    this.alarms = new ProcessorAlarms(this, 'ProcessorAlarms', {
      metrics: this.processor.metrics,
      minTasks: config.processor.minTasks,
      topic: audit.alarmTopic,
    });

    // Migrations run with the master credentials as a one-off task before the service starts or
    // changes; the custom-resource and trigger Lambdas log into a group of ours.
    const hookLogs = new EncryptedLogGroup(this, 'DeployHookLogs', {
      ...lifecycle.logs,
      logGroupName: hookLogGroupName,
      encryptionKey: logKey.key,
    });
    const secretKey =
      master.source === 'existing-secret' && master.secretKeyArn
        ? kms.Key.fromKeyArn(this, 'DatabaseSecretKey', master.secretKeyArn)
        : undefined;
    this.migration = new DatabaseMigration(this, 'Migration', {
      cluster: this.processor.cluster,
      subnets: { subnetGroupName: WORKLOAD_SUBNETS },
      securityGroup: network.workloadSecurityGroup,
      image: this.processor.image,
      family: naming.migrationFamily,
      roleNames: naming.migrationRoleNames,
      database: { instance: data.database, name: config.database.databaseName },
      masterSecret: data.databaseSecret,
      masterSecretKey: secretKey,
      region: this.region,
      logGroup: this.processor.logGroup,
      hookLogGroup: hookLogs.logGroup,
      before: [this.processor.service],
    });
    routeCustomResourceLogs(this, hookLogs.logGroup);

    if (rotationDays) {
      this.secretRotation = new SecretRotation(this, 'SecretRotation', {
        naming,
        vpc: network.vpc,
        subnetGroupName: WORKLOAD_SUBNETS,
        securityGroup: network.workloadSecurityGroup,
        database: { instance: data.database, name: config.database.databaseName },
        secret: data.databaseSecret,
        secretKey,
        rotationDays,
        logKey: logKey.key,
        logs: lifecycle.logs,
      });
      this.output('SecretRotationFunctionName', this.secretRotation.function.functionName, 'Rotates the database master secret');
    }

    if (config.restoreDrill.enabled) {
      this.restoreDrill = new RestoreDrill(this, 'RestoreDrill', {
        naming,
        cluster: this.processor.cluster,
        image: this.processor.image,
        subnets: { subnetGroupName: WORKLOAD_SUBNETS },
        securityGroup: network.workloadSecurityGroup,
        database: data.database,
        databaseName: config.database.databaseName,
        settings: config.restoreDrill,
        logGroup: this.processor.logGroup,
        alarmTopic: audit.alarmTopic,
        copyLogs: { key: data.databaseLogKey, retentionDays: lifecycle.logs.retentionDays },
      });
      this.output(
        'RestoreDrillTaskDefinitionArn',
        this.restoreDrill.taskDefinition.taskDefinitionArn,
        'npm run restore-drill runs this task once',
      );
      this.output('RestoreDrillRuleName', this.restoreDrill.rule.ruleName);
    }

    // By name, not by reference: the same ARN the audit stack gives the bucket (Naming), no cross-stack token in a wildcard.
    const archive = s3.Bucket.fromBucketAttributes(this, 'AuditArchive', {
      bucketName: naming.auditArchiveBucketName(this.account),
      encryptionKey: audit.auditArchive.encryptionKey,
    });
    this.auditChainExport = new AuditChainExport(this, 'AuditChainExport', {
      naming,
      cluster: this.processor.cluster,
      image: this.processor.image,
      subnets: { subnetGroupName: WORKLOAD_SUBNETS },
      securityGroup: network.workloadSecurityGroup,
      database: data.database,
      databaseName: config.database.databaseName,
      archive,
      logGroup: this.processor.logGroup,
    });
    // npm run audit:verify runs the processor's task definition, which checks every exported head: list and read
    // the exports, nothing else of the archive (the heads are positions and hashes, not PHI).
    const processorRole = this.processor.taskDefinition.taskRole;
    processorRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListChainExports',
        actions: ['s3:ListBucket'],
        resources: [archive.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${AUDIT_HEADS_PREFIX}*`] } },
      }),
    );
    processorRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadChainExports',
        actions: ['s3:GetObject'],
        resources: [archive.arnForObjects(`${AUDIT_HEADS_PREFIX}*`)],
      }),
    );
    archive.encryptionKey?.grantDecrypt(processorRole);
    acknowledgeWildcards(processorRole.node.findChild('DefaultPolicy').node.defaultChild!, [
      [
        /audit-chain-heads\/\*$/,
        'The audit chain exports, one object per hourly run named by its time, read by npm run audit:verify to check every exported head.',
      ],
    ]);
    this.output('AuditChainRuleName', this.auditChainExport.rule.ruleName);

    if (props.postDeploy) {
      this.postDeployRole = new PostDeployRole(this, 'PostDeploy', { naming, ...props.postDeploy });
      this.output('PostDeployRoleArn', this.postDeployRole.role.roleArn, "Assumed by the pipeline's post-deploy step");
    }

    // The reader role trusts the principals of cdk.json `readers`, and the post-deploy role where
    // the integration suite reads back what it wrote (never in production: its suite is smoke).
    const readers: iam.IPrincipal[] = config.readers.map((arn) => new iam.ArnPrincipal(arn));
    if (this.postDeployRole && props.postDeploy?.suite === 'integ') readers.push(this.postDeployRole.role);
    this.readApi = new ReadApi(this, 'ReadApi', {
      naming,
      vpc: network.vpc,
      subnetGroupName: WORKLOAD_SUBNETS,
      securityGroup: network.workloadSecurityGroup,
      database: { instance: data.database, name: config.database.databaseName },
      logKey: logKey.key,
      logs: lifecycle.logs,
      readers,
    });
    if (this.readApi.readerRole && this.postDeployRole && props.postDeploy?.suite === 'integ') {
      this.readApi.readerRole.grantAssumeRole(this.postDeployRole.role);
    }
    this.output('ReadApiUrl', this.readApi.url, 'FHIR read API (SigV4, execute-api): GET <url>Patient/<id>/$everything');
    if (this.readApi.readerRole) this.output('ReaderRoleArn', this.readApi.readerRole.roleArn, 'Assume to read through the FHIR read API');

    this.dashboard = new OperationsDashboard(this, 'Dashboard', {
      dashboardName: naming.dashboardName,
      environment: { suffix: config.environmentSuffix, profile: config.profile },
      region: this.region,
      metrics: this.processor.metrics,
      database: data.database,
      alarms: [...this.alarms.alarms, ...audit.securityAlarms, ...Object.values(this.restoreDrill?.alarms ?? {})],
      restoreDrill: this.restoreDrill,
      logGroups: [
        { title: 'Processor (and migration, verify, re-drive tasks)', name: logGroupNames.processor },
        { title: 'Application audit trail', name: logGroupNames.applicationAudit },
        { title: 'PostgreSQL and pgaudit', name: rdsLogGroupName(naming.dbInstanceIdentifier, 'postgresql') },
        { title: 'VPC flow logs', name: logGroupNames.flowLogs },
        { title: 'Deploy hooks (migration trigger)', name: logGroupNames.deployHooks },
        ...(config.audit.trailMode === 'dedicated' ? [{ title: 'CloudTrail', name: logGroupNames.trail }] : []),
      ],
    });
    this.output('DashboardName', naming.dashboardName);
    this.output('DashboardUrl', dashboardUrl(this.region, naming.dashboardName), 'CloudWatch dashboard of this environment');

    this.output('ProcessorClusterName', this.processor.cluster.clusterName);
    this.output('ProcessorServiceName', this.processor.service.serviceName);
    this.output('ProcessorTaskDefinitionArn', this.processor.taskDefinition.taskDefinitionArn);
    this.output('ProcessorLogGroupName', this.processor.logGroup.logGroupName);
    this.output('ProcessorLogKeyArn', logKey.key.keyArn);
  }
}
