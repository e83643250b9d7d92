import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';
import { acknowledgeWildcards } from '../compliance/wildcards';
import type { RestoreDrillSettings } from '../config';
import {
  DRILL_DB_USER,
  DRILL_TIMESTAMP_LENGTH,
  Naming,
  PROCESSOR_ENV,
  processorCommand,
  RESTORE_DRILL_CONTAINER_NAME,
  RESTORE_DRILL_METRICS,
} from '../contract';

type DrillMetric = (name: string, statistic: string, period: Duration) => cloudwatch.Metric;

export interface RestoreDrillProps {
  /** The environment's names: drill instances, task family, rule, roles, and the database key's alias. */
  readonly naming: Naming;
  readonly cluster: ecs.ICluster;
  /** The processor image: its restore-drill entry point runs the drill. */
  readonly image: ecs.ContainerImage;
  /** Where the task runs: the workload subnets and security group (443 to the endpoints, 5432 to the database). */
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
  /** The live instance whose automated backups are restored. */
  readonly database: rds.IDatabaseInstance;
  readonly databaseName: string;
  readonly settings: RestoreDrillSettings;
  readonly logGroup: logs.ILogGroup;
  /** The environment's security alarm topic. */
  readonly alarmTopic: sns.ITopic;
  /**
   * The copy exports the live instance's logs into groups the drill creates with this key and retention
   * (the database log key, whose policy admits `/aws/rds/instance/<drill prefix>*`). @default - no log exports
   */
  readonly copyLogs?: { readonly key: kms.IKey; readonly retentionDays: number };
}

/**
 * The restore drill: a one-off Fargate task (the processor image running `node dist/processor/tasks/restore-drill/main.js`)
 * that EventBridge starts on the configured schedule and `npm run restore-drill` starts on demand. It
 * restores the live instance's latest restorable time into a temporary `<project>-drill-<suffix>-*`
 * instance, verifies it against the live database as the drill's own login, records RPO and RTO as
 * metrics and always deletes the temporary instance (lib/processor/tasks/restore-drill). Alarms go to the
 * security topic: RPO or RTO over target, a failed drill, and a drill that did not report in its period.
 *
 * A Fargate task and not a Lambda function: a restore takes longer than Lambda's 15 minutes.
 */
export class RestoreDrill extends Construct {
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly rule: events.Rule;
  public readonly alarms: Record<'rpo' | 'rto' | 'failed' | 'overdue', cloudwatch.Alarm>;
  /** The RPO and RTO targets the alarms hold the drill to, in seconds. */
  public readonly targetSeconds: { readonly rpo: number; readonly rto: number };
  /** The drill's own metrics (one data point per run), for the dashboard. */
  public readonly metric: DrillMetric;

  constructor(scope: Construct, id: string, props: RestoreDrillProps) {
    super(scope, id);
    const { settings, naming } = props;
    const engineMajorVersion = checkDrillable(props);
    this.targetSeconds = { rpo: settings.rpoTargetMinutes * 60, rto: settings.rtoTargetMinutes * 60 };
    const names = naming.restoreDrillNames;
    const assumedBy = new iam.ServicePrincipal('ecs-tasks.amazonaws.com');
    const taskRole = new iam.Role(this, 'TaskRole', {
      roleName: names.task,
      assumedBy,
      description: 'Restore drill: restore the live database into a temporary drill instance, verify it, delete it',
    });
    this.taskDefinition = this.addTask(props, taskRole, assumedBy);
    for (const statement of drillTaskStatements(Stack.of(this), props, engineMajorVersion)) taskRole.addToPolicy(statement);
    this.rule = this.addSchedule(props);
    this.metric = drillMetric(props.database.instanceIdentifier);
    this.alarms = this.addAlarms(props, this.metric);
    this.acknowledgeFindings(taskRole);
  }

