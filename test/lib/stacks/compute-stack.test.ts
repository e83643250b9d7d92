import { TRAIL_FILTERS } from '../../../lib/constructs/security-alarms';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { DRILL_DB_USER, RESTORE_DRILL_METRICS } from '../../../lib/contract';
import { EncryptionKey } from '../../../lib/constructs/encryption-key';
import { containerInsightsLogGroupName } from '../../../lib/constructs/processor-service';
import { rdsLogGroupName } from '../../../lib/constructs/patient-database';
import { ComputeStack } from '../../../lib/stacks/compute-stack';
import { dashboardBody, getAtt, logicalIdOf, logsKeyStatement, PolicyStatementJson, statementsOfRole, synthStage } from '../../helpers';
import { emittedDrillMetrics } from '../../helpers/emf';

const SECRET_KEY_ARN = 'arn:aws:kms:eu-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
/** Strong (Fn::ImportValue) and weak (Fn::GetStackOutput) references to another layer's stack. */
const imported = (layer: string, pattern: string) => ({
  'Fn::ImportValue': Match.stringLikeRegexp(`^hipaa-fhir-${layer}-cmp:ExportsOutput.*${pattern}`),
});
const fromLayer = (layer: string) => ({ 'Fn::GetStackOutput': Match.objectLike({ StackName: `hipaa-fhir-${layer}-cmp` }) });
const logKeyOf = (stack: ComputeStack) => (stack.node.findChild('ProcessorLogKey') as EncryptionKey).key;
/** The roles of every IAM policy of the template with a statement that grants a matching action, or names a matching resource. */
function rolesGranting(template: Template, match: { action?: RegExp; resource?: string }): unknown[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) =>
      (p.Properties.PolicyDocument.Statement as PolicyStatementJson[]).some(
        (st) =>
          (match.action && [st.Action].flat().some((a) => match.action!.test(a))) ||
          (match.resource !== undefined && [st.Resource].flat().includes(match.resource)),
      ),
    )
    .map((p) => p.Properties.Roles);
}

