import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { RestoreDrillSettings } from '../../../lib/config';
import { RestoreDrill } from '../../../lib/constructs/restore-drill';
import { DRILL_TIMESTAMP_LENGTH, Naming } from '../../../lib/contract';
import { drillInstanceId } from '../../../lib/processor/restore-drill';
import { constructTestApp, getAtt, logicalIdOf, statementsOfRole, testConfig, testStack } from '../../helpers';

const ACCOUNT = '333333333333';
const REGION = 'eu-west-2';
const PREFIX = 'hipaa-fhir-drill-prod-';
const DB_KEY_ALIAS = 'alias/hipaa-fhir/prod/database';

type Doc = { Statement: Array<Record<string, unknown>> };

function build(settings: RestoreDrillSettings = testConfig({ profile: 'production' }).restoreDrill) {
  const stack = testStack({ env: { account: ACCOUNT, region: REGION } }, 'Drill');
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    availabilityZones: ['eu-west-2a', 'eu-west-2b'],
    natGateways: 0,
    subnetConfiguration: [{ name: 'workload', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  });
  const securityGroup = new ec2.SecurityGroup(stack, 'Workload', { vpc, allowAllOutbound: false });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc, clusterName: 'hipaa-fhir-cluster-prod' });
  const database = rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, 'Db', {
    instanceIdentifier: 'hipaa-fhir-db-prod',
    instanceEndpointAddress: 'db.internal',
    port: 5432,
    securityGroups: [],
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16_13 }),
  });
  const drill = new RestoreDrill(stack, 'RestoreDrill', {
    cluster,
    image: ecs.ContainerImage.fromRegistry('example/processor:test'),
    subnets: { subnetGroupName: 'workload' },
    securityGroup,
    database,
    databaseName: 'fhir',
    naming: new Naming('hipaa-fhir', 'prod'),
    settings,
    logGroup: new logs.LogGroup(stack, 'Logs'),
    alarmTopic: new sns.Topic(stack, 'Alarms'),
  });
  return { stack, drill, vpc, securityGroup, cluster, template: Template.fromStack(stack) };
}

const built = build();

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::AccountId': ACCOUNT,
  'AWS::Region': REGION,
  'AWS::URLSuffix': 'amazonaws.com',
};
/** Resolves the pseudo parameters and joins CloudFormation leaves in a policy (everything else is literal in this stack). */
function resolve(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolve);
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.Ref === 'string' && PSEUDO[v.Ref]) return PSEUDO[v.Ref];
    if (Array.isArray(v['Fn::Join'])) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return (resolve(parts) as unknown[]).join(sep);
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
  }
  return value;
}
/** The policy document of a role's statements, as IAM evaluates it. */
const policyOf = (template: Template, role: IConstruct): Doc => ({
  Statement: statementsOfRole(template, role) as Array<Record<string, unknown>>,
});

/** Evaluates one request against the drill task role's policy with the IAM policy engine. */
async function allowed(action: string, resource: string, context: Record<string, string | string[]> = {}): Promise<boolean> {
  const result = await runSimulation(
    {
      request: {
        principal: `arn:aws:iam::${ACCOUNT}:role/hipaa-fhir-restore-drill-task-prod`,
        action,
        resource: { resource, accountId: ACCOUNT },
        contextVariables: { 'aws:SecureTransport': 'true', ...context },
      },
      identityPolicies: [
        {
          name: 'drill',
          policy: resolve({ Version: '2012-10-17', ...policyOf(built.template, built.drill.taskDefinition.taskRole) }) as Doc,
        },
      ],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      // KMS needs a key policy that lets IAM decide: the CDK default key policy of the database key.
      ...(action.startsWith('kms:')
        ? {
            resourcePolicy: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
            },
          }
        : {}),
    },
    { simulationMode: 'Strict' },
  );
  if (result.resultType === 'error') throw new Error(JSON.stringify(result.errors));
  return result.overallResult === 'Allowed';
}

