import { Match, Template } from 'aws-cdk-lib/assertions';
import { parsePreviewConfig } from '../../../lib/config';
import { loadIntegrationBuildSpec } from '../../../lib/pipeline/integration-test-step';
import { PreviewEnvironmentsStack } from '../../../lib/pipeline/preview-environments-stack';
import { referencePipelineConfig } from '../../helpers/reference-app';
import { resourcesOf, testApp } from '../../helpers';

describe('PreviewEnvironmentsStack', () => {
  const stack = new PreviewEnvironmentsStack(testApp(), 'Ephemeral', {
    pipeline: referencePipelineConfig(),
    previews: parsePreviewConfig({ branchPatterns: ['feature/*', 'bugfix/*'], maxEnvironments: 4, account: '444444444444', bootstrapQualifier: 'branches' }, 'hipaa-fhir'),
  });
  const template = Template.fromStack(stack);
  const pipelines = Object.fromEntries(resourcesOf(template).filter(([, r]) => r.Type === 'AWS::CodePipeline::Pipeline').map(([, r]) => [r.Properties!.Name as string, r.Properties!]));
  const project = (name: string) => resourcesOf(template).find(([, r]) => r.Type === 'AWS::CodeBuild::Project' && r.Properties?.Name === name)![1].Properties!;
  const buildspec = (name: string) => JSON.parse((project(name).Source as { BuildSpec: string }).BuildSpec);

  test('three V2 pipelines on the same connection', () => {
    expect(Object.keys(pipelines).sort()).toEqual(['hipaa-fhir-preview-deploy', 'hipaa-fhir-preview-destroy', 'hipaa-fhir-preview-sweeper']);
    for (const p of Object.values(pipelines)) {
      expect(p.PipelineType).toBe('V2');
      expect((p.Stages as Array<{ Actions: Array<{ Configuration: Record<string, unknown> }> }>)[0].Actions[0].Configuration).toMatchObject({
        ConnectionArn: 'arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000',
        FullRepositoryId: 'example-org/hipaa-fhir-pipeline',
        // Only the filtered triggers (or the schedule) start runs.
        DetectChanges: false,
      });
    }
    // Issue 8, defect 5: a push and a pull-request update of one branch queue, never deploy at once.
    expect(pipelines['hipaa-fhir-preview-deploy'].ExecutionMode).toBe('QUEUED');
  });

  test('deploy: pushes to matching branches and pull requests opened or updated against main, in one trigger with two filters', () => {
    expect(pipelines['hipaa-fhir-preview-deploy'].Triggers).toEqual([{
      ProviderType: 'CodeStarSourceConnection',
      GitConfiguration: {
        SourceActionName: 'Source',
        Push: [{ Branches: { Includes: ['feature/*', 'bugfix/*'] } }],
        PullRequest: [{ Branches: { Includes: ['main'] }, Events: ['OPEN', 'UPDATED'] }],
      },
    }]);
  });

  test('destroy: pull requests closed or merged into main', () => {
    expect(pipelines['hipaa-fhir-preview-destroy'].Triggers).toEqual([{
      ProviderType: 'CodeStarSourceConnection',
      GitConfiguration: { SourceActionName: 'Source', PullRequest: [{ Branches: { Includes: ['main'] }, Events: ['CLOSED'] }] },
    }]);
    expect(buildspec('hipaa-fhir-preview-destroy').phases.build.commands).toEqual(['AWS_PROFILE=sandbox npx ts-node --transpile-only scripts/preview.ts destroy --branch "$PR_SOURCE_BRANCH" --yes']);
    const destroyStage = (pipelines['hipaa-fhir-preview-destroy'].Stages as Array<{ Actions: Array<{ Configuration: { EnvironmentVariables?: string } }> }>)[1];
    expect(JSON.parse(destroyStage.Actions[0].Configuration.EnvironmentVariables!)).toEqual([{ name: 'PR_SOURCE_BRANCH', type: 'PLAINTEXT', value: '#{Source.SourceBranchName}' }]);
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
    const deployStage = (pipelines['hipaa-fhir-preview-deploy'].Stages as Array<{ Name: string; Actions: Array<{ Configuration: { EnvironmentVariables?: string }; Namespace?: string }> }>);
    expect(deployStage.map((s) => s.Name)).toEqual(['Source', 'Deploy', 'IntegrationTest']);
    // Issue 8, defect 5: pull-request executions name their source branch in SourceBranchName.
    expect(JSON.parse(deployStage[1].Actions[0].Configuration.EnvironmentVariables!)).toEqual([
      { name: 'PUSH_BRANCH', type: 'PLAINTEXT', value: '#{Source.BranchName}' },
      { name: 'PR_SOURCE_BRANCH', type: 'PLAINTEXT', value: '#{Source.SourceBranchName}' },
      { name: 'PR_DESTINATION_BRANCH', type: 'PLAINTEXT', value: '#{Source.DestinationBranchName}' },
    ]);
    expect(deployStage[1].Actions[0].Namespace).toBe('Deploy');
    expect(JSON.parse(deployStage[2].Actions[0].Configuration.EnvironmentVariables!)).toEqual(expect.arrayContaining([
      { name: 'ENVIRONMENT_SUFFIX', type: 'PLAINTEXT', value: '#{Deploy.ENVIRONMENT_SUFFIX}' },
      { name: 'POST_DEPLOY_ROLE_ARN', type: 'PLAINTEXT', value: 'arn:aws:iam::444444444444:role/hipaa-fhir-post-deploy-#{Deploy.ENVIRONMENT_SUFFIX}' },
    ]));
  });

  test('the integration build is buildspec-integ.yml', () => {
    const spec = buildspec('hipaa-fhir-preview-integ-test');
    const file = loadIntegrationBuildSpec() as { phases: Record<string, { commands: string[] }> };
    expect(spec.phases.build.commands).toEqual(file.phases.build.commands);
    expect(spec.phases.pre_build.commands).toEqual(file.phases.pre_build.commands);
  });

  const statementsOf = (idPart: string) => (resourcesOf(template).find(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith(idPart))![1].Properties!.PolicyDocument as { Statement: Array<{ Sid?: string; Action: string | string[]; Resource: string | string[] }> }).Statement;
  const assumable = (idPart: string) => statementsOf(idPart).filter((st) => [st.Action].flat().includes('sts:AssumeRole')).flatMap((st) => [st.Resource].flat()).sort();

  test('per-branch builds assume only roles in the sandbox account: its own bootstrap, its manager role, per-branch post-deploy roles', () => {
    expect(assumable('DeployProjectRoleDefaultPolicy')).toEqual([
      'arn:aws:iam::444444444444:role/cdk-branches-deploy-role-444444444444-eu-west-2',
      'arn:aws:iam::444444444444:role/cdk-branches-file-publishing-role-444444444444-eu-west-2',
      'arn:aws:iam::444444444444:role/cdk-branches-image-publishing-role-444444444444-eu-west-2',
      'arn:aws:iam::444444444444:role/hipaa-fhir-preview-manager',
    ]);
    for (const id of ['DestroyProjectRoleDefaultPolicy', 'SweepProjectRoleDefaultPolicy']) {
      expect(assumable(id)).toEqual(['arn:aws:iam::444444444444:role/hipaa-fhir-preview-manager']);
    }
    // br- is a prefix no long-lived suffix may have: the pattern matches no dev or prod role.
    expect(assumable('IntegrationTestProjectRoleDefaultPolicy')).toEqual(['arn:aws:iam::444444444444:role/hipaa-fhir-post-deploy-br-*']);
    for (const id of ['DeployProjectRoleDefaultPolicy', 'DestroyProjectRoleDefaultPolicy', 'SweepProjectRoleDefaultPolicy', 'IntegrationTestProjectRoleDefaultPolicy']) {
      const json = JSON.stringify(statementsOf(id));
      expect(json).not.toMatch(/cloudformation:(CreateStack|UpdateStack|DeleteStack)|iam:PassRole|kinesis:|ecs:RunTask|111111111111:role\/cdk-|333333333333/);
    }
  });

  // Issue 8, defect 3: every source action role and the sweeper's clone role accept both prefixes.
  test('every source action role and the sweeper\'s clone role may use the connection under both prefixes', () => {
    const both = {
      Sid: 'UseRepositoryConnection', Effect: 'Allow',
      Action: ['codeconnections:UseConnection', 'codestar-connections:UseConnection'],
      Resource: ['arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000', 'arn:aws:codestar-connections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000'],
    };
    const sourcePolicies = resourcesOf(template).filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && /SourceCodePipelineActionRoleDefaultPolicy/.test(id));
    expect(sourcePolicies).toHaveLength(3);
    for (const [, policy] of [...sourcePolicies, resourcesOf(template).find(([id]) => id.startsWith('SweepProjectRoleDefaultPolicy'))!]) {
      expect((policy.Properties!.PolicyDocument as { Statement: unknown[] }).Statement).toContainEqual(both);
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
    const sweeperId = resourcesOf(template).filter(([, r]) => r.Type === 'AWS::CodePipeline::Pipeline' && r.Properties?.Name === 'hipaa-fhir-preview-sweeper').map(([id]) => id);
    expect(sweeperId).toHaveLength(1);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [Match.objectLike({ Arn: { 'Fn::Join': ['', ['arn:aws:codepipeline:eu-west-2:111111111111:', { Ref: sweeperId[0] }]] } })],
    });
    const source = (pipelines['hipaa-fhir-preview-sweeper'].Stages as Array<{ Actions: Array<{ Configuration: Record<string, unknown> }> }>)[0].Actions[0];
    expect(source.Configuration).toMatchObject({ DetectChanges: false, OutputArtifactFormat: 'CODEBUILD_CLONE_REF' });
    expect(buildspec('hipaa-fhir-preview-sweep').phases.build.commands.join('\n')).toContain('git ls-remote --heads origin');
  });

  test('builds and artifacts are encrypted with the stack\'s key', () => {
    for (const [, r] of resourcesOf(template).filter(([, r]) => r.Type === 'AWS::CodeBuild::Project')) {
      expect(r.Properties!.EncryptionKey).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] });
    }
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hipaa-fhir/previews/codebuild', KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } });
  });
});