describe('ComputeStack', () => {
  const ephStage = synthStage({ environmentSuffix: 'cmp', profile: 'development' });
  // Production with a provisioned stream (the scaling bound) and a CMK-encrypted master secret.
  const prodStage = synthStage({
    environmentSuffix: 'cmp',
    profile: 'production',
    sizing: { streamShardCount: 4 },
    databaseSecretKeyArn: SECRET_KEY_ARN,
  });
  const eph = ephStage.templates.compute;
  const prod = prodStage.templates.compute;
  const { naming } = ephStage.stage.config;
  const compute = ephStage.stage.compute;
  const processorContainer = (t: Template, family: string) =>
    Object.values(t.findResources('AWS::ECS::TaskDefinition', { Properties: { Family: family } }))[0].Properties.ContainerDefinitions[0];

  test("the processor task has the profile's size and the environment's family", () => {
    eph.hasResourceProperties('AWS::ECS::TaskDefinition', { Family: naming.processorFamily, Cpu: '512', Memory: '1024' });
    prod.hasResourceProperties('AWS::ECS::TaskDefinition', { Family: naming.processorFamily, Cpu: '1024', Memory: '2048' });
    expect(naming.processorFamily).toBe('hipaa-fhir-processor-cmp');
  });

  // Issue 8, section 3: the processor logs in as its own user through IAM; no secret reaches it.
  test("the service reads the data layer's stream and database, as the configured processor user", () => {
    const env = Object.fromEntries(
      (processorContainer(eph, naming.processorFamily).Environment as Array<{ Name: string; Value: unknown }>).map((e) => [
        e.Name,
        e.Value,
      ]),
    );
    expect(ephStage.stage.config.database.processorUser).toBe('fhir_processor');
    expect(env).toMatchObject({ DB_USER: 'fhir_processor', DB_IAM_AUTH: 'true', DB_NAME: 'fhir' });
    // Fixed names stay weak references; AWS-generated endpoints are imported strongly.
    expect(env.STREAM_NAME).toEqual({ 'Fn::GetStackOutput': expect.objectContaining({ StackName: 'hipaa-fhir-data-cmp' }) });
    expect(env.DB_HOST).toEqual({ 'Fn::ImportValue': expect.stringMatching(/^hipaa-fhir-data-cmp:.*EndpointAddress/) });
    expect(processorContainer(eph, naming.processorFamily).Secrets).toBeUndefined();
  });

  test("rds-db:connect on exactly that user of exactly the data layer's instance (its DbiResourceId), for the task role, the audit chain export (as fhir_auditor) and the read API's function only", () => {
    expect(rolesGranting(eph, { action: /^rds-db:/ })).toEqual([
      [{ Ref: logicalIdOf(compute.processor.taskDefinition.taskRole) }],
      [{ Ref: logicalIdOf(compute.auditChainExport.taskDefinition.taskRole) }],
      [{ Ref: logicalIdOf(compute.readApi.function.role!) }],
    ]);
    const connectAs = (user: string) => ({
      Effect: 'Allow',
      Action: 'rds-db:connect',
      Resource: {
        'Fn::Join': [
          '',
          [
            'arn:aws:rds-db:eu-west-2:',
            { Ref: 'AWS::AccountId' },
            ':dbuser:',
            { 'Fn::ImportValue': expect.stringMatching(/^hipaa-fhir-data-cmp:.*DbiResourceId/) },
            `/${user}`,
          ],
        ],
      },
    });
    // Strong reference (Fn::ImportValue): the DbiResourceId cannot go stale in this stack (see reference-strength.ts).
    expect(statementsOfRole(eph, compute.auditChainExport.taskDefinition.taskRole)).toContainEqual(connectAs('fhir_auditor'));
    expect(statementsOfRole(eph, compute.processor.taskDefinition.taskRole)).toContainEqual(connectAs('fhir_processor'));
    // The read API's function connects as its own login only, never as the processor's.
    expect(statementsOfRole(eph, compute.readApi.function.role!).filter((s) => s.Action === 'rds-db:connect')).toEqual([
      connectAs('fhir_api'),
    ]);
  });

  test('the audit chain export runs hourly as fhir_auditor with IAM authentication, and may only read its place and write exports in the archive', () => {
    const task = Object.values(eph.findResources('AWS::ECS::TaskDefinition', { Properties: { Family: naming.auditChainNames.family } }))[0];
    const [container] = task.Properties.ContainerDefinitions;
    expect(container.Command.slice(0, 4)).toEqual(['node', 'dist/processor/tasks/audit-chain/main.js', 'export', '--archive-bucket']);
    expect(container.Environment).toEqual(
      expect.arrayContaining([
        { Name: 'DB_USER', Value: 'fhir_auditor' },
        { Name: 'DB_IAM_AUTH', Value: 'true' },
        { Name: 'DB_SSL_MODE', Value: 'verify-full' },
      ]),
    );
    const actions = statementsOfRole(eph, compute.auditChainExport.taskDefinition.taskRole)
      .flatMap((st: { Action: string | string[] }) => [st.Action].flat())
      .filter((a: string) => a.startsWith('s3:'));
    // Reads and puts only: no delete, no version or retention change, no lock bypass.
    expect(actions.filter((a: string) => /Delete|Retention|LegalHold|Bypass|PutBucket|PutObjectAcl/.test(a))).toEqual([]);
    expect(actions).toEqual(expect.arrayContaining(['s3:PutObject', 's3:GetObject*']));
  });

  test("the master secret is read only by the one-off migration task and the rotation function, never by the service's execution role", () => {
    expect(rolesGranting(eph, { action: /^secretsmanager:(GetSecretValue|\*)$/ })).toEqual([
      [{ Ref: logicalIdOf(compute.migration.taskDefinition.obtainExecutionRole()) }],
      [{ Ref: logicalIdOf(compute.secretRotation!.role) }],
    ]);
    const migrate = processorContainer(eph, naming.migrationFamily);
    expect(naming.migrationFamily).toBe('hipaa-fhir-migrate-cmp');
    expect((migrate.Secrets as Array<{ Name: string; ValueFrom: unknown }>).map((s) => s.Name).sort()).toEqual(['DB_PASSWORD', 'DB_USER']);
    const secretField = (field: string) => ({
      'Fn::Join': [
        '',
        ['arn:aws:secretsmanager:eu-west-2:', { Ref: 'AWS::AccountId' }, `:secret:hipaa-fhir/cmp/db-credentials:${field}::`],
      ],
    });
    expect(migrate.Secrets).toEqual([
      { Name: 'DB_USER', ValueFrom: secretField('username') },
      { Name: 'DB_PASSWORD', ValueFrom: secretField('password') },
    ]);
    // It runs the same image as the service.
    expect(migrate.Image).toEqual(processorContainer(eph, naming.processorFamily).Image);
  });

  test('migrations run (a Trigger starting the migration task) before the service is created or updated', () => {
    const [triggerId] = Object.keys(eph.findResources('Custom::Trigger'));
    eph.hasResource('AWS::ECS::Service', { DependsOn: Match.arrayWith([triggerId]) });
    // Every Lambda of the stack (trigger and its provider) logs into the encrypted deploy-hooks group.
    const [groupId] = Object.keys(
      eph.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: naming.logGroupNames.deployHooks } }),
    );
    expect(naming.logGroupNames.deployHooks).toBe('/hipaa-fhir/cmp/deploy-hooks');
    eph.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/hipaa-fhir/cmp/deploy-hooks',
      KmsKeyId: getAtt(logKeyOf(compute)),
      RetentionInDays: 7,
    });
    // ...except the read API's and the rotation's functions, which log into groups of their own.
    const ownGroups = [logicalIdOf(compute.readApi.function), logicalIdOf(compute.secretRotation!.function)];
    const hooks = Object.entries(eph.findResources('AWS::Lambda::Function')).filter(([id]) => !ownGroups.includes(id));
    expect(hooks.length).toBeGreaterThanOrEqual(2);
    for (const [, hook] of hooks) expect(hook.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: groupId } });
  });

  test('logs go to a CMK-encrypted group with profile retention; the log key admits the processor, Container Insights, deploy-hook, read API and rotation groups only', () => {
    eph.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/hipaa-fhir/cmp/processor',
      RetentionInDays: 7,
      KmsKeyId: getAtt(logKeyOf(compute)),
    });
    const logArn = (name: string) => ({ 'Fn::Join': ['', ['arn:aws:logs:eu-west-2:', { Ref: 'AWS::AccountId' }, `:log-group:${name}`]] });
    eph.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          logsKeyStatement([
            logArn('/hipaa-fhir/cmp/processor'),
            logArn(containerInsightsLogGroupName('hipaa-fhir-cluster-cmp')),
            logArn('/hipaa-fhir/cmp/deploy-hooks'),
            logArn('/hipaa-fhir/cmp/read-api'),
            logArn('/hipaa-fhir/cmp/audit/read-api-access'),
            logArn('/hipaa-fhir/cmp/db-rotation'),
          ]),
        ]),
      },
    });
    eph.hasOutput('ProcessorLogKeyArn', { Value: getAtt(logKeyOf(compute)) });
  });

  test("the service runs in the network layer's workload subnets and group, not the database subnets", () => {
    eph.hasResourceProperties('AWS::ECS::Service', {
      DesiredCount: 1,
      NetworkConfiguration: {
        AwsvpcConfiguration: {
          AssignPublicIp: 'DISABLED',
          Subnets: [imported('network', 'workloadSubnet1'), imported('network', 'workloadSubnet2')],
          SecurityGroups: [imported('network', 'WorkloadSecurityGroup')],
        },
      },
    });
    eph.hasResourceProperties('AWS::ECS::Cluster', { ClusterName: naming.clusterName });
    expect(naming.clusterName).toBe('hipaa-fhir-cluster-cmp');
  });

  // Issue 8, defect 2: a CMK-encrypted master secret needs its key on the role that reads it.
  test('a CMK-encrypted secret (databaseSecretKeyArn): the migration execution role and the rotation role may use that key only', () => {
    expect(rolesGranting(prod, { resource: SECRET_KEY_ARN })).toEqual([
      [{ Ref: logicalIdOf(prodStage.stage.compute.migration.taskDefinition.obtainExecutionRole()) }],
      [{ Ref: logicalIdOf(prodStage.stage.compute.secretRotation!.role) }],
    ]);
    prod.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([{ Action: 'kms:Decrypt', Effect: 'Allow', Resource: SECRET_KEY_ARN }]) },
    });
    eph.resourcePropertiesCountIs(
      'AWS::IAM::Policy',
      { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Resource: Match.stringLikeRegexp(':kms:') })]) } },
      0,
    );
  });

  test('scaling is bounded by the profile and the shard count; none when min equals max', () => {
    eph.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
    expect(prodStage.stage.config.processor).toMatchObject({ minTasks: 2, maxTasks: 4 });
    prod.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 4 });
    prod.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      StepScalingPolicyConfiguration: Match.objectLike({ AdjustmentType: 'ChangeInCapacity' }),
    });
  });

  test("the processor's alarms watch the data layer's stream and notify the audit layer's topic, with the profile's task minimum", () => {
    expect(compute.alarms.alarms).toHaveLength(4);
    eph.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    const notifying = eph.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmActions: [fromLayer('audit')] } });
    expect(Object.keys(notifying).sort()).toEqual(compute.alarms.alarms.map(logicalIdOf).sort());
    eph.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ShardStuck',
      Dimensions: [{ Name: 'StreamName', Value: fromLayer('data') }],
    });
    eph.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'RunningTaskCount', Threshold: 1 });
    prod.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'RunningTaskCount', Threshold: 2 });
  });

  // Issue 8, defect 6: Container Insights' performance log group exists before the cluster, encrypted.
  test("Container Insights writes into a group of ours with the profile's retention and removal", () => {
    for (const [stage, template, retention, deletion] of [
      [ephStage, eph, 7, 'Delete'],
      [prodStage, prod, 2192, 'Retain'],
    ] as const) {
      template.hasResource('AWS::Logs::LogGroup', {
        Properties: {
          LogGroupName: '/aws/ecs/containerinsights/hipaa-fhir-cluster-cmp/performance',
          RetentionInDays: retention,
          KmsKeyId: getAtt(logKeyOf(stage.stage.compute)),
        },
        DeletionPolicy: deletion,
      });
    }
  });

  test("production: the restore drill of the stage's own live instance, as the drill login, with its outputs; development: none", () => {
    const prodNaming = prodStage.stage.config.naming;
    const drill = prodStage.stage.compute.restoreDrill!;
    prod.hasResourceProperties('AWS::ECS::TaskDefinition', { Family: prodNaming.restoreDrillNames.family });
    prod.hasResourceProperties('AWS::Events::Rule', { Name: prodNaming.restoreDrillNames.rule });
    prod.hasOutput('RestoreDrillTaskDefinitionArn', { Value: { Ref: logicalIdOf(drill.taskDefinition) } });
    prod.hasOutput('RestoreDrillRuleName', { Value: { Ref: logicalIdOf(drill.rule) } });
    const env = Object.fromEntries(
      (processorContainer(prod, prodNaming.restoreDrillNames.family).Environment as Array<{ Name: string; Value: unknown }>).map((e) => [
        e.Name,
        e.Value,
      ]),
    );
    expect(env).toMatchObject({
      DRILL_INSTANCE_PREFIX: prodNaming.restoreDrillInstancePrefix,
      DB_USER: DRILL_DB_USER,
      PROJECT: 'hipaa-fhir',
      ENVIRONMENT_SUFFIX: 'cmp',
    });
    expect(env.DRILL_SOURCE_INSTANCE).toEqual({ 'Fn::ImportValue': expect.stringMatching(/^hipaa-fhir-data-cmp:.*DatabaseInstance/) });
    const statements = statementsOfRole(prod, drill.taskDefinition.taskRole);
    const rdsArn = (resource: unknown[]) => ({ 'Fn::Join': ['', ['arn:aws:rds:eu-west-2:', { Ref: 'AWS::AccountId' }, ...resource]] });
    expect(statements).toContainEqual(
      expect.objectContaining({
        Sid: 'RestoreLiveIntoDrillInstance',
        Resource: [
          rdsArn([':db:', { 'Fn::ImportValue': expect.stringMatching(/^hipaa-fhir-data-cmp:.*DatabaseInstance/) }]),
          rdsArn([`:db:${prodNaming.restoreDrillInstancePrefix}??????????????`]),
          rdsArn([':og:default:postgres-16']),
        ],
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Sid: 'RdsGrantOnDatabaseKey',
        Condition: expect.objectContaining({ 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': prodNaming.kmsAlias('database') } }),
      }),
    );
    // Development (off by default): no drill, no outputs.
    expect(ephStage.stage.compute.restoreDrill).toBeUndefined();
    // (The one rule is the hourly audit chain export.)
    eph.resourceCountIs('AWS::Events::Rule', 1);
    eph.hasResourceProperties('AWS::Events::Rule', {
      Name: ephStage.stage.config.naming.auditChainNames.rule,
      ScheduleExpression: 'rate(1 hour)',
    });
    expect(Object.keys(eph.findOutputs('*')).filter((k) => k.startsWith('RestoreDrill'))).toEqual([]);
  });

  test('the operations dashboard: named for the environment, linked from the outputs', () => {
    prod.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'hipaa-fhir-operations-cmp' });
    prod.hasOutput('DashboardName', { Value: 'hipaa-fhir-operations-cmp' });
    prod.hasOutput('DashboardUrl', {
      Value: 'https://eu-west-2.console.aws.amazon.com/cloudwatch/home?region=eu-west-2#dashboards/dashboard/hipaa-fhir-operations-cmp',
    });
  });

  test("the dashboard's alarm widget shows every alarm of the environment: the processor's, the audit layer's security alarms and the restore drill's", () => {
    const [widget] = dashboardBody(prod).widgets.filter((w) => w.type === 'alarm');
    const securityAlarms = prodStage.templates.audit.findResources('AWS::CloudWatch::Alarm');
    const drill = prodStage.stage.compute.restoreDrill!;
    // (The service's step-scaling alarms are policy triggers, not alarms an engineer acts on.)
    expect(prodStage.stage.compute.alarms.alarms).toHaveLength(4);
    expect(Object.keys(securityAlarms)).toHaveLength(Object.keys(TRAIL_FILTERS).length + 1); // dedicated trail (production): the trail alarms and the database one
    expect(Object.keys(drill.alarms)).toEqual(['rpo', 'rto', 'failed', 'overdue']);
    expect(widget.properties.alarms).toEqual([
      ...prodStage.stage.compute.alarms.alarms.map((a) => `<${logicalIdOf(a)}.Arn>`),
      // The audit layer's alarms, by reference to that stack.
      ...Object.keys(securityAlarms).map(() => '<REF>'),
      ...Object.values(drill.alarms).map((a) => `<${logicalIdOf(a)}.Arn>`),
    ]);
  });

  test("the dashboard's restore-drill row (production: the drill runs) graphs RPO and RTO against the targets over 90 days; development has none", async () => {
    const widgets = dashboardBody(prod).widgets;
    const rpoRto = widgets.find((w) => w.properties.title === 'Recovery point and recovery time')!;
    const drillMetrics = (rpoRto.properties.metrics ?? []).map((row) => row.filter((x): x is string => typeof x === 'string').slice(0, 2));
    expect(drillMetrics).toEqual([
      [RESTORE_DRILL_METRICS.namespace, RESTORE_DRILL_METRICS.rpo],
      [RESTORE_DRILL_METRICS.namespace, RESTORE_DRILL_METRICS.rto],
    ]);
    expect(rpoRto.properties).toMatchObject({
      start: '-P90D',
      period: 86400,
      annotations: {
        horizontal: [
          { value: 900, label: 'RPO target' },
          { value: 7200, label: 'RTO target' },
        ],
      },
    });
    // What the drill emits (its EMF output): these names, with the dimension the dashboard uses.
    const emitted = await emittedDrillMetrics();
    for (const name of [RESTORE_DRILL_METRICS.rpo, RESTORE_DRILL_METRICS.rto, RESTORE_DRILL_METRICS.succeeded]) {
      expect([name, emitted.get(name)]).toEqual([
        name,
        { namespace: RESTORE_DRILL_METRICS.namespace, dimensionSets: [[RESTORE_DRILL_METRICS.dimension]] },
      ]);
    }
    expect(dashboardBody(eph).widgets.some((w) => w.properties.markdown?.startsWith('## Restore drill'))).toBe(false);
  });

  test("the dashboard links to the environment's log groups by name (the trail's only where it has one)", () => {
    const logs = (t: Template) => dashboardBody(t).widgets.find((w) => w.properties.markdown?.startsWith('## Logs'))!.properties.markdown!;
    for (const name of [
      '/hipaa-fhir/cmp/processor',
      '/hipaa-fhir/cmp/audit/application',
      rdsLogGroupName('hipaa-fhir-db-cmp', 'postgresql'),
      '/hipaa-fhir/cmp/vpc-flow-logs',
      '/hipaa-fhir/cmp/deploy-hooks',
      '/hipaa-fhir/cmp/audit/cloudtrail',
    ]) {
      expect(logs(prod)).toContain(`\`${name}\``);
      expect(logs(prod)).toContain(`log-group/${name.replace(/\//g, '$252F')})`);
    }
    expect(logs(eph)).not.toContain('cloudtrail');
  });

  test('a stage deployed by hand has no post-deploy role', () => {
    expect(compute.postDeployRole).toBeUndefined();
    expect(eph.findOutputs('PostDeployRoleArn')).toEqual({});
    eph.hasOutput('ProcessorClusterName', { Value: { Ref: logicalIdOf(compute.processor.cluster) } });
    eph.hasOutput('ProcessorLogGroupName', { Value: { Ref: logicalIdOf(compute.processor.logGroup) } });
  });
});
