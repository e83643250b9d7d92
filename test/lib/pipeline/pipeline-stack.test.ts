import { readFileSync } from 'fs';
import { join } from 'path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { parse } from 'yaml';
import * as iam from 'aws-cdk-lib/aws-iam';
import { LAYERS } from '../../../lib/contract';
import { ArtifactBucket } from '../../../lib/constructs/artifact-bucket';
import { EncryptionKey } from '../../../lib/constructs/encryption-key';
import { PipelineStack } from '../../../lib/pipeline/pipeline-stack';
import { loadIntegrationBuildSpec } from '../../../lib/pipeline/integration-test-step';
import { cdkToolVersions } from '../../../lib/pipeline/build-environment';
import { referencePipelineConfig } from '../../../scripts/generators/reference-app';
import { getAtt, logicalIdOf, statementsOfRole, testApp } from '../../helpers';

type Action = {
  Name: string;
  RunOrder: number;
  ActionTypeId: { Category: string; Provider: string };
  Configuration?: Record<string, unknown>;
};
type StageDef = { Name: string; Actions: Action[] };

const CONNECTION = 'arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000';
/** The CDK bootstrap deploy role of an account, as CDK Pipelines names it. */
const deployRole = (account: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${account}:role/cdk-hnb659fds-deploy-role-${account}-eu-west-2`]],
});

describe('PipelineStack', () => {
  const stack = new PipelineStack(testApp(), 'Pipeline', {
    pipeline: referencePipelineConfig({ notificationEmail: 'release@example.org' }),
  });
  const template = Template.fromStack(stack);
  const pipelines = Object.values(template.findResources('AWS::CodePipeline::Pipeline'));
  const pipeline = pipelines[0].Properties;
  const stages = pipeline.Stages as StageDef[];
  const stage = (name: string) => stages.find((s) => s.Name === name)!;
  const projects = template.findResources('AWS::CodeBuild::Project');
  const projectNamed = (name: string) => {
    const found = Object.values(template.findResources('AWS::CodeBuild::Project', { Properties: { Name: name } }));
    expect([name, found.length]).toEqual([name, 1]);
    return found[0].Properties;
  };
  const envOf = (name: string) =>
    Object.fromEntries(
      (projectNamed(name).Environment.EnvironmentVariables as Array<{ Name: string; Value: string }>).map((v) => [v.Name, v.Value]),
    );
  const stepRole = (suffix: string) => stack.node.findChild(`PostDeployStepRole-${suffix}`) as iam.Role;
  const stageOf = (suffix: string) => stack.stages.find((s) => s.config.environmentSuffix === suffix)!;

  test('V2 pipeline: Source, Build (synth), UpdatePipeline (self-mutation), Assets, dev, prod', () => {
    expect(pipelines).toHaveLength(1);
    expect(pipeline.PipelineType).toBe('V2');
    expect(pipeline.Name).toBe('hipaa-fhir-pipeline');
    expect(stages.map((s) => s.Name)).toEqual(['Source', 'Build', 'UpdatePipeline', 'Assets', 'dev', 'prod']);
    expect(stage('UpdatePipeline').Actions[0].Name).toBe('SelfMutate');
    expect(
      stage('Assets')
        .Actions.map((a) => a.Name)
        .join(' '),
    ).toMatch(/DockerAsset/);
  });

  // Issue 17 §4: the pipeline installed aws-cdk@2 and cdk-assets@latest.
  test('self-mutation installs the CDK CLI of package-lock.json and the asset builds the pinned cdk-assets, never a range or a tag', () => {
    const lock = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package-lock.json'), 'utf8'));
    const cli = lock.packages['node_modules/aws-cdk'].version as string;
    expect(cli).toMatch(/^2\.\d+\.\d+$/);
    const install = (spec: { phases: { install: { commands: string[] } } }) =>
      spec.phases.install.commands.filter((c) => c.startsWith('npm install -g'));
    expect(install(JSON.parse(projectNamed('hipaa-fhir-pipeline-selfupdate').Source.BuildSpec))).toEqual([`npm install -g aws-cdk@${cli}`]);
    // The asset builds read their buildspec from the cloud assembly (one publisher per asset type).
    const outdir = (stack.node.root as App).outdir;
    const assetSpecs = Object.values(projects)
      .map((p) => p.Properties.Source.BuildSpec as string)
      .filter((b) => /^buildspec-.*Asset\.yaml$/.test(b));
    expect(assetSpecs).toHaveLength(2);
    for (const file of assetSpecs) {
      expect([file, install(parse(readFileSync(join(outdir, file), 'utf8')))]).toEqual([
        file,
        [`npm install -g cdk-assets@${cdkToolVersions().cdkAssets}`],
      ]);
    }
  });

  test('source: the CodeConnections connection on the configured repository and branch', () => {
    expect(stage('Source').Actions[0]).toMatchObject({
      ActionTypeId: { Category: 'Source', Owner: 'AWS', Provider: 'CodeStarSourceConnection' },
      Configuration: {
        ConnectionArn: CONNECTION,
        FullRepositoryId: 'example-org/hipaa-fhir-pipeline',
        BranchName: 'main',
        DetectChanges: false,
      },
    });
  });

  test('a push to the branch triggers a run, except when it changes documentation only', () => {
    expect(pipeline.Triggers).toEqual([
      {
        ProviderType: 'CodeStarSourceConnection',
        GitConfiguration: {
          SourceActionName: stage('Source').Actions[0].Name,
          Push: [{ Branches: { Includes: ['main'] }, FilePaths: { Excludes: ['**/*.md', 'docs/**'] } }],
        },
      },
    ]);
  });

  // Issue 8, defect 3: one helper (lib/pipeline/connection.ts) for every source action and clone role.
  test('the source action may use the connection under both service prefixes', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'UseRepositoryConnection',
            Action: ['codeconnections:UseConnection', 'codestar-connections:UseConnection'],
            Effect: 'Allow',
            Resource: [CONNECTION, CONNECTION.replace(':codeconnections:', ':codestar-connections:')],
          },
        ]),
      },
      Roles: [{ Ref: Match.stringLikeRegexp('^PipelineSource.*CodePipelineActionRole') }],
    });
  });

  test('synth installs, audits (high/critical fail the build) before anything runs, tests (compliance gate included), synthesizes, then writes the SBOM into cdk.out', () => {
    // The SBOM lands in the step's output artifact, which is cdk.out.
    const synth = Template.fromJSON({ Resources: { Synth: projects[logicalIdOf(stack.codePipeline.synthProject)] } });
    synth.hasResourceProperties('AWS::CodeBuild::Project', {
      Source: {
        Type: 'CODEPIPELINE',
        BuildSpec: Match.serializedJson({
          version: '0.2',
          phases: {
            install: { 'runtime-versions': { nodejs: 24 }, commands: ['npm ci --no-audit --no-fund'] },
            build: {
              commands: [
                'npm audit --audit-level=high',
                'npm test',
                'npx cdk synth --no-lookups',
                'npm sbom --sbom-format cyclonedx --omit dev > cdk.out/sbom.cdx.json',
              ],
            },
          },
          artifacts: { 'base-directory': 'cdk.out', files: ['**/*'] },
        }),
      },
    });
  });

  test('dev deploys network, data, audit, compute in dependency order, then runs the integration suite', () => {
    const actions = stage('dev').Actions;
    const deployOrder = (layer: string) =>
      actions.find((a) => a.Name === `${stageOf('dev').config.naming.stackName(layer as never)}.Deploy`)!.RunOrder;
    for (let i = 1; i < LAYERS.length; i++) expect(deployOrder(LAYERS[i - 1])).toBeLessThan(deployOrder(LAYERS[i]));
    const integ = actions.find((a) => a.Name === 'IntegrationTest')!;
    expect(integ.RunOrder).toBeGreaterThan(deployOrder('compute'));
    expect(actions.find((a) => a.Name === 'hipaa-fhir-network-dev.Deploy')!.Configuration).toMatchObject({
      StackName: 'hipaa-fhir-network-dev',
      ActionMode: 'CHANGE_SET_EXECUTE',
    });
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
    for (const [name, suite] of [
      ['hipaa-fhir-integ-test-dev', 'integ'],
      ['hipaa-fhir-smoke-test-prod', 'smoke'],
    ]) {
      template.hasResourceProperties('AWS::CodeBuild::Project', {
        Name: name,
        Source: {
          BuildSpec: Match.serializedJson(
            Match.objectLike({
              phases: Match.objectLike({
                install: Match.objectLike({ commands: file.phases.install.commands }),
                pre_build: { commands: file.phases.pre_build.commands },
                build: { commands: file.phases.build.commands },
              }),
              reports: file.reports,
            }),
          ),
        },
      });
      expect(envOf(name)).toMatchObject({
        ENVIRONMENT_SUFFIX: name.endsWith('dev') ? 'dev' : 'prod',
        INTEG_SUITE: suite,
        PROJECT: 'hipaa-fhir',
      });
    }
  });

  test("each post-deploy step role may only assume its own stage's post-deploy role, in the environment's account", () => {
    for (const [suffix, account] of [
      ['dev', '222222222222'],
      ['prod', '333333333333'],
    ]) {
      template.hasResourceProperties('AWS::IAM::Role', {
        RoleName: `hipaa-fhir-post-deploy-step-${suffix}`,
        AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'codebuild.amazonaws.com' } })] },
      });
      const statements = statementsOfRole(template, stepRole(suffix));
      const assume = statements.filter((st) => [st.Action].flat().some((a) => a.startsWith('sts:')));
      expect(assume).toEqual([
        {
          Sid: 'AssumeStagePostDeployRole',
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Resource: `arn:aws:iam::${account}:role/hipaa-fhir-post-deploy-${suffix}`,
        },
      ]);
      expect(statements.flatMap((st) => [st.Action].flat()).filter((a) => /^(kinesis:|ecs:RunTask|iam:PassRole)/.test(a))).toEqual([]);
    }
  });

  test('each stage creates the role its step assumes, trusted only by that step role, for its suite', () => {
    for (const [suffix, account] of [
      ['dev', '222222222222'],
      ['prod', '333333333333'],
    ]) {
      const compute = Template.fromStack(stageOf(suffix).compute);
      const role = stageOf(suffix).compute.postDeployRole!.role;
      compute.hasResourceProperties('AWS::IAM::Role', {
        RoleName: `hipaa-fhir-post-deploy-${suffix}`,
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Action: 'sts:AssumeRole',
              Effect: 'Allow',
              Principal: { AWS: 'arn:aws:iam::111111111111:root' },
              Condition: { ArnEquals: { 'aws:PrincipalArn': `arn:aws:iam::111111111111:role/hipaa-fhir-post-deploy-step-${suffix}` } },
            },
          ],
        },
      });
      compute.hasOutput('PostDeployRoleArn', { Value: getAtt(role) });
      const statements = statementsOfRole(compute, role);
      const bySid = Object.fromEntries(statements.map((st) => [st.Sid, st]));
      // Scoped to that environment, in its account.
      expect(JSON.stringify(statements)).not.toMatch(suffix === 'dev' ? /-prod/ : /-dev/);
      expect(bySid.ReadStageStacks.Resource).toHaveLength(4);
      expect(bySid.DescribeStream.Resource).toBe(`arn:aws:kinesis:eu-west-2:${account}:stream/hipaa-fhir-records-${suffix}`);
      expect(statements.filter((st) => st.Resource === '*').map((st) => st.Action)).toEqual(['cloudformation:ListStacks']);
      if (suffix === 'dev') {
        expect(bySid.PutTestRecords).toMatchObject({
          Action: expect.arrayContaining(['kinesis:PutRecords', 'kinesis:PutRecord']),
          Resource: `arn:aws:kinesis:eu-west-2:${account}:stream/hipaa-fhir-records-dev`,
        });
        expect(bySid.RunVerifyTask).toMatchObject({
          Resource: `arn:aws:ecs:eu-west-2:${account}:task-definition/hipaa-fhir-processor-dev:*`,
          Condition: { ArnEquals: { 'ecs:cluster': `arn:aws:ecs:eu-west-2:${account}:cluster/hipaa-fhir-cluster-dev` } },
        });
        expect(bySid.PassProcessorRoles).toMatchObject({
          Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
        });
        expect(bySid.EncryptTestRecords).toMatchObject({
          Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/hipaa-fhir/dev/stream' } },
        });
        expect(bySid.ProtectStageStacks).toBeUndefined();
      } else {
        // The smoke role (production) cannot write records or run tasks.
        expect(
          statements.flatMap((st) => [st.Action].flat()).filter((a) => /^(kinesis:PutRecord|ecs:RunTask|iam:PassRole)/.test(a)),
        ).toEqual([]);
        expect(bySid.DescribeStream.Action).toBe('kinesis:DescribeStreamSummary');
      }
    }
  });

  // Issue 8, defect 4: CDK Pipelines ignores terminationProtection (aws/aws-cdk#17871).
  test('the production smoke step turns on termination protection of exactly the four prod stacks, through the assumed role', () => {
    const prodCompute = Template.fromStack(stageOf('prod').compute);
    const protect = statementsOfRole(prodCompute, stageOf('prod').compute.postDeployRole!.role).find(
      (st) => st.Sid === 'ProtectStageStacks',
    );
    expect(protect).toEqual({
      Sid: 'ProtectStageStacks',
      Effect: 'Allow',
      Action: 'cloudformation:UpdateTerminationProtection',
      Resource: ['audit', 'compute', 'data', 'network'].map(
        (l) => `arn:aws:cloudformation:eu-west-2:333333333333:stack/hipaa-fhir-${l}-prod/*`,
      ),
    });
    expect(envOf('hipaa-fhir-smoke-test-prod')).toMatchObject({
      PROTECT_STACKS: 'true',
      POST_DEPLOY_ROLE_ARN: 'arn:aws:iam::333333333333:role/hipaa-fhir-post-deploy-prod',
    });
    expect(envOf('hipaa-fhir-integ-test-dev')).toMatchObject({
      PROTECT_STACKS: 'false',
      POST_DEPLOY_ROLE_ARN: 'arn:aws:iam::222222222222:role/hipaa-fhir-post-deploy-dev',
    });
  });

  // Issue 8, defect 7: every CodeBuild step pins Node.js 24 on the image that lists it.
  test('every build (synth, self-mutation, assets, integration, smoke) runs Node.js 24 on standard:8.0', () => {
    expect(Object.keys(projects).length).toBeGreaterThanOrEqual(6);
    template.allResourcesProperties('AWS::CodeBuild::Project', { Environment: Match.objectLike({ Image: 'aws/codebuild/standard:8.0' }) });
    for (const [id, project] of Object.entries(projects)) {
      const source = project.Properties.Source as { BuildSpec: string };
      if (source.BuildSpec.trim().startsWith('{')) {
        expect([id, JSON.parse(source.BuildSpec).phases.install['runtime-versions']]).toEqual([id, { nodejs: 24 }]);
      } else {
        // Asset jobs read a buildspec file from the cloud assembly; CDK Pipelines writes it with the same defaults.
        expect(source.BuildSpec).toMatch(/^buildspec-.*\.yaml$/);
      }
    }
  });

  test("artifacts: the pipeline's store is its ArtifactBucket, on the pipeline key, logged under artifacts/, retained for a production pipeline", () => {
    const artifacts = stack.node.findChild('Artifacts') as ArtifactBucket;
    const pipelineKey = getAtt((stack.node.findChild('PipelineKey') as EncryptionKey).key);
    expect(pipeline.ArtifactStore).toEqual({
      Type: 'S3',
      Location: { Ref: logicalIdOf(artifacts.bucket) },
      EncryptionKey: { Id: pipelineKey, Type: 'KMS' },
    });
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: pipelineKey } }),
          ],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: { DestinationBucketName: { Ref: logicalIdOf(artifacts.accessLogs) }, LogFilePrefix: 'artifacts/' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      }),
      DeletionPolicy: 'Retain',
    });
    // TLS 1.2 at least (minimumTLSVersion), as deployed: the bucket policy denies older clients.
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalIdOf(artifacts.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      },
    });
    template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    expect(stack.terminationProtection).toBe(true);
    template.hasOutput('ArtifactBucketName', { Value: { Ref: logicalIdOf(artifacts.bucket) } });
  });

  test('failures and approvals notify an encrypted topic', () => {
    template.hasResourceProperties('AWS::CodeStarNotifications::NotificationRule', {
      EventTypeIds: Match.arrayWith([
        'codepipeline-pipeline-pipeline-execution-failed',
        'codepipeline-pipeline-action-execution-failed',
        'codepipeline-pipeline-manual-approval-needed',
      ]),
      Targets: [{ TargetType: 'SNS', TargetAddress: { Ref: logicalIdOf(stack.notificationTopic) } }],
    });
    template.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: 'hipaa-fhir-pipeline-notifications',
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PipelineKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'release@example.org' });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AllowCodeStarNotificationsToPublishEncrypted',
            Principal: { Service: 'codestar-notifications.amazonaws.com' },
            Condition: { StringEquals: { 'kms:ViaService': 'sns.eu-west-2.amazonaws.com' } },
          }),
        ]),
      },
    });
  });

  test('environments in other accounts: their deploy roles may read the artifacts (key and bucket)', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { AWS: [deployRole('222222222222'), deployRole('333333333333')] },
            Action: ['kms:Decrypt', 'kms:DescribeKey'],
          }),
        ]),
      },
    });
  });

  describe('a destroyable pipeline with every environment in its own account', () => {
    const same = Template.fromStack(
      new PipelineStack(testApp(), 'S', { pipeline: referencePipelineConfig({ destroyable: true }, { sameAccount: true }) }),
    );

    test("needs no cross-account access: only its own account's deploy role reads the artifacts", () => {
      same.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({ Principal: { AWS: deployRole('111111111111') }, Action: ['kms:Decrypt', 'kms:DescribeKey'] }),
          ]),
        },
      });
      for (const other of ['222222222222', '333333333333']) {
        same.resourcePropertiesCountIs(
          'AWS::KMS::Key',
          { KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { AWS: Match.arrayWith([deployRole(other)]) } })]) } },
          0,
        );
        same.resourcePropertiesCountIs(
          'AWS::KMS::Key',
          { KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { AWS: deployRole(other) } })]) } },
          0,
        );
      }
    });

    test('empties and deletes its buckets', () => {
      same.resourceCountIs('AWS::S3::Bucket', 2);
      same.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
      same.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    });
  });
});
