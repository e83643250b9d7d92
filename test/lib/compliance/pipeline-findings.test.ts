import { Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import { acknowledgedFindings } from '../../../lib/compliance/findings-report';
import { acknowledgePipelineFindings } from '../../../lib/compliance/pipeline-findings';
import { constructTestApp } from '../../helpers';

const ACCOUNT = '111111111111';

function stackWith(...statements: iam.PolicyStatement[]) {
  const stack = new Stack(constructTestApp(), 'Pipeline', { env: { account: ACCOUNT, region: 'eu-west-2' } });
  const role = new iam.Role(stack, 'BuildRole', { assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com') });
  statements.forEach((s) => role.addToPrincipalPolicy(s));
  return { stack, role };
}
const rulesOf = (stack: Stack) =>
  acknowledgedFindings(stack)
    .map((f) => `${f.resource} ${f.rule}`)
    .sort();

describe('acknowledgePipelineFindings', () => {
  test('every generated policy is acknowledged as inline (HIPAA and NIST), with no wildcard finding when it has none', () => {
    const { stack } = stackWith(
      new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [`arn:aws:iam::${ACCOUNT}:role/exact`] }),
    );
    acknowledgePipelineFindings(stack);
    expect(rulesOf(stack)).toEqual([
      'BuildRole/DefaultPolicy/Resource HIPAA.Security-IAMNoInlinePolicy',
      'BuildRole/DefaultPolicy/Resource NIST.800.53.R5-IAMNoInlinePolicy',
    ]);
  });

  test('reviewed wildcards get the reason of their category: CodeBuild logs and reports, bootstrap roles, preview post-deploy roles', () => {
    const { stack } = stackWith(
      new iam.PolicyStatement({
        actions: ['logs:PutLogEvents'],
        resources: [`arn:aws:logs:eu-west-2:${ACCOUNT}:log-group:/aws/codebuild/build:*`],
      }),
      new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [`arn:*:iam::${ACCOUNT}:role/*`] }),
      new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: ['arn:aws:iam::444444444444:role/hipaa-fhir-post-deploy-br-*'] }),
    );
    acknowledgePipelineFindings(stack);
    const reasons = Object.fromEntries(
      acknowledgedFindings(stack)
        .filter((f) => f.rule.startsWith('AwsSolutions-IAM5'))
        .map((f) => [f.rule, f.reason]),
    );
    expect(Object.keys(reasons).sort()).toEqual([
      `AwsSolutions-IAM5[Resource::arn:*:iam::${ACCOUNT}:role/*]`,
      `AwsSolutions-IAM5[Resource::arn:aws:iam::444444444444:role/hipaa-fhir-post-deploy-br-*]`,
      `AwsSolutions-IAM5[Resource::arn:aws:logs:eu-west-2:${ACCOUNT}:log-group:/aws/codebuild/build:*]`,
    ]);
    expect(reasons[`AwsSolutions-IAM5[Resource::arn:*:iam::${ACCOUNT}:role/*]`]).toContain('aws-cdk:bootstrap-role tag');
    expect(reasons['AwsSolutions-IAM5[Resource::arn:aws:iam::444444444444:role/hipaa-fhir-post-deploy-br-*]']).toContain(
      'never matches a long-lived environment',
    );
    expect(reasons[`AwsSolutions-IAM5[Resource::arn:aws:logs:eu-west-2:${ACCOUNT}:log-group:/aws/codebuild/build:*]`]).toContain(
      '/aws/codebuild',
    );
  });

  test("Resource::* is accepted only for actions without resource-level permissions or CDK Pipelines' own calls", () => {
    const { stack } = stackWith(
      new iam.PolicyStatement({ actions: ['cloudformation:ListStacks', 'ecr:GetAuthorizationToken'], resources: ['*'] }),
    );
    acknowledgePipelineFindings(stack);
    expect(rulesOf(stack)).toContain('BuildRole/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::*]');
    const { stack: bad } = stackWith(new iam.PolicyStatement({ actions: ['cloudformation:ListStacks', 's3:PutObject'], resources: ['*'] }));
    expect(() => acknowledgePipelineFindings(bad)).toThrow(
      'Pipeline/BuildRole/DefaultPolicy/Resource: unreviewed actions on Resource::* (s3:PutObject)',
    );
  });

  test('any other wildcard is refused, so a new kind cannot slip through unreviewed', () => {
    const { stack } = stackWith(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::someone-elses-bucket/*'] }));
    expect(() => acknowledgePipelineFindings(stack)).toThrow(
      'Pipeline/BuildRole/DefaultPolicy/Resource: unreviewed wildcard finding Resource::arn:aws:s3:::someone-elses-bucket/*',
    );
  });

  test('CodeBuild projects must take their source from the pipeline; then the source-URL rule is acknowledged', () => {
    const stack = new Stack(constructTestApp(), 'Builds', { env: { account: ACCOUNT, region: 'eu-west-2' } });
    new codebuild.PipelineProject(stack, 'Step', { buildSpec: codebuild.BuildSpec.fromObject({ version: '0.2' }) });
    acknowledgePipelineFindings(stack);
    expect(
      acknowledgedFindings(stack)
        .filter((f) => f.rule === 'HIPAA.Security-CodeBuildProjectSourceRepoUrl')
        .map((f) => f.resource),
    ).toEqual(['Step/Resource']);
    const other = new Stack(constructTestApp(), 'Other');
    new codebuild.CfnProject(other, 'FromGitHub', {
      source: { type: 'GITHUB', location: 'https://github.com/example-org/repo.git' },
      artifacts: { type: 'NO_ARTIFACTS' },
      environment: { type: 'LINUX_CONTAINER', image: 'aws/codebuild/standard:8.0', computeType: 'BUILD_GENERAL1_SMALL' },
      serviceRole: 'arn:aws:iam::111111111111:role/x',
    });
    expect(() => acknowledgePipelineFindings(other)).toThrow('Other/FromGitHub: CodeBuild project source is GITHUB, expected CODEPIPELINE');
  });
});
