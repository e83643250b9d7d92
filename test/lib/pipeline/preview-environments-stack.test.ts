import { Match, Template } from 'aws-cdk-lib/assertions';
import { EncryptionKey } from '../../../lib/constructs/encryption-key';
import { sourceActionRoles } from '../../../lib/pipeline/connection';
import { loadIntegrationBuildSpec } from '../../../lib/pipeline/integration-test-step';
import { PreviewEnvironmentsStack, SOURCE_VARIABLES } from '../../../lib/pipeline/preview-environments-stack';
import { referencePipelineConfig, referencePreviewConfig } from '../../../scripts/generators/reference-app';
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

  type Action = {
    Name: string;
    ActionTypeId: { Category: string; Provider: string };
    Configuration: Record<string, string>;
    Namespace?: string;
  };
  type StageDef = { Name: string; Actions: Action[]; BeforeEntry?: unknown };
  const stages = (name: string) => pipelines[name].Stages as StageDef[];
  const stage = (pipeline: string, name: string) => stages(pipeline).find((st) => st.Name === name)!;
  const P = {
    operate: 'hipaa-fhir-preview-operate',
    push: 'hipaa-fhir-preview-push',
    pullRequest: 'hipaa-fhir-preview-pull-request',
    closed: 'hipaa-fhir-preview-pull-request-closed',
  };
  /** The trigger kinds that start a pipeline, from its synthesized Triggers (none: started by API only). */
  const triggerKinds = (name: string): Array<keyof typeof SOURCE_VARIABLES> =>
    ((pipelines[name].Triggers ?? []) as Array<{ GitConfiguration: { Push?: unknown; PullRequest?: unknown } }>).flatMap((t) => [
      ...(t.GitConfiguration.Push ? (['push'] as const) : []),
      ...(t.GitConfiguration.PullRequest ? (['pullRequest'] as const) : []),
    ]);
  const sourceVariables = (name: string) => [...JSON.stringify(pipelines[name].Stages).matchAll(/#\{Source\.(\w+)\}/g)].map((m) => m[1]);

  test('four V2 pipelines on the same connection: the operate queue and one per trigger kind', () => {
    expect(Object.keys(pipelines).sort()).toEqual([P.operate, P.closed, P.pullRequest, P.push].sort());
    for (const p of Object.values(pipelines)) {
      expect(p.PipelineType).toBe('V2');
      const source = (p.Stages as StageDef[])[0].Actions[0];
      expect(source.ActionTypeId).toMatchObject({ Category: 'Source', Provider: 'CodeStarSourceConnection' });
      expect(source.Configuration).toMatchObject({
        FullRepositoryId: 'example-org/hipaa-fhir-pipeline',
        BranchName: 'main',
        DetectChanges: false,
      });
    }
  });

  // Issue 17 §4: AWS defines SourceBranchName/DestinationBranchName for pull-request executions only.
  test('every #{Source.X} a pipeline references is a variable AWS defines for each trigger kind that starts it', () => {
    expect(triggerKinds(P.push)).toEqual(['push']);
    expect(triggerKinds(P.pullRequest)).toEqual(['pullRequest']);
    expect(triggerKinds(P.closed)).toEqual(['pullRequest']);
    // The queue has no trigger: the trigger pipelines, the schedule or a person start it, with no
    // source variables of a trigger, so it may use none of those defined for pull requests only.
    expect(triggerKinds(P.operate)).toEqual([]);
    const checked: string[] = [];
    for (const name of Object.keys(pipelines)) {
      const kinds = triggerKinds(name);
      // A variable must exist in every trigger kind that starts the pipeline (no trigger: the common set).
      const lists: Array<readonly string[]> = kinds.length === 0 ? [SOURCE_VARIABLES.push] : kinds.map((k) => SOURCE_VARIABLES[k]);
      for (const variable of sourceVariables(name)) {
        expect([name, variable, lists.every((list) => list.includes(variable))]).toEqual([name, variable, true]);
        checked.push(`${name}:${variable}`);
      }
    }
    // What is checked: the branch each trigger pipeline hands on, and the commit of a deploy.
    expect(checked.sort()).toEqual(
      [
        `${P.push}:BranchName`,
        `${P.push}:CommitId`,
        `${P.pullRequest}:SourceBranchName`,
        `${P.pullRequest}:CommitId`,
        `${P.closed}:SourceBranchName`,
      ].sort(),
    );
    // The lists encode AWS's documentation: the pull-request-only variables are not in the push list.
    expect(SOURCE_VARIABLES.push).not.toContain('SourceBranchName');
    expect(SOURCE_VARIABLES.push).not.toContain('DestinationBranchName');
  });

  test('triggers: a push to a matching branch, a pull request opened or updated against main, a pull request closed', () => {
    expect(pipelines[P.push].Triggers).toEqual([
      {
        ProviderType: 'CodeStarSourceConnection',
        GitConfiguration: { SourceActionName: 'Source', Push: [{ Branches: { Includes: ['feature/*', 'bugfix/*'] } }] },
      },
    ]);
    expect(pipelines[P.pullRequest].Triggers).toEqual([
      {
        ProviderType: 'CodeStarSourceConnection',
        GitConfiguration: { SourceActionName: 'Source', PullRequest: [{ Branches: { Includes: ['main'] }, Events: ['OPEN', 'UPDATED'] }] },
      },
    ]);
    expect(pipelines[P.closed].Triggers).toEqual([
      {
        ProviderType: 'CodeStarSourceConnection',
        GitConfiguration: { SourceActionName: 'Source', PullRequest: [{ Branches: { Includes: ['main'] }, Events: ['CLOSED'] }] },
      },
    ]);
  });

  test('each trigger pipeline only hands its request to the queue: the operation, the branch and, for a deploy, the commit', () => {
    const request = (name: string) => {
      const action = stage(name, 'Request').Actions[0];
      expect(action.ActionTypeId).toMatchObject({ Category: 'Invoke', Provider: 'CodePipeline' });
      expect(action.Configuration.PipelineName).toEqual({ Ref: logicalIdOf(stack.operatePipeline) });
      return {
        variables: JSON.parse(action.Configuration.Variables),
        revisions: action.Configuration.SourceRevisions === undefined ? undefined : JSON.parse(action.Configuration.SourceRevisions),
      };
    };
    const commit = [{ actionName: 'Source', revisionType: 'COMMIT_ID', revisionValue: '#{Source.CommitId}' }];
    expect(request(P.push)).toEqual({
      variables: [
        { name: 'OPERATION', value: 'deploy' },
        { name: 'BRANCH', value: '#{Source.BranchName}' },
      ],
      revisions: commit,
    });
    expect(request(P.pullRequest)).toEqual({
      variables: [
        { name: 'OPERATION', value: 'deploy' },
        { name: 'BRANCH', value: '#{Source.SourceBranchName}' },
      ],
      revisions: commit,
    });
    // A destroy runs the base branch's code, whatever became of the pull request's branch.
    expect(request(P.closed)).toEqual({
      variables: [
        { name: 'OPERATION', value: 'destroy' },
        { name: 'BRANCH', value: '#{Source.SourceBranchName}' },
      ],
      revisions: undefined,
    });
    for (const name of [P.push, P.pullRequest, P.closed]) expect(stages(name).map((st) => st.Name)).toEqual(['Source', 'Request']);
  });

  // Issue 17 §4: deploy (QUEUED) and destroy (PARALLEL) of one branch could run at once.
  test('one QUEUED queue changes every preview: deploys, destroys and sweeps share its single Operate stage and build', () => {
    const operate = pipelines[P.operate];
    expect(operate.ExecutionMode).toBe('QUEUED');
    expect(operate.Variables).toEqual(
      [
        { Name: 'OPERATION', DefaultValue: 'sweep', Description: Match.anyValue() },
        { Name: 'BRANCH', DefaultValue: '-', Description: Match.anyValue() },
      ].map((v) => ({ ...v, Description: expect.any(String) })),
    );
    expect(stages(P.operate).map((st) => st.Name)).toEqual(['Source', 'Operate', 'IntegrationTest']);
    const [action] = stage(P.operate, 'Operate').Actions;
    expect(stage(P.operate, 'Operate').Actions).toHaveLength(1);
    expect(action.Configuration.ProjectName).toEqual({ Ref: logicalIdOf(stack.node.findChild('OperateProject')) });
    expect(JSON.parse(action.Configuration.EnvironmentVariables)).toEqual([
      { name: 'OPERATION', type: 'PLAINTEXT', value: '#{variables.OPERATION}' },
      { name: 'BRANCH', type: 'PLAINTEXT', value: '#{variables.BRANCH}' },
    ]);
    expect(action.Namespace).toBe('Operate');
    // The only other pipelines are the requesters: none runs a build.
    for (const name of [P.push, P.pullRequest, P.closed]) {
      expect(stages(name).flatMap((st) => st.Actions.map((a) => a.ActionTypeId.Provider))).toEqual([
        'CodeStarSourceConnection',
        'CodePipeline',
      ]);
    }
    const spec = buildspec('hipaa-fhir-preview-operate');
    expect(spec.env['exported-variables']).toEqual(['ENVIRONMENT_SUFFIX', 'PREVIEW_DEPLOYED']);
    expect(spec.phases.build.commands).toEqual([
      'AWS_PROFILE=sandbox npx ts-node --transpile-only scripts/operations/preview-operate.ts "$OPERATION" --branch "$BRANCH" --outcome /tmp/preview-outcome.env',
      'export $(cat /tmp/preview-outcome.env)',
      'echo "$OPERATION $BRANCH: environment $ENVIRONMENT_SUFFIX, deployed $PREVIEW_DEPLOYED"',
    ]);
    // The operate build needs Docker for the processor image asset of a deploy.
    expect(project('hipaa-fhir-preview-operate').Environment).toMatchObject({ PrivilegedMode: true, ComputeType: 'BUILD_GENERAL1_MEDIUM' });
  });

  test('the integration suite runs only after a deploy: its stage is skipped unless Operate says it deployed', () => {
    const integ = stage(P.operate, 'IntegrationTest');
    expect(integ.BeforeEntry).toEqual({
      Conditions: [
        {
          Result: 'SKIP',
          Rules: [
            {
              Name: 'DeployedThisRun',
              RuleTypeId: { Category: 'Rule', Owner: 'AWS', Provider: 'VariableCheck', Version: '1' },
              Configuration: { Variable: '#{Operate.PREVIEW_DEPLOYED}', Value: 'true', Operator: 'EQ' },
            },
          ],
        },
      ],
    });
    expect(JSON.parse(integ.Actions[0].Configuration.EnvironmentVariables)).toEqual(
      expect.arrayContaining([
        { name: 'ENVIRONMENT_SUFFIX', type: 'PLAINTEXT', value: '#{Operate.ENVIRONMENT_SUFFIX}' },
        {
          name: 'POST_DEPLOY_ROLE_ARN',
          type: 'PLAINTEXT',
          value: 'arn:aws:iam::444444444444:role/hipaa-fhir-post-deploy-#{Operate.ENVIRONMENT_SUFFIX}',
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
    expect(assumable('OperateProject')).toEqual([
      'arn:aws:iam::444444444444:role/cdk-branches-deploy-role-444444444444-eu-west-2',
      'arn:aws:iam::444444444444:role/cdk-branches-file-publishing-role-444444444444-eu-west-2',
      'arn:aws:iam::444444444444:role/cdk-branches-image-publishing-role-444444444444-eu-west-2',
      'arn:aws:iam::444444444444:role/hipaa-fhir-preview-manager',
    ]);
    // br- is a prefix no long-lived suffix may have: the pattern matches no dev or prod role.
    expect(assumable('IntegrationTestProject')).toEqual(['arn:aws:iam::444444444444:role/hipaa-fhir-post-deploy-br-*']);
    for (const id of ['OperateProject', 'IntegrationTestProject']) {
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

  // Issue 8, defect 3: every source action role and the operate build's clone role accept both prefixes.
  test("every source action role and the clone roles of the operate pipeline's builds may use the connection under both prefixes", () => {
    const both = {
      Sid: 'UseRepositoryConnection',
      Effect: 'Allow',
      Action: ['codeconnections:UseConnection', 'codestar-connections:UseConnection'],
      Resource: [
        'arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000',
        'arn:aws:codestar-connections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000',
      ],
    };
    const sourceRoles = [stack.operatePipeline, ...Object.values(stack.triggerPipelines)].flatMap((p) => sourceActionRoles(p));
    expect(sourceRoles).toHaveLength(4);
    // Both builds of the operate pipeline clone its full-clone source with the connection.
    for (const role of [...sourceRoles, stack.node.findChild('OperateProjectRole'), stack.node.findChild('IntegrationTestProjectRole')]) {
      expect([role.node.path, statementsOfRole(template, role)]).toEqual([role.node.path, expect.arrayContaining([both])]);
    }
  });

  // Issue 8, defect 7: per-branch builds pin Node.js 24 too.
  test('every per-branch build runs Node.js 24 on standard:8.0', () => {
    const names = ['operate', 'integ-test'].map((n) => `hipaa-fhir-preview-${n}`);
    for (const name of names) {
      expect((project(name).Environment as { Image: string }).Image).toBe('aws/codebuild/standard:8.0');
      expect([name, buildspec(name).phases.install['runtime-versions']]).toEqual([name, { nodejs: 24 }]);
    }
  });

  test('the hourly schedule starts the queue with its defaults (a sweep), from a full clone that can list live branches', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::Join': ['', ['arn:aws:codepipeline:eu-west-2:111111111111:', { Ref: logicalIdOf(stack.operatePipeline) }]] },
        }),
      ],
    });
    template.resourceCountIs('AWS::Events::Rule', 1);
    expect(stage(P.operate, 'Source').Actions[0].Configuration).toMatchObject({
      DetectChanges: false,
      OutputArtifactFormat: 'CODEBUILD_CLONE_REF',
    });
  });

  test("builds and artifacts are encrypted with the stack's key", () => {
    const key = getAtt((stack.node.findChild('Key') as EncryptionKey).key);
    template.resourceCountIs('AWS::CodeBuild::Project', 2);
    template.allResourcesProperties('AWS::CodeBuild::Project', { EncryptionKey: key });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hipaa-fhir/previews/codebuild', KmsKeyId: key });
  });
});
