import { Match, Template } from 'aws-cdk-lib/assertions';
import { EncryptionKey } from '../../../lib/constructs/encryption-key';
import { sourceActionRoles } from '../../../lib/pipeline/connection';
import { loadIntegrationBuildSpec } from '../../../lib/pipeline/integration-test-step';
import { PreviewEnvironmentsStack } from '../../../lib/pipeline/preview-environments-stack';
import { referencePipelineConfig, referencePreviewConfig } from '../../helpers/reference-app';
import { getAtt, logicalIdOf, statementsOfRole, testApp } from '../../helpers';

describe('PreviewEnvironmentsStack', () => {
  const stack = new PreviewEnvironmentsStack(testApp(), 'Ephemeral', {
    pipeline: referencePipelineConfig(),
    previews: referencePreviewConfig({ branchPatterns: ['feature/*', 'bugfix/*'], maxEnvironments: 4 }),
  });
  const template = Template.fromStack(stack);
  const pipelines = Object.fromEntries(
    Object.values(template.findResources('AWS::CodePipeline::Pipeline')).map((r) => [r.Properties.Name as string, r.Properties]),
  );
  const project = (name: string) => {
    const found = Object.values(template.findResources('AWS::CodeBuild::Project', { Properties: { Name: name } }));
    expect([name, found.length]).toEqual([name, 1]);
    return found[0].Properties;
  };
  const buildspec = (name: string) => JSON.parse((project(name).Source as { BuildSpec: string }).BuildSpec);

  test('three V2 pipelines on the same connection', () => {
    expect(Object.keys(pipelines).sort()).toEqual([
      'hipaa-fhir-preview-deploy',
      'hipaa-fhir-preview-destroy',
      'hipaa-fhir-preview-sweeper',
    ]);
    for (const p of Object.values(pipelines)) {
      expect(p.PipelineType).toBe('V2');
      expect((p.Stages as Array<{ Actions: Array<{ Configuration: Record<string, unknown> }> }>)[0].Actions[0].Configuration).toMatchObject(
        {
          ConnectionArn: 'arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000',
          FullRepositoryId: 'example-org/hipaa-fhir-pipeline',
          // Only the filtered triggers (or the schedule) start runs.
          DetectChanges: false,
        },
      );
    }
    // Issue 8, defect 5: a push and a pull-request update of one branch queue, never deploy at once.
    expect(pipelines['hipaa-fhir-preview-deploy'].ExecutionMode).toBe('QUEUED');
  });

  test('deploy: pushes to matching branches and pull requests opened or updated against main, in one trigger with two filters', () => {
    expect(pipelines['hipaa-fhir-preview-deploy'].Triggers).toEqual([
      {
        ProviderType: 'CodeStarSourceConnection',
        GitConfiguration: {
          SourceActionName: 'Source',
          Push: [{ Branches: { Includes: ['feature/*', 'bugfix/*'] } }],
          PullRequest: [{ Branches: { Includes: ['main'] }, Events: ['OPEN', 'UPDATED'] }],
        },
      },
    ]);
  });

  test('destroy: pull requests closed or merged into main', () => {
    expect(pipelines['hipaa-fhir-preview-destroy'].Triggers).toEqual([
      {
        ProviderType: 'CodeStarSourceConnection',
        GitConfiguration: { SourceActionName: 'Source', PullRequest: [{ Branches: { Includes: ['main'] }, Events: ['CLOSED'] }] },
      },
    ]);
    expect(buildspec('hipaa-fhir-preview-destroy').phases.build.commands).toEqual([
      'AWS_PROFILE=sandbox npx ts-node --transpile-only scripts/preview.ts destroy --branch "$PR_SOURCE_BRANCH" --yes',
    ]);
    const destroyStage = (
      pipelines['hipaa-fhir-preview-destroy'].Stages as Array<{ Actions: Array<{ Configuration: { EnvironmentVariables?: string } }> }>
    )[1];
    expect(JSON.parse(destroyStage.Actions[0].Configuration.EnvironmentVariables!)).toEqual([
      { name: 'PR_SOURCE_BRANCH', type: 'PLAINTEXT', value: '#{Source.SourceBranchName}' },
    ]);
  });

  test('the deploy build derives the suffix from the branch variable, enforces the cap, then cdk-deploys that stage only', () => {
    const spec = buildspec('hipaa-fhir-preview-deploy');
    expect(spec.env['exported-variables']).toEqual(['ENVIRONMENT_SUFFIX']);
    expect(spec.phases.build.commands).toEqual([
      'export BRANCH="${PR_SOURCE_BRANCH:-$PUSH_BRANCH}"',
      'export ENVIRONMENT_SUFFIX=$(AWS_PROFILE=sandbox npx ts-node --transpile-only scripts/preview.ts suffix --branch "$BRANCH")',
      'echo "branch $BRANCH -> environment $ENVIRONMENT_SUFFIX"',
      'AWS_PROFILE=sandbox npx ts-node --transpile-only scripts/preview.ts check-cap --suffix "$ENVIRONMENT_SUFFIX" --max "$MAX_PREVIEW_ENVIRONMENTS"',
      'npx cdk deploy --no-lookups --require-approval never -c branch="$BRANCH" "$ENVIRONMENT_SUFFIX/*"',
    ]);
    expect(project('hipaa-fhir-preview-deploy').Environment).toMatchObject({
      PrivilegedMode: true,
      EnvironmentVariables: expect.arrayContaining([{ Name: 'MAX_PREVIEW_ENVIRONMENTS', Type: 'PLAINTEXT', Value: '4' }]),
    });
    const deployStage = pipelines['hipaa-fhir-preview-deploy'].Stages as Array<{
      Name: string;
      Actions: Array<{ Configuration: { EnvironmentVariables?: string }; Namespace?: string }>;
    }>;
    expect(deployStage.map((s) => s.Name)).toEqual(['Source', 'Deploy', 'IntegrationTest']);
    // Issue 8, defect 5: pull-request executions name their source branch in SourceBranchName.
    expect(JSON.parse(deployStage[1].Actions[0].Configuration.EnvironmentVariables!)).toEqual([
      { name: 'PUSH_BRANCH', type: 'PLAINTEXT', value: '#{Source.BranchName}' },
      { name: 'PR_SOURCE_BRANCH', type: 'PLAINTEXT', value: '#{Source.SourceBranchName}' },
      { name: 'PR_DESTINATION_BRANCH', type: 'PLAINTEXT', value: '#{Source.DestinationBranchName}' },
    ]);
    expect(deployStage[1].Actions[0].Namespace).toBe('Deploy');
    expect(JSON.parse(deployStage[2].Actions[0].Configuration.EnvironmentVariables!)).toEqual(
      expect.arrayContaining([
        { name: 'ENVIRONMENT_SUFFIX', type: 'PLAINTEXT', value: '#{Deploy.ENVIRONMENT_SUFFIX}' },
        {
          name: 'POST_DEPLOY_ROLE_ARN',
          type: 'PLAINTEXT',
          value: 'arn:aws:iam::444444444444:role/hipaa-fhir-post-deploy-#{Deploy.ENVIRONMENT_SUFFIX}',
        },
      ]),
    );
  });

  test('the integration build is buildspec-integ.yml', () => {
    const spec = buildspec('hipaa-fhir-preview-integ-test');
    const file = loadIntegrationBuildSpec() as { phases: Record<string, { commands: string[] }> };
    expect(spec.phases.build.commands).toEqual(file.phases.build.commands);
    expect(spec.phases.pre_build.commands).toEqual(file.phases.pre_build.commands);
  });

  /** The statements of a build's role (`<Project>Role`, e.g. DeployProjectRole). */
  const statementsOf = (project: string) => statementsOfRole(template, stack.node.findChild(`${project}Role`));
  const assumable = (project: string) =>
    statementsOf(project)
      .filter((st) => [st.Action].flat().includes('sts:AssumeRole'))
      .flatMap((st) => [st.Resource].flat())
      .sort();

  test('per-branch builds assume only roles in the sandbox account: its own bootstrap, its manager role, per-branch post-deploy roles', () => {
    expect(assumable('DeployProject')).toEqual([
      'arn:aws:iam::444444444444:role/cdk-branches-deploy-role-444444444444-eu-west-2',
      'arn:aws:iam::444444444444:role/cdk-branches-file-publishing-role-444444444444-eu-west-2',
      'arn:aws:iam::444444444444:role/cdk-branches-image-publishing-role-444444444444-eu-west-2',
      'arn:aws:iam::444444444444:role/hipaa-fhir-preview-manager',
    ]);
    for (const id of ['DestroyProject', 'SweepProject']) {
      expect(assumable(id)).toEqual(['arn:aws:iam::444444444444:role/hipaa-fhir-preview-manager']);
    }
    // br- is a prefix no long-lived suffix may have: the pattern matches no dev or prod role.
    expect(assumable('IntegrationTestProject')).toEqual(['arn:aws:iam::444444444444:role/hipaa-fhir-post-deploy-br-*']);
    for (const id of ['DeployProject', 'DestroyProject', 'SweepProject', 'IntegrationTestProject']) {
      const statements = statementsOf(id);
      expect(statements.length).toBeGreaterThan(0);
      expect([
        id,
        statements
          .flatMap((st) => [st.Action].flat())
          .filter((a) => /^(cloudformation:(CreateStack|UpdateStack|DeleteStack)|iam:PassRole|kinesis:|ecs:RunTask)/.test(a)),
      ]).toEqual([id, []]);
      expect(JSON.stringify(statements)).not.toMatch(/111111111111:role\/cdk-|333333333333/);
    }
  });

  // Issue 8, defect 3: every source action role and the sweeper's clone role accept both prefixes.
  test("every source action role and the sweeper's clone role may use the connection under both prefixes", () => {
    const both = {
      Sid: 'UseRepositoryConnection',
      Effect: 'Allow',
      Action: ['codeconnections:UseConnection', 'codestar-connections:UseConnection'],
      Resource: [
        'arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000',
        'arn:aws:codestar-connections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000',
      ],
    };
    const sourceRoles = [stack.deployPipeline, stack.destroyPipeline, stack.sweeperPipeline].flatMap((p) => sourceActionRoles(p));
    expect(sourceRoles).toHaveLength(3);
    for (const role of [...sourceRoles, stack.node.findChild('SweepProjectRole')]) {
      expect([role.node.path, statementsOfRole(template, role)]).toEqual([role.node.path, expect.arrayContaining([both])]);
    }
  });

  // Issue 8, defect 7: per-branch builds pin Node.js 24 too.
  test('every per-branch build runs Node.js 24 on standard:8.0', () => {
    const names = ['deploy', 'integ-test', 'destroy', 'sweep'].map((n) => `hipaa-fhir-preview-${n}`);
    for (const name of names) {
      expect((project(name).Environment as { Image: string }).Image).toBe('aws/codebuild/standard:8.0');
      expect([name, buildspec(name).phases.install['runtime-versions']]).toEqual([name, { nodejs: 24 }]);
    }
  });

  test('the sweeper runs hourly from a full clone (to list live branches), never on push', () => {
    // The schedule starts the sweeper pipeline (by its logical id), not the deploy or destroy one.
    expect(pipelines['hipaa-fhir-preview-sweeper']).toBeDefined();
    expect(
      Object.keys(template.findResources('AWS::CodePipeline::Pipeline', { Properties: { Name: 'hipaa-fhir-preview-sweeper' } })),
    ).toEqual([logicalIdOf(stack.sweeperPipeline)]);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::Join': ['', ['arn:aws:codepipeline:eu-west-2:111111111111:', { Ref: logicalIdOf(stack.sweeperPipeline) }]] },
        }),
      ],
    });
    const source = (
      pipelines['hipaa-fhir-preview-sweeper'].Stages as Array<{ Actions: Array<{ Configuration: Record<string, unknown> }> }>
    )[0].Actions[0];
    expect(source.Configuration).toMatchObject({ DetectChanges: false, OutputArtifactFormat: 'CODEBUILD_CLONE_REF' });
    expect(buildspec('hipaa-fhir-preview-sweep').phases.build.commands.join('\n')).toContain('git ls-remote --heads origin');
  });

  test("builds and artifacts are encrypted with the stack's key", () => {
    const key = getAtt((stack.node.findChild('Key') as EncryptionKey).key);
    template.resourceCountIs('AWS::CodeBuild::Project', 4);
    template.allResourcesProperties('AWS::CodeBuild::Project', { EncryptionKey: key });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hipaa-fhir/previews/codebuild', KmsKeyId: key });
  });
});
