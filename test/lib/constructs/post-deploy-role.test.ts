import { Template } from 'aws-cdk-lib/assertions';
import { LAYERS, Naming } from '../../../lib/contract';
import { PostDeployRole, PostDeployRoleProps, postDeployStatements, targetsOf } from '../../../lib/constructs/post-deploy-role';
import { statementsOfRole, testStack } from '../../helpers';

const ACCOUNT = '222222222222';
const STEP_ROLE = 'arn:aws:iam::111111111111:role/hipaa-fhir-post-deploy-step-dev';

function build(props: Partial<PostDeployRoleProps> = {}) {
  const stack = testStack({ env: { account: ACCOUNT, region: 'eu-west-2' } });
  const role = new PostDeployRole(stack, 'PostDeploy', {
    naming: new Naming('hipaa-fhir', 'dev'),
    suite: 'integ',
    trustedRoleArn: STEP_ROLE,
    ...props,
  });
  const template = Template.fromStack(stack);
  return { role, template, statements: statementsOfRole(template, role.role) };
}

const arn = (service: string, resource: string) => `arn:aws:${service}:eu-west-2:${ACCOUNT}:${resource}`;
/** The four stacks of the environment (CDK renders policy arrays sorted). */
const stackArns = LAYERS.map((l) => arn('cloudformation', `stack/hipaa-fhir-${l}-dev/*`)).sort();

describe('PostDeployRole', () => {
  const integ = build();
  const smoke = build({ suite: 'smoke', protectStacks: true });

  test('named for the environment, and trusted by exactly the one step role of the pipeline account', () => {
    integ.template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'hipaa-fhir-post-deploy-dev',
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { AWS: 'arn:aws:iam::111111111111:root' },
            Condition: { ArnEquals: { 'aws:PrincipalArn': STEP_ROLE } },
          },
        ],
      },
    });
  });

  test("integ: reads the stacks, writes records to its stream with its key, runs its own task once on its cluster and reads that task's log", () => {
    expect(integ.statements).toEqual([
      { Sid: 'ListStacks', Effect: 'Allow', Action: 'cloudformation:ListStacks', Resource: '*' },
      { Sid: 'ReadStageStacks', Effect: 'Allow', Action: 'cloudformation:DescribeStacks', Resource: stackArns },
      {
        Sid: 'DescribeStream',
        Effect: 'Allow',
        Action: 'kinesis:DescribeStreamSummary',
        Resource: arn('kinesis', 'stream/hipaa-fhir-records-dev'),
      },
      { Sid: 'ReadService', Effect: 'Allow', Action: 'ecs:DescribeServices', Resource: arn('ecs', 'service/hipaa-fhir-cluster-dev/*') },
      {
        Sid: 'PutTestRecords',
        Effect: 'Allow',
        Action: ['kinesis:PutRecord', 'kinesis:PutRecords'],
        Resource: arn('kinesis', 'stream/hipaa-fhir-records-dev'),
      },
      {
        Sid: 'EncryptTestRecords',
        Effect: 'Allow',
        Action: 'kms:GenerateDataKey',
        Resource: arn('kms', 'key/*'),
        Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/hipaa-fhir/dev/stream' } },
      },
      {
        Sid: 'RunVerifyTask',
        Effect: 'Allow',
        Action: 'ecs:RunTask',
        Resource: arn('ecs', 'task-definition/hipaa-fhir-processor-dev:*'),
        Condition: { ArnEquals: { 'ecs:cluster': arn('ecs', 'cluster/hipaa-fhir-cluster-dev') } },
      },
      { Sid: 'WatchVerifyTask', Effect: 'Allow', Action: 'ecs:DescribeTasks', Resource: arn('ecs', 'task/hipaa-fhir-cluster-dev/*') },
      {
        Sid: 'PassProcessorRoles',
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: [
          `arn:aws:iam::${ACCOUNT}:role/hipaa-fhir-processor-exec-dev`,
          `arn:aws:iam::${ACCOUNT}:role/hipaa-fhir-processor-task-dev`,
        ],
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      },
      {
        Sid: 'ReadVerifyOutput',
        Effect: 'Allow',
        Action: 'logs:GetLogEvents',
        Resource: arn('logs', 'log-group:/hipaa-fhir/dev/processor:log-stream:processor/processor/*'),
      },
    ]);
  });

  test('smoke (production) only reads: it cannot write records, run tasks or pass roles', () => {
    expect(smoke.statements.map((s) => s.Sid)).toEqual([
      'ListStacks',
      'ReadStageStacks',
      'DescribeStream',
      'ReadService',
      'ProtectStageStacks',
    ]);
    expect(
      smoke.statements.flatMap((s) => [s.Action].flat()).filter((a) => /^(kinesis:PutRecord|ecs:RunTask|iam:PassRole|kms:)/.test(a)),
    ).toEqual([]);
  });

  // Issue 8, defect 4: CDK Pipelines ignores terminationProtection (aws/aws-cdk#17871).
  test("protectStacks: termination protection of exactly the environment's four stacks, and only then", () => {
    expect(smoke.statements.find((s) => s.Sid === 'ProtectStageStacks')).toEqual({
      Sid: 'ProtectStageStacks',
      Effect: 'Allow',
      Action: 'cloudformation:UpdateTerminationProtection',
      Resource: stackArns,
    });
    expect(integ.statements.find((s) => s.Sid === 'ProtectStageStacks')).toBeUndefined();
  });

  test('the one wildcard on every resource is ListStacks, which has no resource-level form', () => {
    for (const { statements } of [integ, smoke]) {
      expect(statements.filter((s) => s.Resource === '*').map((s) => s.Action)).toEqual(['cloudformation:ListStacks']);
    }
  });
});

describe('postDeployStatements over name patterns (the preview integration build)', () => {
  const targets = targetsOf(Naming.anyPreview('hipaa-fhir'), 'eu-west-2', '444444444444');
  const bySid = Object.fromEntries(postDeployStatements(targets, 'integ').map((s) => [s.sid, s.toStatementJson()]));

  test("the targets are every preview environment's names, and no long-lived one", () => {
    expect(targets).toEqual({
      project: 'hipaa-fhir',
      region: 'eu-west-2',
      account: '444444444444',
      stacks: LAYERS.map((l) => `hipaa-fhir-${l}-br-*`),
      stream: 'hipaa-fhir-records-br-*',
      streamKeyAlias: 'alias/hipaa-fhir/br-*/stream',
      cluster: 'hipaa-fhir-cluster-br-*',
      taskFamily: 'hipaa-fhir-processor-br-*',
      taskRoles: ['hipaa-fhir-processor-task-br-*', 'hipaa-fhir-processor-exec-br-*'],
      processorLogGroup: '/hipaa-fhir/br-*/processor',
    });
  });

  test('patterns switch the key-alias and cluster conditions to their Like forms', () => {
    expect(bySid.EncryptTestRecords.Condition).toEqual({
      'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/hipaa-fhir/br-*/stream' },
    });
    expect(bySid.RunVerifyTask.Condition).toEqual({
      ArnLike: { 'ecs:cluster': 'arn:aws:ecs:eu-west-2:444444444444:cluster/hipaa-fhir-cluster-br-*' },
    });
  });
});
