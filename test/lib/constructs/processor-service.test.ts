import { spawnSync } from 'child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as cxapi from 'aws-cdk-lib/cx-api';
import type { ProcessorSettings } from '../../../lib/config';
import { Naming, PROCESSOR_ENTRY_POINTS, PROCESSOR_ENV } from '../../../lib/contract';
import { WORKLOAD_SUBNETS } from '../../../lib/constructs/isolated-network';
import { containerInsightsLogGroupName, ProcessorService } from '../../../lib/constructs/processor-service';
import { getAtt, logicalIdOf, statementsOfRole, testConfig, testStack, testVpc } from '../../helpers';

const ROOT = join(__dirname, '..', '..', '..');
const naming = new Naming('hipaa-fhir', 'dev');

function build(settings: ProcessorSettings, image?: ecs.ContainerImage, maxRecordBytes?: number) {
  const stack = testStack();
  const vpc = testVpc(stack);
  const securityGroup = new ec2.SecurityGroup(stack, 'WorkloadSecurityGroup', { vpc, allowAllOutbound: false });
  const streamKey = new kms.Key(stack, 'StreamKey');
  const stream = new kinesis.Stream(stack, 'Stream', {
    streamName: naming.streamName,
    encryption: kinesis.StreamEncryption.KMS,
    encryptionKey: streamKey,
  });
  const instance = new rds.DatabaseInstance(stack, 'Database', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16_13 }),
    vpc,
    vpcSubnets: { subnetGroupName: 'database' },
  });
  const logKey = new kms.Key(stack, 'LogKey');
  const processor = new ProcessorService(stack, 'Processor', {
    naming,
    vpc,
    subnetGroupName: WORKLOAD_SUBNETS,
    securityGroup,
    stream,
    database: { instance, name: 'fhir', user: 'fhir_processor' },
    settings,
    logKey,
    logs: { retentionDays: 7, removalPolicy: RemovalPolicy.DESTROY },
    image,
    maxRecordBytes,
  });
  return { stack, securityGroup, stream, streamKey, instance, logKey, processor, template: Template.fromStack(stack) };
}

// Development settings (one task, no scaling) with the image built from the Dockerfile; production-like scaling with a given image.
const dev = build(testConfig().processor);