  /** The task definition and its one container; the task role is the caller's, its policy written after. */
  private addTask(props: RestoreDrillProps, taskRole: iam.Role, assumedBy: iam.IPrincipal): ecs.FargateTaskDefinition {
    const { settings, naming } = props;
    const names = naming.restoreDrillNames;
    const taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      family: names.family,
      taskRole,
      executionRole: new iam.Role(this, 'ExecutionRole', {
        roleName: names.execution,
        assumedBy,
        description: 'Restore drill task execution: image and logs',
      }),
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    // The bound on waiting for the restore: twice the RTO target (a drill over target still measures
    // how long a restore takes), and the instance's TTL a little longer than the whole drill can take.
    const availableTimeoutMinutes = Math.min(20 * 60, Math.max(60, 2 * settings.rtoTargetMinutes));
    taskDefinition.addContainer(RESTORE_DRILL_CONTAINER_NAME, {
      image: props.image,
      essential: true,
      readonlyRootFilesystem: true,
      user: '1000',
      command: processorCommand('restoreDrill'),
      logging: ecs.LogDrivers.awsLogs({
        logGroup: props.logGroup,
        streamPrefix: RESTORE_DRILL_CONTAINER_NAME,
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
      }),
      environment: {
        [PROCESSOR_ENV.region]: Stack.of(this).region,
        PROJECT: naming.project,
        ENVIRONMENT_SUFFIX: naming.suffix,
        DRILL_SOURCE_INSTANCE: props.database.instanceIdentifier,
        DRILL_INSTANCE_PREFIX: naming.restoreDrillInstancePrefix,
        [PROCESSOR_ENV.dbName]: props.databaseName,
        [PROCESSOR_ENV.dbUser]: DRILL_DB_USER,
        [PROCESSOR_ENV.dbSslMode]: 'verify-full',
        DRILL_RPO_TARGET_MINUTES: String(settings.rpoTargetMinutes),
        DRILL_RTO_TARGET_MINUTES: String(settings.rtoTargetMinutes),
        DRILL_AVAILABLE_TIMEOUT_MINUTES: String(availableTimeoutMinutes),
        DRILL_TTL_MINUTES: String(availableTimeoutMinutes + 3 * 60),
        [PROCESSOR_ENV.metrics]: 'emf',
        AWS_EMF_ENVIRONMENT: 'Local',
        ...(props.copyLogs
          ? { DRILL_LOG_KEY_ARN: props.copyLogs.key.keyArn, DRILL_LOG_RETENTION_DAYS: String(props.copyLogs.retentionDays) }
          : {}),
      },
    });
    return taskDefinition;
  }

  /** EventBridge runs the task (its role may run this family on this cluster and pass exactly the two drill roles; CDK writes that policy). */
  private addSchedule(props: RestoreDrillProps): events.Rule {
    const { settings, naming } = props;
    const rule = new events.Rule(this, 'Schedule', {
      ruleName: naming.restoreDrillNames.rule,
      description: `Restore drill of the ${naming.suffix} database, ${settings.cadence} (${settings.schedule}, UTC)`,
      schedule: events.Schedule.expression(settings.schedule),
    });
    rule.addTarget(
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
    return rule;
  }

  /** The drill emits its metrics once per run; between runs there are none. */
  private addAlarms(props: RestoreDrillProps, metric: DrillMetric): RestoreDrill['alarms'] {
    const { settings } = props;
    const alarm = (alarmId: string, p: cloudwatch.AlarmProps) => {
      const a = new cloudwatch.Alarm(this, alarmId, p);
      a.addAlarmAction(new actions.SnsAction(props.alarmTopic));
      return a;
    };
    // Missing data keeps the last state: the alarm shows the last drill's result until the next one.
    const lastRun = { evaluationPeriods: 1, treatMissingData: cloudwatch.TreatMissingData.IGNORE };
    const rpo = alarm('RpoOverTarget', {
      ...lastRun,
      metric: metric(RESTORE_DRILL_METRICS.rpo, cloudwatch.Stats.MAXIMUM, Duration.hours(1)),
      threshold: this.targetSeconds.rpo,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      alarmDescription: `Restore drill: the restored copy would have lost more than ${settings.rpoTargetMinutes} min of writes (RPO target)`,
    });
    const rto = alarm('RtoOverTarget', {
      ...lastRun,
      metric: metric(RESTORE_DRILL_METRICS.rto, cloudwatch.Stats.MAXIMUM, Duration.hours(1)),
      threshold: this.targetSeconds.rto,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      alarmDescription: `Restore drill: restoring and verifying took longer than ${settings.rtoTargetMinutes} min (RTO target)`,
    });
    const failed = alarm('DrillFailed', {
      ...lastRun,
      metric: metric(RESTORE_DRILL_METRICS.succeeded, cloudwatch.Stats.MINIMUM, Duration.hours(1)),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      alarmDescription:
        'Restore drill failed: the restore, its verification or the deletion of the temporary instance did not succeed (the task log has the one-line reason)',
    });
    // No successful drill in the last complete calendar day or week (the schedule's cadence): the drill
    // failed, crashed, did not start, or the schedule is off. A wall-clock window evaluates whole
    // calendar periods, so a run that finishes later than last time is not a gap, as it would be in a
    // sliding window of the same length (at most 7 days). Weeks and days are aligned in UTC, like the schedule.
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation-window.html
    const overdue = alarm('DrillOverdue', {
      metric: metric(
        RESTORE_DRILL_METRICS.succeeded,
        cloudwatch.Stats.MAXIMUM,
        settings.cadence === 'weekly' ? Duration.days(7) : Duration.days(1),
      ),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      alarmDescription: `Restore drill did not succeed in the last calendar ${settings.cadence === 'weekly' ? 'week' : 'day'} (UTC): it failed, did not run, or its schedule (${settings.schedule}) is off`,
    });
    (overdue.node.defaultChild as cloudwatch.CfnAlarm).evaluationWindow = { wallClockWindow: { timezone: 'UTC' } };
    return { rpo, rto, failed, overdue };
  }

  private acknowledgeFindings(taskRole: iam.Role): void {
    acknowledge(this.taskDefinition, {
      id: 'AwsSolutions-ECS2',
      reason:
        'The plain environment variables are non-secret settings (region, instance identifiers, database name and login name, TLS mode, targets); the drill authenticates with short-lived IAM tokens and holds no password.',
    });
    acknowledge(
      this.taskDefinition.obtainExecutionRole(),
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'ecr:GetAuthorizationToken has no resource-level permissions; every other statement names the asset repository or the log group.',
      },
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        'CDK grants write this policy for the drill execution role only (image repository and log group); inline, it cannot be attached elsewhere.',
      ),
    );
    acknowledge(
      taskRole,
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        'The drill policy is written for this one role (restore into, tag and delete drill-named instances, grants on the database key via RDS, its own login); inline, it cannot be attached elsewhere.',
      ),
    );
    acknowledgeWildcards(taskRole.node.findChild('DefaultPolicy').node.defaultChild!, [
      [
        /:db:\*$/,
        'rds:DescribeDBInstances only: listing instances (the sweeper) is authorized against db:*; it returns configuration and tags, never data.',
      ],
      [
        /:(subgrp|pg):\*$/,
        'Only subnet and parameter groups tagged with this project and environment (aws:ResourceTag condition), used by the restore; their names are generated by CloudFormation.',
      ],
      [
        /:key\/\*$/,
        'Only the database key (kms:ResourceAliases), only through RDS (kms:ViaService) and only grants for AWS resources: what RDS needs to restore an encrypted instance.',
      ],
      [
        /:log-group:\/aws\/rds\/instance\/[a-z0-9-]+-\*$/,
        "Only the log groups RDS exports a drill copy's logs into (its identifier starts with the drill prefix and ends in a run timestamp unknown at synth): created encrypted and with a retention before the restore.",
      ],
      [
        /:dbuser:\*\/[a-z_]+$/,
        'The drill login only, whose sole privilege is a function returning counts and timestamps: the restored copy has a new DbiResourceId, unknown at synth.',
      ],
    ]);
    acknowledgeScheduleRole(this.taskDefinition, 'the drill');
  }
}

