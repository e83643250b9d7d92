import { Match, Template } from 'aws-cdk-lib/assertions';
import { PipelineStack } from '../../../lib/pipeline/pipeline-stack';
import { loadIntegrationBuildSpec } from '../../../lib/pipeline/integration-test-step';
import { referencePipelineConfig } from '../../../scripts/compliance-report';
import { resourcesOf, testApp } from '../../helpers';

type Action = { Name: string; RunOrder: number; ActionTypeId: { Category: string; Provider: string }; Configuration?: Record<string, unknown> };
type StageDef = { Name: string; Actions: Action[] };

describe('PipelineStack', () => {
  const stack = new PipelineStack(testApp(), 'Pipeline', { pipeline: referencePipelineConfig({ notificationEmail: 'release@example.org' }) });
  const template = Template.fromStack(stack);
  const pipeline = resourcesOf(template).find(([, r]) => r.Type === 'AWS::CodePipeline::Pipeline')![1].Properties!;
  const stages = pipeline.Stages as StageDef[];
  const stage = (name: string) => stages.find((s) => s.Name === name)!;
  const projects = resourcesOf(template).filter(([, r]) => r.Type === 'AWS::CodeBuild::Project');
  const projectNamed = (name: string) => projects.find(([, r]) => r.Properties?.Name === name)![1].Properties!;
  const policyOfRole = (roleIdPart: string) => resourcesOf(template).find(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.includes(roleIdPart))![1].Properties!.PolicyDocument as { Statement: Array<{ Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown }> };

  test('V2 pipeline: Source, Build (synth), UpdatePipeline (self-mutation), Assets, dev, prod', () => {
    expect(pipeline.PipelineType).toBe('V2');
    expect(stages.map((s) => s.Name)).toEqual(['Source', 'Build', 'UpdatePipeline', 'Assets', 'dev', 'prod']);
    expect(stage('UpdatePipeline').Actions[0].Name).toBe('SelfMutate');
    expect(stage('Assets').Actions.map((a) => a.Name).join(' ')).toMatch(/DockerAsset/);
  });

  test('source: the CodeConnections connection on the configured repository and branch', () => {
    expect(stage('Source').Actions[0]).toMatchObject({
      ActionTypeId: { Category: 'Source', Owner: 'AWS', Provider: 'CodeStarSourceConnection' },
      Configuration: {
        ConnectionArn: 'arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000',
        FullRepositoryId: 'example-org/hipaa-fhir-pipeline', BranchName: 'main', DetectChanges: false,
      },
    });
  });

  test('a push to the branch triggers a run, except when it changes documentation only', () => {
    expect(pipeline.Triggers).toEqual([{
      ProviderType: 'CodeStarSourceConnection',
      GitConfiguration: {
        SourceActionName: stage('Source').Actions[0].Name,
        Push: [{ Branches: { Includes: ['main'] }, FilePaths: { Excludes: ['**/*.md', 'docs/**'] } }],
      },
    }]);
  });

  test('the source action may use the connection under both service prefixes', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([{
        Action: ['codeconnections:UseConnection', 'codestar-connections:UseConnection'], Effect: 'Allow',
        Resource: ['arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000', 'arn:aws:codestar-connections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000'],
      }]) },
    });
  });

  test('synth installs, runs the full test suite (compliance gate included), then cdk synth', () => {
    const synth = projects.find(([id]) => id.includes('Synth'))![1].Properties!;
    const spec = JSON.parse((synth.Source as { BuildSpec: string }).BuildSpec);
    expect(spec.phases.install.commands).toEqual(['npm ci --no-audit --no-fund']);
    expect(spec.phases.build.commands).toEqual(['npm test', 'npx cdk synth --no-lookups']);
  });

  test('dev deploys network, data, audit, compute in dependency order, then runs the integration suite', () => {
    const actions = stage('dev').Actions;
    const deployOrder = (layer: string) => actions.find((a) => a.Name === `hipaa-fhir-${layer.toLowerCase()}-dev.Deploy`)!.RunOrder;
    expect(deployOrder('Network')).toBeLessThan(deployOrder('Data'));
    expect(deployOrder('Data')).toBeLessThan(deployOrder('Audit'));
    expect(deployOrder('Audit')).toBeLessThan(deployOrder('Compute'));
    const integ = actions.find((a) => a.Name === 'IntegrationTest')!;
    expect(integ.RunOrder).toBeGreaterThan(deployOrder('Compute'));
    expect(actions.find((a) => a.Name === 'hipaa-fhir-network-dev.Deploy')!.Configuration).toMatchObject({ StackName: 'hipaa-fhir-network-dev', ActionMode: 'CHANGE_SET_EXECUTE' });
  });

  test('prod waits for a manual approval with a comment and a link, then deploys, then smoke-tests', () => {
    const actions = stage('prod').Actions;
    const approval = actions.find((a) => a.ActionTypeId.Category === 'Approval')!;
    expect(approval.RunOrder).toBe(1);
    expect(approval.Configuration).toMatchObject({
      CustomData: expect.stringContaining('Promote to prod: dev environment(s) deployed and passed integration tests'),
      ExternalEntityLink: expect.stringContaining('console.aws.amazon.com/cloudformation'),
    });
    const deploys = actions.filter((a) => a.Name.endsWith('.Deploy'));
    expect(deploys).toHaveLength(4);
    for (const d of deploys) expect(d.RunOrder).toBeGreaterThan(approval.RunOrder);
    expect(actions.find((a) => a.Name === 'SmokeTest')!.RunOrder).toBeGreaterThan(Math.max(...deploys.map((d) => d.RunOrder)));
    expect(stage('dev').Actions.some((a) => a.ActionTypeId.Category === 'Approval')).toBe(false);
  });

  test('the integration build is buildspec-integ.yml itself, parameterised for the environment', () => {
    const file = loadIntegrationBuildSpec() as { phases: Record<string, { commands: string[] }>; reports: unknown };
    for (const [name, suite] of [['hipaa-fhir-integ-test-dev', 'integ'], ['hipaa-fhir-smoke-test-prod', 'smoke']]) {
      const project = projectNamed(name);
      const spec = JSON.parse((project.Source as { BuildSpec: string }).BuildSpec);
      expect(spec.phases.install.commands).toEqual(file.phases.install.commands);
      expect(spec.phases.pre_build.commands).toEqual(file.phases.pre_build.commands);
      expect(spec.phases.build.commands).toEqual(file.phases.build.commands);
      expect(spec.reports).toEqual(file.reports);
      const env = Object.fromEntries(((project.Environment as { EnvironmentVariables: Array<{ Name: string; Value: string }> }).EnvironmentVariables).map((v) => [v.Name, v.Value]));
      expect(env).toMatchObject({ ENVIRONMENT_SUFFIX: name.endsWith('dev') ? 'dev' : 'prod', INTEG_SUITE: suite, PROJECT: 'hipaa-fhir' });
    }
  });

  test('integration role: least privilege, scoped to the dev environment by name', () => {
    const statements = policyOfRole('devIntegrationTestRole').Statement;
    const bySid = Object.fromEntries(statements.filter((s) => s.Sid).map((s) => [s.Sid, s]));
    expect(bySid.PutTestRecords).toMatchObject({ Action: expect.arrayContaining(['kinesis:PutRecords', 'kinesis:PutRecord']), Resource: 'arn:aws:kinesis:eu-west-2:111111111111:stream/hipaa-fhir-records-dev' });
    expect(bySid.RunVerifyTask).toMatchObject({ Resource: 'arn:aws:ecs:eu-west-2:111111111111:task-definition/hipaa-fhir-processor-dev:*', Condition: { ArnEquals: { 'ecs:cluster': 'arn:aws:ecs:eu-west-2:111111111111:cluster/hipaa-fhir-cluster-dev' } } });
    expect(bySid.PassProcessorRoles).toMatchObject({ Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } });
    expect(bySid.EncryptTestRecords).toMatchObject({ Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/hipaa-fhir/dev/stream' } } });
    expect(bySid.ReadStageStacks.Resource).toHaveLength(4);
    const star = statements.filter((s) => s.Resource === '*');
    expect(star.map((s) => s.Action)).toEqual(['cloudformation:ListStacks']);
    expect(JSON.stringify(statements)).not.toMatch(/-prod/);
  });

  test('smoke role (production) cannot write records or run tasks', () => {
    const json = JSON.stringify(policyOfRole('prodSmokeTestRole'));
    expect(json).not.toMatch(/kinesis:PutRecord|ecs:RunTask|iam:PassRole/);
    expect(json).toContain('kinesis:DescribeStreamSummary');
  });

  test('artifact bucket: KMS, versioned, TLS-only, private, access-logged, retained for a production pipeline', () => {
    const bucket = resourcesOf(template).find(([id, r]) => r.Type === 'AWS::S3::Bucket' && id.startsWith('ArtifactsBucket'))![1];
    expect(bucket).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: expect.objectContaining({
        BucketEncryption: { ServerSideEncryptionConfiguration: [expect.objectContaining({ ServerSideEncryptionByDefault: expect.objectContaining({ SSEAlgorithm: 'aws:kms' }) })] },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: expect.objectContaining({ LogFilePrefix: 'artifacts/' }),
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      }),
    });
    expect(pipeline.ArtifactStore).toMatchObject({ Type: 'S3', Location: { Ref: expect.stringMatching(/^ArtifactsBucket/) } });
    expect(stack.terminationProtection).toBe(true);
  });

  test('a destroyable (non-production) pipeline empties and deletes its buckets', () => {
    const t = Template.fromStack(new PipelineStack(testApp(), 'P', { pipeline: referencePipelineConfig({ destroyable: true }) }));
    for (const [, b] of resourcesOf(t).filter(([, r]) => r.Type === 'AWS::S3::Bucket')) expect(b.DeletionPolicy).toBe('Delete');
    t.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
  });

  test('failures and approvals notify an encrypted topic', () => {
    template.hasResourceProperties('AWS::CodeStarNotifications::NotificationRule', {
      EventTypeIds: Match.arrayWith(['codepipeline-pipeline-pipeline-execution-failed', 'codepipeline-pipeline-action-execution-failed', 'codepipeline-pipeline-manual-approval-needed']),
      Targets: [{ TargetType: 'SNS', TargetAddress: { Ref: Match.stringLikeRegexp('^Notifications') } }],
    });
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'hipaa-fhir-pipeline-notifications', KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'release@example.org' });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'codestar-notifications.amazonaws.com' } })]) },
    });
  });

  test('same-account stages need no cross-account keys; another account turns them on', () => {
    expect(JSON.stringify(template.toJSON())).not.toContain('"Principal":{"AWS":"arn:aws:iam::222222222222:root"}');
    const cross = referencePipelineConfig();
    const prod = { ...cross.environments[1], account: '222222222222' };
    const t = Template.fromStack(new PipelineStack(testApp(), 'X', { pipeline: { ...cross, environments: [cross.environments[0], prod] } }));
    expect(JSON.stringify(t.toJSON())).toContain('222222222222');
  });
});