describe('ProcessorService', () => {
  const scaled = build({ cpu: 1024, memoryMiB: 2048, minTasks: 2, maxTasks: 4 }, ecs.ContainerImage.fromRegistry('example/processor:test'));
  const { template, processor } = dev;
  const container = () => Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0].Properties.ContainerDefinitions[0];

  test("a Fargate task of the settings' size, in its named family, with its named roles", () => {
    template.resourceCountIs('AWS::ECS::TaskDefinition', 1);
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Family: 'hipaa-fhir-processor-dev',
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: '512',
      Memory: '1024',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
      TaskRoleArn: getAtt(processor.taskDefinition.taskRole),
      ExecutionRoleArn: getAtt(processor.taskDefinition.obtainExecutionRole()),
    });
    scaled.template.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '1024', Memory: '2048' });
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'hipaa-fhir-processor-task-dev',
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'ecs-tasks.amazonaws.com' } })] },
    });
    template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'hipaa-fhir-processor-exec-dev' });
  });

  test('the container is hardened: read-only root filesystem, non-root, health check, time to drain on stop', () => {
    expect(container()).toMatchObject({
      Name: 'processor',
      ReadonlyRootFilesystem: true,
      User: '1000',
      Essential: true,
      StopTimeout: 120,
      HealthCheck: { Command: ['CMD', 'node', 'dist/processor/service/health.js'], Interval: 30, Timeout: 5, StartPeriod: 60, Retries: 3 },
    });
  });

  // Issue 8, section 3: the processor logs in as its own user through IAM; no secret reaches it.
  test('the container logs in as the given user with IAM authentication over verified TLS, and receives no secret', () => {
    const c = container();
    expect(c.Secrets).toBeUndefined();
    expect(Object.fromEntries((c.Environment as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]))).toEqual({
      [PROCESSOR_ENV.streamName]: { Ref: logicalIdOf(dev.stream) },
      [PROCESSOR_ENV.maxRecordBytes]: '1048576',
      [PROCESSOR_ENV.region]: 'eu-west-2',
      [PROCESSOR_ENV.dbHost]: getAtt(dev.instance, 'Endpoint.Address'),
      [PROCESSOR_ENV.dbPort]: getAtt(dev.instance, 'Endpoint.Port'),
      [PROCESSOR_ENV.dbName]: 'fhir',
      [PROCESSOR_ENV.dbSslMode]: 'verify-full',
      [PROCESSOR_ENV.dbUser]: 'fhir_processor',
      [PROCESSOR_ENV.dbIamAuth]: 'true',
      [PROCESSOR_ENV.dbMigrateOnStart]: 'false',
      AWS_EMF_ENVIRONMENT: 'Local',
      [PROCESSOR_ENV.metricsNamespace]: 'HipaaFhir/Processor',
      [PROCESSOR_ENV.healthPort]: '8080',
    });
  });

  test('MAX_RECORD_BYTES is what the stream accepts; a value below 1 MiB (less than any stream accepts) or above 10 MiB fails synth', () => {
    const image = ecs.ContainerImage.fromRegistry('example/processor:test');
    const env = (t: Template) =>
      Object.values(t.findResources('AWS::ECS::TaskDefinition'))[0].Properties.ContainerDefinitions[0].Environment as Array<{
        Name: string;
        Value: unknown;
      }>;
    expect(env(build(testConfig().processor, image, 10_485_760).template)).toContainEqual({
      Name: PROCESSOR_ENV.maxRecordBytes,
      Value: '10485760',
    });
    expect(() => build(testConfig().processor, image, 262_144)).toThrow(
      "ProcessorService maxRecordBytes 262144 is invalid: use the stream's maximum record size in bytes (1048576-10485760), never less than the stream accepts",
    );
    expect(() => build(testConfig().processor, image, 10_485_761)).toThrow(/maxRecordBytes 10485761 is invalid/);
  });

  test('least privilege: the task reads the stream, decrypts with its key and connects as its user to this instance, nothing else', () => {
    expect(statementsOfRole(template, processor.taskDefinition.taskRole)).toEqual([
      {
        Effect: 'Allow',
        Resource: getAtt(dev.stream),
        Action: [
          'kinesis:DescribeStream',
          'kinesis:DescribeStreamConsumer',
          'kinesis:DescribeStreamSummary',
          'kinesis:GetRecords',
          'kinesis:GetShardIterator',
          'kinesis:ListShards',
          'kinesis:ListStreams',
          'kinesis:SubscribeToShard',
        ],
      },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: getAtt(dev.streamKey) },
      // rds-db:connect on exactly that user of exactly this instance (its DbiResourceId).
      {
        Effect: 'Allow',
        Action: 'rds-db:connect',
        Resource: {
          'Fn::Join': [
            '',
            ['arn:aws:rds-db:eu-west-2:', { Ref: 'AWS::AccountId' }, ':dbuser:', getAtt(dev.instance, 'DbiResourceId'), '/fhir_processor'],
          ],
        },
      },
    ]);
    // The execution role pulls the image and writes the log; its one wildcard is the token call that has no resource form.
    const exec = statementsOfRole(template, processor.taskDefinition.obtainExecutionRole());
    expect(exec.filter((s) => s.Resource === '*').map((s) => s.Action)).toEqual(['ecr:GetAuthorizationToken']);
    expect(exec).toContainEqual({
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: getAtt(processor.logGroup),
    });
    expect(exec.flatMap((s) => [s.Action].flat()).filter((a) => /^(secretsmanager|kinesis|rds-db):/.test(a))).toEqual([]);
  });

  test('logs go to the named group, encrypted with the given key, with the given retention and removal policy', () => {
    expect(container().LogConfiguration).toEqual({
      LogDriver: 'awslogs',
      Options: {
        'awslogs-group': { Ref: logicalIdOf(processor.logGroup) },
        'awslogs-stream-prefix': 'processor',
        'awslogs-region': 'eu-west-2',
        mode: 'non-blocking',
      },
    });
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: '/hipaa-fhir/dev/processor', RetentionInDays: 7, KmsKeyId: getAtt(dev.logKey) },
      DeletionPolicy: 'Delete',
    });
  });

  test('the service runs in the given subnets and group with no public IP, and rolls back a failed deployment', () => {
    template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      PlatformVersion: 'LATEST',
      DesiredCount: 1,
      DeploymentConfiguration: {
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
      },
      NetworkConfiguration: {
        AwsvpcConfiguration: {
          AssignPublicIp: 'DISABLED',
          SecurityGroups: [getAtt(dev.securityGroup, 'GroupId')],
          Subnets: [
            { Ref: Match.stringLikeRegexp('^VpcworkloadSubnet1Subnet') },
            { Ref: Match.stringLikeRegexp('^VpcworkloadSubnet2Subnet') },
          ],
        },
      },
      EnableExecuteCommand: false,
      PropagateTags: 'SERVICE',
      TaskDefinition: { Ref: logicalIdOf(processor.taskDefinition) },
    });
    scaled.template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 2 });
  });

  // Issue 8, defect 6: Container Insights' performance log group exists before the cluster, encrypted.
  test('the named cluster with Container Insights, whose log group is ours: encrypted, with the given retention and removal, created first', () => {
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterName: 'hipaa-fhir-cluster-dev',
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
    expect(containerInsightsLogGroupName('hipaa-fhir-cluster-dev')).toBe('/aws/ecs/containerinsights/hipaa-fhir-cluster-dev/performance');
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: {
        LogGroupName: '/aws/ecs/containerinsights/hipaa-fhir-cluster-dev/performance',
        RetentionInDays: 7,
        KmsKeyId: getAtt(dev.logKey),
      },
      DeletionPolicy: 'Delete',
    });
    template.hasResource('AWS::ECS::Cluster', { DependsOn: Match.arrayWith([logicalIdOf(processor.containerInsightsLogGroup)]) });
  });

  test('no scaling when the minimum is the maximum; otherwise steps on iterator age between them', () => {
    template.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
    scaled.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 2,
      MaxCapacity: 4,
      ScalableDimension: 'ecs:service:DesiredCount',
    });
    // Below 10 s behind: one task fewer; from 60 s: one more; from 300 s: two more (intervals relative to the alarm thresholds).
    scaled.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      StepScalingPolicyConfiguration: {
        AdjustmentType: 'ChangeInCapacity',
        Cooldown: 180,
        MetricAggregationType: 'Maximum',
        StepAdjustments: [{ MetricIntervalUpperBound: 0, ScalingAdjustment: -1 }],
      },
    });
    scaled.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      StepScalingPolicyConfiguration: Match.objectLike({
        StepAdjustments: [
          { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 240000, ScalingAdjustment: 1 },
          { MetricIntervalLowerBound: 240000, ScalingAdjustment: 2 },
        ],
      }),
    });
    scaled.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'GetRecords.IteratorAgeMilliseconds',
      Statistic: 'Maximum',
      ComparisonOperator: 'LessThanOrEqualToThreshold',
      Threshold: 10000,
    });
    scaled.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'GetRecords.IteratorAgeMilliseconds',
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 60000,
    });
  });
});

