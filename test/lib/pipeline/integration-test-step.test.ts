import { existsSync } from 'fs';
import { join } from 'path';
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CodePipelineSource } from 'aws-cdk-lib/pipelines';
import { LAYERS } from '../../../lib/contract';
import { postDeployStatements } from '../../../lib/constructs/post-deploy-role';
import { NODE_RUNTIME_PHASE } from '../../../lib/pipeline/build-environment';
import {
  BUILDSPEC_PATH,
  IntegrationTestStep,
  integrationTestStatements,
  loadIntegrationBuildSpec,
} from '../../../lib/pipeline/integration-test-step';
import { testConfig, testStack } from '../../helpers';

type BuildSpecFile = {
  version: number;
  env: { variables: Record<string, string> };
  phases: Record<string, Record<string, unknown> & { commands: string[] }>;
  reports: Record<string, unknown>;
};

describe('buildspec-integ.yml (the one integration build)', () => {
  const file = loadIntegrationBuildSpec() as BuildSpecFile;
  const pre = file.phases.pre_build.commands.join('\n');

  test('is the file at the repository root', () => {
    expect(BUILDSPEC_PATH).toBe(join(__dirname, '..', '..', '..', 'buildspec-integ.yml'));
    expect(existsSync(BUILDSPEC_PATH)).toBe(true);
    expect(file.version).toBe(0.2);
  });

  test('pins the Node.js major every build uses', () => {
    expect(file.phases.install['runtime-versions']).toEqual(NODE_RUNTIME_PHASE['runtime-versions']);
    expect(file.phases.install['runtime-versions']).toEqual({ nodejs: 24 });
  });

  test('defaults to the read-write integ suite without stack protection; runs the suite named by INTEG_SUITE and reports JUnit', () => {
    expect(file.env.variables).toEqual({ PROJECT: 'hipaa-fhir', INTEG_SUITE: 'integ', PROTECT_STACKS: 'false' });
    expect(file.phases.build.commands).toEqual(['npm run "test:$INTEG_SUITE"']);
    expect(file.reports).toEqual({ 'integration-tests': { files: ['reports/*.xml'], 'file-format': 'JUNITXML' } });
  });

  test('every AWS call runs as the post-deploy role; flat outputs are written before the suite', () => {
    expect(pre).toContain('export AWS_CONFIG_FILE=/tmp/post-deploy-aws-config AWS_PROFILE=post-deploy');
    expect(pre).toContain('credential_source = EcsContainer');
    expect(file.phases.pre_build.commands[file.phases.pre_build.commands.length - 1]).toBe(
      'npx ts-node --transpile-only scripts/operations/write-flat-outputs.ts --suffix "$ENVIRONMENT_SUFFIX" --project "$PROJECT" --region "$AWS_REGION"',
    );
  });

  // Issue 8, defect 4: CDK Pipelines ignores terminationProtection (aws/aws-cdk#17871).
  test("PROTECT_STACKS=true turns on termination protection of the environment's four stacks, as the assumed role", () => {
    expect(pre).toContain('if [ "$PROTECT_STACKS" = "true" ]');
    expect(pre).toContain(
      'aws cloudformation update-termination-protection --enable-termination-protection --stack-name "$PROJECT-$layer-$ENVIRONMENT_SUFFIX"',
    );
    expect(pre).toContain(`for layer in ${LAYERS.join(' ')}`);
    // The protection call runs after the profile that assumes the post-deploy role is in place.
    expect(pre.indexOf('AWS_PROFILE=post-deploy')).toBeLessThan(pre.indexOf('update-termination-protection'));
  });
});

describe('IntegrationTestStep', () => {
  const stack = testStack({ env: { account: '111111111111', region: 'eu-west-2' } });
  const role = new iam.Role(stack, 'StepRole', {
    roleName: 'hipaa-fhir-post-deploy-step-dev',
    assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com'),
  });
  const input = CodePipelineSource.connection('example-org/repo', 'main', {
    connectionArn: 'arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000',
  });
  const postDeployRoleArn = 'arn:aws:iam::222222222222:role/hipaa-fhir-post-deploy-dev';
  const integ = new IntegrationTestStep('IntegrationTest', { input, environment: testConfig(), suite: 'integ', role, postDeployRoleArn });
  const smoke = new IntegrationTestStep('SmokeTest', {
    input,
    environment: testConfig({ environmentSuffix: 'prod', profile: 'production' }),
    suite: 'smoke',
    role,
    postDeployRoleArn,
    protectStacks: true,
  });

  test('parameterises the file for the environment, the suite and the role to assume', () => {
    expect(integ.env).toEqual({
      ENVIRONMENT_SUFFIX: 'dev',
      PROJECT: 'hipaa-fhir',
      INTEG_SUITE: 'integ',
      POST_DEPLOY_ROLE_ARN: postDeployRoleArn,
      PROTECT_STACKS: 'false',
    });
    expect(smoke.env).toMatchObject({ ENVIRONMENT_SUFFIX: 'prod', INTEG_SUITE: 'smoke', PROTECT_STACKS: 'true' });
    expect(integ.commands).toEqual([]);
    expect(new Stack().resolve(integ.partialBuildSpec!.toBuildSpec())).toBe(JSON.stringify(loadIntegrationBuildSpec(), undefined, 2));
  });

  test('a named project and the given step role, whose only added permission is assuming that one post-deploy role', () => {
    expect([integ.projectName, smoke.projectName]).toEqual(['hipaa-fhir-integ-test-dev', 'hipaa-fhir-smoke-test-prod']);
    expect(integ.role).toBe(role);
    expect(integ.rolePolicyStatements!.map((s) => s.toStatementJson())).toEqual([
      { Sid: 'AssumeStagePostDeployRole', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: postDeployRoleArn },
    ]);
  });

  test('the earlier names of the post-deploy statements still resolve to them', () => {
    expect(integrationTestStatements).toBe(postDeployStatements);
  });
});
