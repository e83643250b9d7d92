import { readFileSync } from 'fs';
import { join } from 'path';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Match } from 'aws-cdk-lib/assertions';
import { PROCESSOR_DB_USER } from '../../../lib/contract';
import { PROCESSOR_DB_USER as SCHEMA_PROCESSOR_DB_USER } from '../../../lib/processor/db/schema';
import { resourcesOf, synthStage } from '../../helpers';

describe('ComputeStack', () => {
  const ephStage = synthStage({ environmentSuffix: 'cmp', profile: 'development' });
  const eph = ephStage.templates.compute;
  const prod = synthStage({ environmentSuffix: 'cmp', profile: 'production', sizing: { streamShardCount: 4 } }).templates.compute;
  const prodOnDemand = synthStage({ environmentSuffix: 'cmp', profile: 'production' }).templates.compute;
  const withKey = synthStage({ environmentSuffix: 'cmp', databaseSecretKeyArn: 'arn:aws:kms:eu-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b' }).templates.compute;

  const container = () => (resourcesOf(eph).find(([, r]) => r.Type === 'AWS::ECS::TaskDefinition')![1].Properties!.ContainerDefinitions as Array<Record<string, unknown>>)[0];

  test('the container is hardened: read-only root filesystem, non-root, health check, time to drain on stop', () => {
    expect(container()).toMatchObject({
      ReadonlyRootFilesystem: true,
      User: '1000',
      Essential: true,
      StopTimeout: 120,
      HealthCheck: { Command: ['CMD', 'node', 'dist/processor/health.js'], StartPeriod: 60 },
    });
    eph.hasResourceProperties('AWS::ECS::TaskDefinition', { RequiresCompatibilities: ['FARGATE'], NetworkMode: 'awsvpc', Cpu: '512', Memory: '1024' });
  });

  // Issue 8, section 3: the processor logs in as its own user through IAM; no secret reaches it.
  test('the service logs in as fhir_processor with IAM authentication and receives no secret', () => {
    const c = container();
    expect(c.Secrets).toBeUndefined();
    const env = Object.fromEntries((c.Environment as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));
    expect(Object.keys(env)).not.toContain('DB_PASSWORD');
    expect(env).toMatchObject({ DB_USER: 'fhir_processor', DB_IAM_AUTH: 'true', DB_MIGRATE_ON_START: 'false', DB_SSL_MODE: 'verify-full', AWS_REGION: 'eu-west-2', AWS_EMF_ENVIRONMENT: 'Local' });
    expect(JSON.stringify(env.STREAM_NAME)).toContain('hipaa-fhir-data-cmp');
    expect(SCHEMA_PROCESSOR_DB_USER).toBe(PROCESSOR_DB_USER);
  });

  test('rds-db:connect on exactly that user of exactly this instance (its DbiResourceId), for the task role only', () => {
    const connects = resourcesOf(eph).filter(([, r]) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties).includes('rds-db:'));
    expect(connects.map(([id]) => id)).toEqual([expect.stringMatching(/^ProcessorTaskRoleDefaultPolicy/)]);
    const statement = (connects[0][1].Properties!.PolicyDocument as { Statement: Array<{ Action: unknown; Resource: unknown }> }).Statement.find((st) => st.Action === 'rds-db:connect')!;
    // Strong reference (Fn::ImportValue): the DbiResourceId cannot go stale in this stack (see reference-strength.ts).
    expect(statement.Resource).toEqual({ 'Fn::Join': ['', ['arn:aws:rds-db:eu-west-2:', { Ref: 'AWS::AccountId' }, ':dbuser:', { 'Fn::ImportValue': expect.stringMatching(/^hipaa-fhir-data-cmp:.*DbiResourceId/) }, '/fhir_processor']] });
  });

  test('the master secret is read only by the one-off migration task, never by the service\'s execution role', () => {
    const policies = resourcesOf(eph).filter(([, r]) => r.Type === 'AWS::IAM::Policy');
    const readers = policies.filter(([, r]) => JSON.stringify(r.Properties).includes('secretsmanager:GetSecretValue')).map(([id]) => id);
    expect(readers).toEqual([expect.stringMatching(/^MigrationExecutionRoleDefaultPolicy/)]);
    const [, taskDef] = resourcesOf(eph).find(([, r]) => r.Type === 'AWS::ECS::TaskDefinition' && r.Properties?.Family === 'hipaa-fhir-migrate-cmp')!;
    const migrate = (taskDef.Properties!.ContainerDefinitions as Array<Record<string, unknown>>)[0];
    expect(migrate).toMatchObject({ Command: ['node', 'dist/processor/migrate-main.js'], ReadonlyRootFilesystem: true, User: '1000' });
    expect((migrate.Secrets as Array<{ Name: string; ValueFrom: unknown }>).map((s) => s.Name).sort()).toEqual(['DB_PASSWORD', 'DB_USER']);
    for (const s of migrate.Secrets as Array<{ ValueFrom: unknown }>) expect(JSON.stringify(s.ValueFrom)).toMatch(/secret:hipaa-fhir\/cmp\/db-credentials:(username|password)::/);
  });

  test('migrations run (a Trigger starting the migration task) before the service is created or updated', () => {
    const [triggerId, trigger] = resourcesOf(eph).find(([, r]) => r.Type === 'Custom::Trigger')!;
    expect((trigger as { DependsOn?: string[] }).DependsOn).toEqual([expect.stringMatching(/^MigrationTask/)]);
    const [, service] = resourcesOf(eph).find(([, r]) => r.Type === 'AWS::ECS::Service')!;
    expect((service as { DependsOn?: string[] }).DependsOn).toContain(triggerId);
    const [, fn] = resourcesOf(eph).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('MigrationRun'))!;
    expect(JSON.stringify(fn.Properties!.Environment)).toContain('MigrationTask');
    expect((fn.Properties!.Code as { ZipFile: string }).ZipFile).toContain("c.exitCode !== 0");
    // Every Lambda of the stack (trigger and its provider) logs into the encrypted deploy-hooks group.
    const [groupId] = resourcesOf(eph).find(([, r]) => r.Type === 'AWS::Logs::LogGroup' && r.Properties?.LogGroupName === '/hipaa-fhir/cmp/deploy-hooks')!;
    for (const [, f] of resourcesOf(eph).filter(([, r]) => r.Type === 'AWS::Lambda::Function')) expect(f.Properties!.LoggingConfig).toEqual({ LogGroup: { Ref: groupId } });
  });

  test('the image is built from the processor Dockerfile as a CDK asset', () => {
    // The stack's asset manifest: one container image, built with lib/processor/Dockerfile from the
    // repository root, whose staged Dockerfile is the processor's; the task runs exactly that image.
    const assembly = ephStage.stage.synth();
    const manifests = assembly.artifacts.filter((a): a is cxapi.AssetManifestArtifact => a instanceof cxapi.AssetManifestArtifact && a.id.startsWith(ephStage.stage.compute.artifactId));
    expect(manifests).toHaveLength(1);
    const images = Object.entries(manifests[0].contents.dockerImages ?? {});
    expect(images).toHaveLength(1);
    const [hash, image] = images[0];
    expect(image.source.dockerFile).toBe('lib/processor/Dockerfile');
    expect(image.source.directory).toBeDefined();
    const staged = join(assembly.directory, image.source.directory!);
    expect(readFileSync(join(staged, 'lib/processor/Dockerfile'), 'utf8')).toBe(readFileSync(join(__dirname, '../../../lib/processor/Dockerfile'), 'utf8'));
    expect(JSON.stringify(container().Image)).toMatch(new RegExp(`cdk-hnb659fds-container-assets-[^"]*:${hash}`));
  });

  test('logs go to a CMK-encrypted group with profile retention', () => {
    expect(container().LogConfiguration).toMatchObject({ LogDriver: 'awslogs', Options: { 'awslogs-group': { Ref: expect.stringMatching(/^ProcessorLogs/) }, 'awslogs-stream-prefix': 'processor', mode: 'non-blocking' } });
    eph.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hipaa-fhir/cmp/processor', RetentionInDays: 7, KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('ProcessorLogKey'), 'Arn'] } });
  });

  test('the service runs in the isolated workload subnets with no public IP, and rolls back a failed deployment', () => {
    eph.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      DesiredCount: 1,
      DeploymentConfiguration: Match.objectLike({ DeploymentCircuitBreaker: { Enable: true, Rollback: true }, MinimumHealthyPercent: 100 }),
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED' }) },
      EnableExecuteCommand: false,
    });
    const svc = resourcesOf(eph).find(([, r]) => r.Type === 'AWS::ECS::Service')![1];
    const net = JSON.stringify(svc.Properties!.NetworkConfiguration);
    expect(net).toMatch(/workloadSubnet1/);
    expect(net).not.toMatch(/databaseSubnet/);
    expect(net).toMatch(/WorkloadSecurityGroup/);
    eph.hasResourceProperties('AWS::ECS::Cluster', { ClusterName: 'hipaa-fhir-cluster-cmp', ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
  });

  test('least privilege: the task reads the stream, decrypts with its key and connects as its user, nothing else', () => {
    const policies = resourcesOf(eph).filter(([, r]) => r.Type === 'AWS::IAM::Policy');
    const task = policies.find(([id]) => id.includes('TaskRole'))![1];
    const statements = (task.Properties!.PolicyDocument as { Statement: Array<{ Action: string | string[]; Resource: unknown }> }).Statement;
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions.every((a) => a.startsWith('kinesis:') || a === 'kms:Decrypt' || a === 'rds-db:connect')).toBe(true);
    expect(actions).not.toContain('kinesis:PutRecord');
    for (const s of statements) expect(s.Resource).not.toBe('*');
    const exec = policies.find(([id]) => id.includes('ExecutionRole'))![1];
    const wildcard = (exec.Properties!.PolicyDocument as { Statement: Array<{ Action: string; Resource: unknown }> }).Statement.filter((s) => s.Resource === '*');
    expect(wildcard.map((s) => s.Action)).toEqual(['ecr:GetAuthorizationToken']);
  });

  // Issue 8, defect 2: a CMK-encrypted master secret needs its key on the role that reads it.
  test('a CMK-encrypted secret: the migration execution role may decrypt with that key only', () => {
    const decrypters = resourcesOf(withKey).filter(([, r]) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties).includes('arn:aws:kms:eu-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b')).map(([id]) => id);
    expect(decrypters).toEqual([expect.stringMatching(/^MigrationExecutionRoleDefaultPolicy/)]);
    withKey.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([{ Action: 'kms:Decrypt', Effect: 'Allow', Resource: 'arn:aws:kms:eu-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b' }]) },
    });
    eph.resourcePropertiesCountIs('AWS::IAM::Policy', { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Resource: Match.stringLikeRegexp(':kms:') })]) } }, 0);
  });

  test('scaling on iterator age, bounded by the shard count; none when min equals max', () => {
    eph.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
    prod.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 4 });
    prodOnDemand.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 8 });
    prod.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', { PolicyType: 'StepScaling', StepScalingPolicyConfiguration: Match.objectLike({ AdjustmentType: 'ChangeInCapacity' }) });
  });

  test('iterator age, quarantine rate, a stuck shard and task failures alarm to the audit topic', () => {
    const alarms = resourcesOf(eph).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(4);
    for (const [, a] of alarms) expect(JSON.stringify(a.Properties!.AlarmActions)).toContain('hipaa-fhir-audit-cmp');
    eph.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'GetRecords.IteratorAgeMilliseconds', Threshold: 300000 });
    eph.hasResourceProperties('AWS::CloudWatch::Alarm', { Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(processed > 0, 100 * quarantined / processed, 0)' })]), Threshold: 5 });
    eph.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'RunningTaskCount', Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching' });
    // The metric the processor emits for a shard it cannot move (lib/processor/metrics.ts), by stream.
    eph.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'HipaaFhir/Processor', MetricName: 'ShardStuck', Statistic: 'Maximum', Period: 60,
      Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 2,
      Dimensions: [{ Name: 'StreamName', Value: { 'Fn::GetStackOutput': Match.objectLike({ StackName: 'hipaa-fhir-data-cmp' }) } }],
    });
  });

  // Issue 8, defect 6: Container Insights' performance log group exists before the cluster, encrypted.
  test('Container Insights writes into a CMK-encrypted group of ours with profile retention and removal, created before the cluster', () => {
    for (const [template, retention, deletion] of [[eph, 7, 'Delete'], [prod, 2192, 'Retain']] as const) {
      const [groupId, group] = resourcesOf(template).find(([, r]) => r.Type === 'AWS::Logs::LogGroup' && r.Properties?.LogGroupName === '/aws/ecs/containerinsights/hipaa-fhir-cluster-cmp/performance')!;
      expect(group.Properties).toMatchObject({ RetentionInDays: retention, KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^ProcessorLogKey/), 'Arn'] } });
      expect(group.DeletionPolicy).toBe(deletion);
      const [, cluster] = resourcesOf(template).find(([, r]) => r.Type === 'AWS::ECS::Cluster')!;
      expect((cluster as { DependsOn?: string[] }).DependsOn).toContain(groupId);
      const [, key] = resourcesOf(template).find(([id, r]) => r.Type === 'AWS::KMS::Key' && id.startsWith('ProcessorLogKey'))!;
      expect(JSON.stringify(key.Properties!.KeyPolicy)).toContain('/aws/ecs/containerinsights/hipaa-fhir-cluster-cmp/performance');
    }
  });
});
