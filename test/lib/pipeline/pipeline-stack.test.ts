import { Match, Template } from 'aws-cdk-lib/assertions';
import { PipelineStack } from '../../../lib/pipeline/pipeline-stack';
import { loadIntegrationBuildSpec } from '../../../lib/pipeline/integration-test-step';
import { referencePipelineConfig } from '../../helpers/reference-app';
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

  // Issue 8, defect 3: one helper (lib/pipeline/connection.ts) for every source action and clone role.
  test('the source action may use the connection under both service prefixes', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([{
        Sid: 'UseRepositoryConnection',
        Action: ['codeconnections:UseConnection', 'codestar-connections:UseConnection'], Effect: 'Allow',
        Resource: ['arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000', 'arn:aws:codestar-connections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000'],
      }]) },
    });
  });

  test('synth installs, audits (high/critical fail the build) before anything runs, tests (compliance gate included), synthesizes, then writes the SBOM into cdk.out', () => {
    const synth = projects.find(([id]) => id.includes('Synth'))![1].Properties!;
    const spec = JSON.parse((synth.Source as { BuildSpec: string }).BuildSpec);
    expect(spec.phases.install.commands).toEqual(['npm ci --no-audit --no-fund']);
    expect(spec.phases.build.commands).toEqual([
      'npm audit --audit-level=high',
      'npm test',
      'npx cdk synth --no-lookups',
      'npm sbom --sbom-format cyclonedx --omit dev > cdk.out/sbom.cdx.json',
    ]);
    // The SBOM lands in the step's output artifact, which is cdk.out.
    expect(spec.artifacts['base-directory']).toBe('cdk.out');
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

  test('each post-deploy step role may only assume its own stage\'s post-deploy role, in the environment\'s account', () => {
    for (const [suffix, account] of [['dev', '222222222222'], ['prod', '333333333333']]) {
      const [, role] = resourcesOf(template).find(([, r]) => r.Type === 'AWS::IAM::Role' && r.Properties?.RoleName === `hipaa-fhir-post-deploy-step-${suffix}`)!;
      expect(JSON.stringify(role.Properties!.AssumeRolePolicyDocument)).toContain('codebuild.amazonaws.com');
      const statements = policyOfRole(`PostDeployStepRole${suffix}`).Statement;
      const assume = statements.filter((st) => [st.Action].flat().some((a) => a.startsWith('sts:')));
      expect(assume).toEqual([expect.objectContaining({ Sid: 'AssumeStagePostDeployRole', Action: 'sts:AssumeRole', Resource: `arn:aws:iam::${account}:role/hipaa-fhir-post-deploy-${suffix}` })]);
      expect(JSON.stringify(statements)).not.toMatch(/kinesis:|ecs:RunTask|iam:PassRole/);
    }
  });

  test('each stage creates the role its step assumes, trusted only by that step role, scoped to that environment', () => {
    for (const [suffix, account] of [['dev', '222222222222'], ['prod', '333333333333']]) {
      const compute = Template.fromStack(stack.stages.find((s) => s.config.environmentSuffix === suffix)!.compute);
      const [, role] = resourcesOf(compute).find(([, r]) => r.Type === 'AWS::IAM::Role' && r.Properties?.RoleName === `hipaa-fhir-post-deploy-${suffix}`)!;
      expect(role.Properties!.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [{
          Action: 'sts:AssumeRole', Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111111111111:root' },
          Condition: { ArnEquals: { 'aws:PrincipalArn': `arn:aws:iam::111111111111:role/hipaa-fhir-post-deploy-step-${suffix}` } },
        }],
      });
      const [, policy] = resourcesOf(compute).find(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('PostDeployRole'))!;
      const statements = (policy.Properties!.PolicyDocument as { Statement: Array<{ Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown }> }).Statement;
      const bySid = Object.fromEntries(statements.map((st) => [st.Sid, st]));
      const json = JSON.stringify(statements);
      expect(json).not.toMatch(suffix === 'dev' ? /-prod/ : /-dev/);
      expect(bySid.ReadStageStacks.Resource).toHaveLength(4);
      expect(statements.filter((st) => st.Resource === '*').map((st) => st.Action)).toEqual(['cloudformation:ListStacks']);
      if (suffix === 'dev') {
        expect(bySid.PutTestRecords).toMatchObject({ Action: expect.arrayContaining(['kinesis:PutRecords', 'kinesis:PutRecord']), Resource: `arn:aws:kinesis:eu-west-2:${account}:stream/hipaa-fhir-records-dev` });
        expect(bySid.RunVerifyTask).toMatchObject({ Resource: `arn:aws:ecs:eu-west-2:${account}:task-definition/hipaa-fhir-processor-dev:*`, Condition: { ArnEquals: { 'ecs:cluster': `arn:aws:ecs:eu-west-2:${account}:cluster/hipaa-fhir-cluster-dev` } } });
        expect(bySid.PassProcessorRoles).toMatchObject({ Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } });
        expect(bySid.EncryptTestRecords).toMatchObject({ Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/hipaa-fhir/dev/stream' } } });
        expect(bySid.ProtectStageStacks).toBeUndefined();
      } else {
        // The smoke role (production) cannot write records or run tasks.
        expect(json).not.toMatch(/kinesis:PutRecord|ecs:RunTask|iam:PassRole/);
        expect(json).toContain('kinesis:DescribeStreamSummary');
      }
    }
  });

  // Issue 8, defect 4: CDK Pipelines ignores terminationProtection (aws/aws-cdk#17871).
  test('the production smoke step turns on termination protection of exactly the four prod stacks, through the assumed role', () => {
    const prodCompute = Template.fromStack(stack.stages.find((s) => s.config.environmentSuffix === 'prod')!.compute);
    const [, policy] = resourcesOf(prodCompute).find(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('PostDeployRole'))!;
    const protect = (policy.Properties!.PolicyDocument as { Statement: Array<{ Sid?: string }> }).Statement.find((st) => st.Sid === 'ProtectStageStacks');
    expect(protect).toEqual({
      Sid: 'ProtectStageStacks', Effect: 'Allow', Action: 'cloudformation:UpdateTerminationProtection',
      Resource: ['audit', 'compute', 'data', 'network'].map((l) => `arn:aws:cloudformation:eu-west-2:333333333333:stack/hipaa-fhir-${l}-prod/*`),
    });
    const env = (name: string) => Object.fromEntries(((projectNamed(name).Environment as { EnvironmentVariables: Array<{ Name: string; Value: string }> }).EnvironmentVariables).map((v) => [v.Name, v.Value]));
    expect(env('hipaa-fhir-smoke-test-prod')).toMatchObject({ PROTECT_STACKS: 'true', POST_DEPLOY_ROLE_ARN: 'arn:aws:iam::333333333333:role/hipaa-fhir-post-deploy-prod' });
    expect(env('hipaa-fhir-integ-test-dev')).toMatchObject({ PROTECT_STACKS: 'false', POST_DEPLOY_ROLE_ARN: 'arn:aws:iam::222222222222:role/hipaa-fhir-post-deploy-dev' });
    const pre = (loadIntegrationBuildSpec() as { phases: { pre_build: { commands: string[] } } }).phases.pre_build.commands.join('\n');
    expect(pre).toContain('if [ "$PROTECT_STACKS" = "true" ]');
    expect(pre).toContain('aws cloudformation update-termination-protection --enable-termination-protection --stack-name "$PROJECT-$layer-$ENVIRONMENT_SUFFIX"');
    expect(pre).toContain('for layer in network data audit compute');
    // The protection call runs after the profile that assumes the post-deploy role is in place.
    expect(pre.indexOf('AWS_PROFILE=post-deploy')).toBeLessThan(pre.indexOf('update-termination-protection'));
  });

  // Issue 8, defect 7: every CodeBuild step pins Node.js 24 on the image that lists it.
  test('every build (synth, self-mutation, assets, integration, smoke) runs Node.js 24 on standard:8.0', () => {
    expect(projects.length).toBeGreaterThanOrEqual(6);
    for (const [id, project] of projects) {
      expect([id, (project.Properties!.Environment as { Image: string }).Image]).toEqual([id, 'aws/codebuild/standard:8.0']);
      const source = project.Properties!.Source as { BuildSpec: string };
      if (source.BuildSpec.trim().startsWith('{')) {
        expect([id, JSON.parse(source.BuildSpec).phases.install['runtime-versions']]).toEqual([id, { nodejs: 24 }]);
      } else {
        // Asset jobs read a buildspec file from the cloud assembly; CDK Pipelines writes it with the same defaults.
        expect(source.BuildSpec).toMatch(/^buildspec-.*\.yaml$/);
      }
    }
    expect((loadIntegrationBuildSpec() as { phases: { install: Record<string, unknown> } }).phases.install['runtime-versions']).toEqual({ nodejs: 24 });
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
    // TLS 1.2 at least (minimumTLSVersion), as deployed: the bucket policy denies older clients.
    const [bucketId] = resourcesOf(template).find(([id, r]) => r.Type === 'AWS::S3::Bucket' && id.startsWith('ArtifactsBucket'))!;
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } })]) },
    });
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
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'hipaa-fhir-pipeline-notifications', KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PipelineKey'), 'Arn'] } });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'release@example.org' });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'codestar-notifications.amazonaws.com' } })]) },
    });
  });

  test('same-account stages need no cross-account keys; another account turns them on', () => {
    const same = referencePipelineConfig({}, { sameAccount: true });
    const t0 = Template.fromStack(new PipelineStack(testApp(), 'S', { pipeline: same }));
    expect(JSON.stringify(t0.toJSON())).not.toContain('"Principal":{"AWS":"arn:aws:iam::222222222222:root"}');
    const cross = referencePipelineConfig();
    const prod = { ...cross.environments[1], account: '444444444444' };
    const t = Template.fromStack(new PipelineStack(testApp(), 'X', { pipeline: { ...cross, environments: [cross.environments[0], prod] } }));
    expect(JSON.stringify(t.toJSON())).toContain('444444444444');
  });
});