/**
 * The role an EventBridge EcsTask target creates next to a task definition (CDK writes its policy): run that task
 * definition on its cluster, tag its tasks and pass its two roles.
 */
export function acknowledgeScheduleRole(taskDefinition: ecs.TaskDefinition, what: string): void {
  const eventsRole = taskDefinition.node.findChild('EventsRole');
  acknowledge(
    eventsRole,
    ...hipaaAndNist(
      'IAMNoInlinePolicy',
      `CDK writes this policy for the schedule only: run ${what} task definition on this cluster, tag its tasks and pass its two roles to ECS.`,
    ),
  );
  acknowledgeWildcards(eventsRole.node.findChild('DefaultPolicy').node.defaultChild!, [
    [
      /:ecs:[a-z0-9-]+:\*:task\/<[A-Za-z0-9]+>\/\*$/,
      "ecs:TagResource on the tasks of this one cluster, whose ids ECS assigns at launch (CDK writes the account as *; ECS tasks have no resource policy, so only this account's tasks can match).",
    ],
  ]);
}

/** The live instance's engine major version, after checking the drill can restore it under RDS's 63-character names. */
function checkDrillable({ database, naming }: RestoreDrillProps): string {
  const instancePrefix = naming.restoreDrillInstancePrefix;
  const majorVersion = database.engine?.engineVersion?.majorVersion;
  if (database.engine?.engineType !== 'postgres' || !majorVersion) {
    throw new Error(`RestoreDrill needs a PostgreSQL instance with a known major version (${database.node.path})`);
  }
  if (instancePrefix.length + DRILL_TIMESTAMP_LENGTH > 63) {
    throw new Error(
      `RestoreDrill instance prefix "${instancePrefix}" must leave ${DRILL_TIMESTAMP_LENGTH} of RDS's 63 characters: shorten project or environmentSuffix`,
    );
  }
  return majorVersion;
}