describe('ProcessorService image (built by the pipeline from the staged asset; no Docker here)', () => {
  const { stack, template } = dev;
  // The assembly Template.fromStack synthesized.
  const assembly = (stack.node.root as App).synth();
  const manifests = assembly.artifacts.filter(
    (a): a is cxapi.AssetManifestArtifact => a instanceof cxapi.AssetManifestArtifact && a.id.startsWith(stack.artifactId),
  );
  const work = mkdtempSync(join(tmpdir(), 'image-context-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test('one container image, built with lib/processor/Dockerfile from the repository root; the task runs exactly that image', () => {
    expect(manifests).toHaveLength(1);
    const images = Object.entries(manifests[0].contents.dockerImages ?? {});
    expect(images).toHaveLength(1);
    const [hash, image] = images[0];
    expect(image.source.dockerFile).toBe('lib/processor/Dockerfile');
    expect(image.source.platform).toBe('linux/amd64');
    const staged = join(assembly.directory, image.source.directory!);
    expect(readFileSync(join(staged, 'lib/processor/Dockerfile'), 'utf8')).toBe(
      readFileSync(join(ROOT, 'lib/processor/Dockerfile'), 'utf8'),
    );
    const [task] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
    expect(task.Properties.ContainerDefinitions[0].Image).toEqual({
      'Fn::Sub': `\${AWS::AccountId}.dkr.ecr.eu-west-2.\${AWS::URLSuffix}/cdk-hnb659fds-container-assets-\${AWS::AccountId}-eu-west-2:${hash}`,
    });
  });

  test('the build context holds only what the image build reads', () => {
    const [image] = Object.values(manifests[0].contents.dockerImages ?? {});
    const staged = join(assembly.directory, image.source.directory!);
    expect(readdirSync(staged).sort()).toEqual(['lib', 'package-lock.json', 'package.json', 'tsconfig.json']);
    expect(readdirSync(join(staged, 'lib')).sort()).toEqual(['contract', 'processor']);
    // The Dockerfile COPYs the committed RDS CA bundle from the context: it must be staged byte for byte.
    expect(readFileSync(join(staged, 'lib/processor/certs/rds-ca-bundle.pem'))).toEqual(
      readFileSync(join(ROOT, 'lib/processor/certs/rds-ca-bundle.pem')),
    );
  });

  test("the context compiles with the Dockerfile's command into every entry point the contract names, and the service entry starts", () => {
    const [image] = Object.values(manifests[0].contents.dockerImages ?? {});
    // The Dockerfile's build stage: `npx tsc -p lib/processor/tsconfig.build.json` in the context
    // (node_modules from the repository stand in for its `npm ci`).
    cpSync(join(assembly.directory, image.source.directory!), work, { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'lib/processor/tsconfig.build.json'], {
      cwd: work,
      encoding: 'utf8',
    });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
    for (const entry of Object.values(PROCESSOR_ENTRY_POINTS)) expect([entry, existsSync(join(work, entry))]).toEqual([entry, true]);
    // With no configuration the service stops at once with one line and exit 2 (it loaded everything it imports).
    const run = spawnSync(process.execPath, [PROCESSOR_ENTRY_POINTS.service], {
      cwd: work,
      env: { PATH: process.env.PATH },
      encoding: 'utf8',
    });
    expect([run.status, run.stderr.trim()]).toEqual([2, 'configuration error: STREAM_NAME is required']);
  }, 120_000);
});

describe('the image trusts the committed RDS certificate bundle and downloads none', () => {
  const dockerfile = readFileSync(join(ROOT, 'lib', 'processor', 'Dockerfile'), 'utf8');

  test('the Dockerfile copies lib/processor/certs/rds-ca-bundle.pem to DB_CA_BUNDLE, read-only, and fetches no URL', () => {
    const caBundle = /DB_CA_BUNDLE=(\S+)/.exec(dockerfile)![1];
    expect(dockerfile).toContain(`COPY --chmod=0444 lib/processor/certs/rds-ca-bundle.pem ${caBundle}\n`);
    expect(dockerfile).not.toMatch(/^ADD\s.*https?:\/\//m);
    expect(dockerfile).not.toMatch(/^RUN\s.*\b(curl|wget)\b/m);
    expect(existsSync(join(ROOT, 'lib', 'processor', 'certs', 'rds-ca-bundle.pem'))).toBe(true);
  });
});