const db = (id: string) => `arn:aws:rds:${REGION}:${ACCOUNT}:db:${id}`;
const drillId = drillInstanceId(PREFIX, new Date('2026-11-22T03:00:07Z'));
const notPublic = { 'rds:PubliclyAccessible': 'false' };
const ownTags = { 'aws:ResourceTag/Project': 'hipaa-fhir', 'aws:ResourceTag/EnvironmentSuffix': 'prod' };
const key = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b`;
const viaRds = { 'kms:ViaService': `rds.${REGION}.amazonaws.com`, 'kms:ResourceAliases': [DB_KEY_ALIAS] };

describe('RestoreDrill: the drill task role, evaluated by the IAM policy engine', () => {
  test('restores the live instance into a drill-named, non-public instance only', async () => {
    expect(drillId).toBe('hipaa-fhir-drill-prod-20261122030007');
    const restore = (resource: string, context: Record<string, string | string[]> = notPublic) =>
      allowed('rds:RestoreDBInstanceToPointInTime', resource, context);
    expect(await restore(db('hipaa-fhir-db-prod'))).toBe(true);
    expect(await restore(db(drillId))).toBe(true);
    expect(await restore(`arn:aws:rds:${REGION}:${ACCOUNT}:og:default:postgres-16`)).toBe(true);
    // A public copy is refused; so is any target without the drill's exact form.
    expect(await restore(db(drillId), { 'rds:PubliclyAccessible': 'true' })).toBe(false);
    expect(await restore(db('hipaa-fhir-db-prod-copy'))).toBe(false);
    expect(await restore(db('hipaa-fhir-drill-prod-2-20261122030007'))).toBe(false);
    expect(await restore(db('hipaa-fhir-drill-dev-20261122030007'))).toBe(false);
  });

  test("uses only this environment's subnet and parameter groups (by their tags)", async () => {
    const group = (kind: string, tags: Record<string, string>) =>
      allowed('rds:RestoreDBInstanceToPointInTime', `arn:aws:rds:${REGION}:${ACCOUNT}:${kind}:hipaa-fhir-data-prod-x`, tags);
    expect(await group('subgrp', ownTags)).toBe(true);
    expect(await group('pg', ownTags)).toBe(true);
    expect(await group('subgrp', { ...ownTags, 'aws:ResourceTag/EnvironmentSuffix': 'dev' })).toBe(false);
    expect(await group('pg', { 'aws:ResourceTag/Project': 'other', 'aws:ResourceTag/EnvironmentSuffix': 'prod' })).toBe(false);
    expect(await group('subgrp', {})).toBe(false);
  });

  test("tags and deletes drill instances only: never the live instance or another environment's", async () => {
    for (const action of ['rds:DeleteDBInstance', 'rds:AddTagsToResource']) {
      expect([action, await allowed(action, db(drillId))]).toEqual([action, true]);
      expect([action, await allowed(action, db('hipaa-fhir-db-prod'))]).toEqual([action, false]);
      expect([action, await allowed(action, db('hipaa-fhir-drill-prod-2-20261122030007'))]).toEqual([action, false]);
    }
    expect(await allowed('rds:DescribeDBInstances', db('*'))).toBe(true);
    expect(await allowed('rds:ModifyDBInstance', db(drillId))).toBe(false);
    expect(await allowed('rds:CreateDBSnapshot', `arn:aws:rds:${REGION}:${ACCOUNT}:snapshot:x`)).toBe(false);
  });

  test('KMS: grants on the database key only through RDS and only for AWS resources; never decrypt', async () => {
    expect(await allowed('kms:CreateGrant', key, { ...viaRds, 'kms:GrantIsForAWSResource': 'true' })).toBe(true);
    expect(await allowed('kms:DescribeKey', key, viaRds)).toBe(true);
    expect(await allowed('kms:CreateGrant', key, { ...viaRds, 'kms:GrantIsForAWSResource': 'false' })).toBe(false);
    expect(
      await allowed('kms:CreateGrant', key, {
        'kms:ViaService': `ec2.${REGION}.amazonaws.com`,
        'kms:ResourceAliases': [DB_KEY_ALIAS],
        'kms:GrantIsForAWSResource': 'true',
      }),
    ).toBe(false);
    expect(
      await allowed('kms:CreateGrant', key, {
        ...viaRds,
        'kms:ResourceAliases': ['alias/hipaa-fhir/prod/stream'],
        'kms:GrantIsForAWSResource': 'true',
      }),
    ).toBe(false);
    expect(await allowed('kms:Decrypt', key, viaRds)).toBe(false);
  });

  test("logs in to any instance as fhir_drill only (the restored copy's DbiResourceId is unknown at synth)", async () => {
    expect(await allowed('rds-db:connect', `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:db-RESTOREDCOPY/fhir_drill`)).toBe(true);
    expect(await allowed('rds-db:connect', `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:db-LIVE/fhir_processor`)).toBe(false);
    expect(await allowed('rds-db:connect', `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:db-LIVE/postgres`)).toBe(false);
  });

  test('the identifiers the runtime generates are exactly the ones the IAM pattern admits', async () => {
    const at = new Date('2026-12-06T03:00:07.123Z');
    const id = drillInstanceId(PREFIX, at);
    expect(id.length).toBe(PREFIX.length + DRILL_TIMESTAMP_LENGTH);
    expect(await allowed('rds:DeleteDBInstance', `arn:aws:rds:${REGION}:${ACCOUNT}:db:${id}`)).toBe(true);
    // Another environment whose suffix starts like this one's (prod-2) is never matched.
    expect(
      await allowed('rds:DeleteDBInstance', `arn:aws:rds:${REGION}:${ACCOUNT}:db:${drillInstanceId('hipaa-fhir-drill-prod-2-', at)}`),
    ).toBe(false);
  });
});

describe('RestoreDrill: task, schedule and alarms', () => {
  const { template } = built;

  test("the task runs the processor image's restore-drill.js, hardened, as the drill login with IAM authentication and TLS", () => {
    template.resourceCountIs('AWS::ECS::TaskDefinition', 1);
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Family: 'hipaa-fhir-restore-drill-prod',
      RequiresCompatibilities: ['FARGATE'],
      Cpu: '256',
      Memory: '512',
    });
    const [container] = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0].Properties.ContainerDefinitions as Array<
      Record<string, unknown>
    >;
    expect(container).toMatchObject({
      Command: ['node', 'dist/processor/restore-drill.js'],
      ReadonlyRootFilesystem: true,
      User: '1000',
      Image: 'example/processor:test',
    });
    expect(container.Secrets).toBeUndefined();
    expect(Object.fromEntries((container.Environment as Array<{ Name: string; Value: string }>).map((e) => [e.Name, e.Value]))).toEqual({
      AWS_REGION: REGION,
      PROJECT: 'hipaa-fhir',
      ENVIRONMENT_SUFFIX: 'prod',
      DRILL_SOURCE_INSTANCE: 'hipaa-fhir-db-prod',
      DRILL_INSTANCE_PREFIX: PREFIX,
      DB_NAME: 'fhir',
      DB_USER: 'fhir_drill',
      DB_SSL_MODE: 'verify-full',
      DRILL_RPO_TARGET_MINUTES: '15',
      DRILL_RTO_TARGET_MINUTES: '120',
      DRILL_AVAILABLE_TIMEOUT_MINUTES: '240',
      DRILL_TTL_MINUTES: '420',
      METRICS: 'emf',
      AWS_EMF_ENVIRONMENT: 'Local',
    });
  });

  test('EventBridge runs exactly this task on the configured schedule, in the isolated subnets, with no public IP', () => {
    const { drill } = built;
    const taskId = logicalIdOf(drill.taskDefinition);
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'hipaa-fhir-restore-drill-prod',
      ScheduleExpression: 'cron(0 3 ? * SUN *)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          EcsParameters: {
            TaskDefinitionArn: { Ref: taskId },
            TaskCount: 1,
            LaunchType: 'FARGATE',
            PlatformVersion: 'LATEST',
            NetworkConfiguration: {
              AwsVpcConfiguration: {
                AssignPublicIp: 'DISABLED',
                SecurityGroups: [getAtt(built.securityGroup, 'GroupId')],
                Subnets: [{ Ref: Match.stringLikeRegexp('^VpcworkloadSubnet1') }, { Ref: Match.stringLikeRegexp('^VpcworkloadSubnet2') }],
              },
            },
          },
          RoleArn: getAtt(drill.taskDefinition.node.findChild('EventsRole')),
        }),
      ],
    });
    // The schedule's role runs this task definition on this cluster and passes exactly the two drill roles.
    const events = policyOf(template, drill.taskDefinition.node.findChild('EventsRole'));
    expect(events.Statement.find((s) => s.Action === 'ecs:RunTask')).toMatchObject({
      Resource: { Ref: taskId },
      Condition: { ArnEquals: { 'ecs:cluster': getAtt(built.cluster) } },
    });
    const passed = events.Statement.filter((s) => s.Action === 'iam:PassRole').flatMap((s) =>
      Array.isArray(s.Resource) ? s.Resource : [s.Resource],
    );
    expect(passed).toEqual([getAtt(drill.taskDefinition.obtainExecutionRole()), getAtt(drill.taskDefinition.taskRole)]);
  });

  test('alarms: RPO and RTO over their targets, a failed drill, and no success in the calendar week (wall clock, missing data breaching), to the alarm topic', () => {
    const alarms = Object.fromEntries(
      Object.entries(template.findResources('AWS::CloudWatch::Alarm')).map(([id, r]) => [
        id.replace(/^RestoreDrill/, '').replace(/[0-9A-F]{8}$/, ''),
        r.Properties,
      ]),
    );
    const [topicId] = Object.keys(template.findResources('AWS::SNS::Topic'));
    const common = {
      Namespace: 'HipaaFhir/RestoreDrill',
      Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'hipaa-fhir-db-prod' }],
      AlarmActions: [{ Ref: topicId }],
      EvaluationPeriods: 1,
    };
    expect(alarms).toEqual({
      RpoOverTarget: expect.objectContaining({
        ...common,
        MetricName: 'RecoveryPointSeconds',
        Statistic: 'Maximum',
        Threshold: 900,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'ignore',
      }),
      RtoOverTarget: expect.objectContaining({
        ...common,
        MetricName: 'RecoveryTimeSeconds',
        Statistic: 'Maximum',
        Threshold: 7200,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'ignore',
      }),
      DrillFailed: expect.objectContaining({
        ...common,
        MetricName: 'DrillSucceeded',
        Statistic: 'Minimum',
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'ignore',
      }),
      DrillOverdue: expect.objectContaining({
        ...common,
        MetricName: 'DrillSucceeded',
        Statistic: 'Maximum',
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
        Period: 604800,
        EvaluationWindow: { WallClockWindow: { Timezone: 'UTC' } },
      }),
    });
  });

  test('targets and schedule come from the configuration: a daily drill with other targets', () => {
    const { template: daily } = build(
      testConfig({ profile: 'production', restoreDrill: { schedule: 'cron(30 1 * * ? *)', rpoTargetMinutes: 10, rtoTargetMinutes: 45 } })
        .restoreDrill,
    );
    daily.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(30 1 * * ? *)' });
    daily.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'RecoveryPointSeconds', Threshold: 600 });
    daily.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'RecoveryTimeSeconds', Threshold: 2700 });
    daily.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'DrillSucceeded',
      Statistic: 'Maximum',
      Period: 86400,
      EvaluationWindow: { WallClockWindow: { Timezone: 'UTC' } },
    });
    // The wait is bounded by twice the RTO target (at least an hour), the TTL three hours beyond it.
    const [task] = Object.values(daily.findResources('AWS::ECS::TaskDefinition'));
    const env = Object.fromEntries(
      (task.Properties.ContainerDefinitions as Array<{ Environment: Array<{ Name: string; Value: string }> }>)[0].Environment.map((e) => [
        e.Name,
        e.Value,
      ]),
    );
    expect([env.DRILL_AVAILABLE_TIMEOUT_MINUTES, env.DRILL_TTL_MINUTES]).toEqual(['90', '270']);
  });

  test('a prefix that would not leave room for the timestamp is refused', () => {
    const stack = new Stack(constructTestApp(), 'Bad', { env: { account: ACCOUNT, region: REGION } });
    // Checked before anything else is built, so only these two props matter here. The longest
    // project and suffix leave room (12 + 20 characters), so a naming that does not is made by hand.
    const naming = Object.assign(Object.create(Naming.prototype) as Naming, { project: 'p', suffix: 'x'.repeat(44) });
    const props = { database: { engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16_13 }) }, naming };
    expect(() => new RestoreDrill(stack, 'Drill', props as unknown as ConstructorParameters<typeof RestoreDrill>[2])).toThrow(
      `RestoreDrill instance prefix "p-drill-${'x'.repeat(44)}-" must leave 14 of RDS's 63 characters: shorten project or environmentSuffix`,
    );
    // Every valid project and suffix fits.
    expect(new Naming('p'.repeat(12), 's'.repeat(20)).restoreDrillInstancePrefix.length + DRILL_TIMESTAMP_LENGTH).toBeLessThanOrEqual(63);
  });
});
