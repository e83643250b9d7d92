import { Match, Template } from 'aws-cdk-lib/assertions';
import { parseEphemeralConfig } from '../../../lib/config';
import { loadIntegrationBuildSpec } from '../../../lib/pipeline/integration-test-step';
import { EphemeralEnvironmentsStack } from '../../../lib/pipeline/ephemeral-environments-stack';
import { referencePipelineConfig } from '../../../scripts/compliance-report';
import { resourcesOf, testApp } from '../../helpers';

describe('EphemeralEnvironmentsStack', () => {
  const stack = new EphemeralEnvironmentsStack(testApp(), 'Ephemeral', {
    pipeline: referencePipelineConfig(),
    ephemeral: parseEphemeralConfig({ branchPatterns: ['feature/*', 'bugfix/*'], maxEnvironments: 4 }, 'hipaa-fhir'),
  });
  const template = Template.fromStack(stack);
  const pipelines = Object.fromEntries(resourcesOf(template).filter(([, r]) => r.Type === 'AWS::CodePipeline::Pipeline').map(([, r]) => [r.Properties!.Name as string, r.Properties!]));
  const project = (name: string) => resourcesOf(template).find(([, r]) => r.Type === 'AWS::CodeBuild::Project' && r.Properties?.Name === name)![1].Properties!;
  const buildspec = (name: string) => JSON.parse((project(name).Source as { BuildSpec: string }).BuildSpec);
  const policyOf = (idPart: string) => JSON.stringify(resourcesOf(template).find(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith(idPart))![1].Properties);

  test('three V2 pipelines on the same connection', () => {
    expect(Object.keys(pipelines).sort()).toEqual(['hipaa-fhir-ephemeral-deploy', 'hipaa-fhir-ephemeral-destroy', 'hipaa-fhir-ephemeral-sweeper']);
    for (const p of Object.values(pipelines)) {
      expect(p.PipelineType).toBe('V2');
      expect((p.Stages as Array<{ Actions: Array<{ Configuration: Record<string, unknown> }> }>)[0].Actions[0].Configuration).toMatchObject({
        ConnectionArn: 'arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000',
        FullRepositoryId: 'example-org/hipaa-fhir-pipeline',
        // Only the filtered triggers (or the schedule) start runs.
        DetectChanges: false,
      });
    }
    expect(pipelines['hipaa-fhir-ephemeral-deploy'].ExecutionMode).toBe('PARALLEL');
  });

  test('deploy: pushes to matching branches and pull requests opened or updated against main, in one trigger with two filters', () => {
    expect(pipelines['hipaa-fhir-ephemeral-deploy'].Triggers).toEqual([{
      ProviderType: 'CodeStarSourceConnection',
      GitConfiguration: {
        SourceActionName: 'Source',
        Push: [{ Branches: { Includes: ['feature/*', 'bugfix/*'] } }],
        PullRequest: [{ Branches: { Includes: ['main'] }, Events: ['OPEN', 'UPDATED'] }],
      },
    }]);
  });

  test('destroy: pull requests closed or merged into main', () => {
    expect(pipelines['hipaa-fhir-ephemeral-destroy'].Triggers).toEqual([{
      ProviderType: 'CodeStarSourceConnection',
      GitConfiguration: { SourceActionName: 'Source', PullRequest: [{ Branches: { Includes: ['main'] }, Events: ['CLOSED'] }] },
    }]);
    expect(buildspec('hipaa-fhir-ephemeral-destroy').phases.build.commands).toEqual(['npx ts-node --transpile-only scripts/ephemeral.ts destroy --branch "$BRANCH" --yes']);
  });

  test('the deploy build derives the suffix from the branch variable, enforces the cap, then cdk-deploys that stage only', () => {
    const spec = buildspec('hipaa-fhir-ephemeral-deploy');
    expect(spec.env['exported-variables']).toEqual(['ENVIRONMENT_SUFFIX']);
    expect(spec.phases.build.commands).toEqual([
      'export ENVIRONMENT_SUFFIX=$(npx ts-node --transpile-only scripts/ephemeral.ts suffix --branch "$BRANCH")',
      'echo "branch $BRANCH -> environment $ENVIRONMENT_SUFFIX"',
      'npx ts-node --transpile-only scripts/ephemeral.ts check-cap --suffix "$ENVIRONMENT_SUFFIX" --max "$MAX_EPHEMERAL_ENVIRONMENTS"',
      'npx cdk deploy --no-lookups --require-approval never -c branch="$BRANCH" "$ENVIRONMENT_SUFFIX/*"',
    ]);
    expect(project('hipaa-fhir-ephemeral-deploy').Environment).toMatchObject({
      PrivilegedMode: true,
      EnvironmentVariables: expect.arrayContaining([{ Name: 'MAX_EPHEMERAL_ENVIRONMENTS', Type: 'PLAINTEXT', Value: '4' }]),
    });
    const deployStage = (pipelines['hipaa-fhir-ephemeral-deploy'].Stages as Array<{ Name: string; Actions: Array<{ Configuration: { EnvironmentVariables?: string }; Namespace?: string }> }>);
    expect(deployStage.map((s) => s.Name)).toEqual(['Source', 'Deploy', 'IntegrationTest']);
    expect(JSON.parse(deployStage[1].Actions[0].Configuration.EnvironmentVariables!)).toEqual([{ name: 'BRANCH', type: 'PLAINTEXT', value: '#{Source.BranchName}' }]);
    expect(deployStage[1].Actions[0].Namespace).toBe('Deploy');
    expect(JSON.parse(deployStage[2].Actions[0].Configuration.EnvironmentVariables!)).toEqual(expect.arrayContaining([{ name: 'ENVIRONMENT_SUFFIX', type: 'PLAINTEXT', value: '#{Deploy.ENVIRONMENT_SUFFIX}' }]));
  });

  test('the integration build is buildspec-integ.yml', () => {
    const spec = buildspec('hipaa-fhir-ephemeral-integ-test');
    const file = loadIntegrationBuildSpec() as { phases: Record<string, { commands: string[] }> };
    expect(spec.phases.build.commands).toEqual(file.phases.build.commands);
    expect(spec.phases.pre_build.commands).toEqual(file.phases.pre_build.commands);
  });

  test('deploy builds can only assume the CDK bootstrap roles; teardown can delete only Ephemeral=true stacks', () => {
    const deploy = policyOf('DeployProjectRoleDefaultPolicy');
    expect(deploy).toContain('arn:aws:iam::111111111111:role/cdk-hnb659fds-deploy-role-111111111111-eu-west-2');
    expect(deploy).not.toMatch(/cloudformation:(CreateStack|UpdateStack|DeleteStack)|iam:PassRole/);
    for (const id of ['DestroyProjectRoleDefaultPolicy', 'SweepProjectRoleDefaultPolicy']) {
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
          Action: 'cloudformation:DeleteStack',
          Resource: 'arn:aws:cloudformation:eu-west-2:111111111111:stack/hipaa-fhir-*/*',
          Condition: { StringEquals: { 'aws:ResourceTag/Ephemeral': 'true' } },
        })]) },
      });
      expect(policyOf(id)).not.toContain('sts:AssumeRole');
    }
  });

  test('the sweeper runs hourly from a full clone (to list live branches), never on push', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [Match.objectLike({ Arn: Match.anyValue() })],
    });
    const source = (pipelines['hipaa-fhir-ephemeral-sweeper'].Stages as Array<{ Actions: Array<{ Configuration: Record<string, unknown> }> }>)[0].Actions[0];
    expect(source.Configuration).toMatchObject({ DetectChanges: false, OutputArtifactFormat: 'CODEBUILD_CLONE_REF' });
    expect(buildspec('hipaa-fhir-ephemeral-sweep').phases.build.commands.join('\n')).toContain('git ls-remote --heads origin');
  });

  test('builds and artifacts are encrypted with the stack\'s key', () => {
    for (const [, r] of resourcesOf(template).filter(([, r]) => r.Type === 'AWS::CodeBuild::Project')) {
      expect(r.Properties!.EncryptionKey).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] });
    }
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hipaa-fhir/ephemeral/codebuild', KmsKeyId: Match.anyValue() });
  });
});