/** One data point per drill run, per live instance. */
function drillMetric(instanceIdentifier: string): DrillMetric {
  return (name, statistic, period) =>
    new cloudwatch.Metric({
      namespace: RESTORE_DRILL_METRICS.namespace,
      metricName: name,
      dimensionsMap: { [RESTORE_DRILL_METRICS.dimension]: instanceIdentifier },
      statistic,
      period,
    });
}

/**
 * The task role's policy. Every action, resource and condition is from the Service Authorization Reference
 * for Amazon RDS (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html).
 */
function drillTaskStatements(
  stack: Stack,
  { database, naming, copyLogs }: RestoreDrillProps,
  engineMajorVersion: string,
): iam.PolicyStatement[] {
  const { account, region, partition } = stack;
  const rdsArn = (resource: string) => `arn:${partition}:rds:${region}:${account}:${resource}`;
  const drillInstances = rdsArn(`db:${naming.restoreDrillInstancePrefix}${'?'.repeat(DRILL_TIMESTAMP_LENGTH)}`);
  // Creating an instance encrypted with a customer managed key needs kms:CreateGrant and
  // kms:DescribeKey on it, for RDS acting on the caller's behalf only.
  // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.Keys.html
  const keyResource = `arn:${partition}:kms:${region}:${account}:key/*`;
  const viaRds = { 'kms:ViaService': `rds.${region}.amazonaws.com` };
  const ofDatabaseKey = { 'kms:ResourceAliases': naming.kmsAlias('database') };
  const logStatements = copyLogs
    ? [
        // The copy's exported log groups, created encrypted and with a retention before RDS would create them without.
        new iam.PolicyStatement({
          sid: 'CreateDrillCopyLogGroups',
          actions: ['logs:CreateLogGroup', 'logs:PutRetentionPolicy'],
          resources: [`arn:${partition}:logs:${region}:${account}:log-group:/aws/rds/instance/${naming.restoreDrillInstancePrefix}*`],
        }),
      ]
    : [];
  return [
    ...logStatements,
    // RestoreDBInstanceToPointInTime requires db (the source and the new instance), og, pg and subgrp.
    new iam.PolicyStatement({
      sid: 'RestoreLiveIntoDrillInstance',
      actions: ['rds:RestoreDBInstanceToPointInTime'],
      resources: [
        database.instanceArn,
        drillInstances,
        // The engine's default option group (the live instance uses no other).
        rdsArn(`og:default:postgres-${engineMajorVersion}`),
      ],
      // The request's own key: the copy can never be made publicly accessible.
      conditions: { Bool: { 'rds:PubliclyAccessible': 'false' } },
    }),
    // The subnet and parameter groups are read from the live instance at run time; their names are
    // generated by CloudFormation, so they are named here by this environment's tags (their own).
    new iam.PolicyStatement({
      sid: 'RestoreIntoThisEnvironmentsGroups',
      actions: ['rds:RestoreDBInstanceToPointInTime'],
      resources: [rdsArn('subgrp:*'), rdsArn('pg:*')],
      conditions: { StringEquals: { 'aws:ResourceTag/Project': naming.project, 'aws:ResourceTag/EnvironmentSuffix': naming.suffix } },
    }),
    // Tags on create are authorized as rds:AddTagsToResource too.
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/security_iam_id-based-policy-examples-grant-permissions-tags-on-create.html
    new iam.PolicyStatement({
      sid: 'TagAndDeleteDrillInstances',
      actions: ['rds:AddTagsToResource', 'rds:DeleteDBInstance'],
      resources: [drillInstances],
    }),
    // DescribeDBInstances without an identifier (the sweeper's listing) is authorized against db:*.
    new iam.PolicyStatement({
      sid: 'DescribeInstances',
      actions: ['rds:DescribeDBInstances'],
      resources: [rdsArn('db:*')],
    }),
    new iam.PolicyStatement({
      sid: 'RdsGrantOnDatabaseKey',
      actions: ['kms:CreateGrant'],
      resources: [keyResource],
      conditions: { StringEquals: viaRds, 'ForAnyValue:StringEquals': ofDatabaseKey, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    }),
    new iam.PolicyStatement({
      sid: 'DescribeDatabaseKey',
      actions: ['kms:DescribeKey'],
      resources: [keyResource],
      conditions: { StringEquals: viaRds, 'ForAnyValue:StringEquals': ofDatabaseKey },
    }),
    // The restored copy's DbiResourceId is unknown until it exists, so the login is granted on every
    // instance (dbuser:*): it is the drill's own user, which reaches no PHI (see migration 12).
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html
    new iam.PolicyStatement({
      sid: 'ConnectAsDrillUser',
      actions: ['rds-db:connect'],
      resources: [`arn:${partition}:rds-db:${region}:${account}:dbuser:*/${DRILL_DB_USER}`],
    }),
  ];
}
