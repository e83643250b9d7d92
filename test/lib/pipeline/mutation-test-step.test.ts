import { Match, Template } from 'aws-cdk-lib/assertions';
import { PipelineStack } from '../../../lib/pipeline/pipeline-stack';
import { MUTATION_CONCURRENCY } from '../../../lib/pipeline/mutation-test-step';
import { referencePipelineConfig } from '../../../scripts/generators/reference-app';
import { testApp } from '../../helpers';

type Action = { Name: string; RunOrder: number; ActionTypeId: { Provider: string }; Configuration?: { ProjectName?: { Ref?: string } } };

describe('the mutation-testing step of the delivery pipeline', () => {
  const stack = new PipelineStack(testApp(), 'Pipeline', { pipeline: referencePipelineConfig() });
  const template = Template.fromStack(stack);
  const stages = Object.values(template.findResources('AWS::CodePipeline::Pipeline'))[0].Properties.Stages as {
    Name: string;
    Actions: Action[];
  }[];
  const actions = (stage: string) => stages.find((s) => s.Name === stage)!.Actions;

  test('runs once per pipeline run, beside the first non-production integration suite, so its failure stops promotion to prod', () => {
    const named = stages.flatMap((s) => s.Actions.filter((a) => a.Name === 'MutationTest').map((a) => [s.Name, a.ActionTypeId.Provider]));
    expect(named).toEqual([['dev', 'CodeBuild']]);
    const dev = actions('dev');
    const runOrder = (name: string) => dev.find((a) => a.Name === name)!.RunOrder;
    expect(runOrder('MutationTest')).toBe(runOrder('IntegrationTest'));
    expect(stages.map((s) => s.Name).indexOf('dev')).toBeLessThan(stages.map((s) => s.Name).indexOf('prod'));
  });

  test('its build installs exactly the lock file and runs npm run test:mutation on a LARGE build for up to four hours', () => {
    const projectRef = actions('dev').find((a) => a.Name === 'MutationTest')!.Configuration!.ProjectName!.Ref!;
    const project = Template.fromJSON({ Resources: { Project: template.toJSON().Resources[projectRef] } });
    project.hasResourceProperties('AWS::CodeBuild::Project', {
      Environment: Match.objectLike({ ComputeType: 'BUILD_GENERAL1_LARGE', Image: 'aws/codebuild/standard:8.0' }),
      TimeoutInMinutes: 240,
      Source: {
        Type: 'CODEPIPELINE',
        BuildSpec: Match.serializedJson({
          version: '0.2',
          phases: {
            install: { 'runtime-versions': { nodejs: 24 }, commands: ['npm ci --no-audit --no-fund'] },
            build: { commands: [`npm run test:mutation -- --concurrency ${MUTATION_CONCURRENCY}`] },
          },
        }),
      },
    });
  });
});
