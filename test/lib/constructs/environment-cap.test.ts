import { CloudFormationClient, DescribeStacksCommand, ListStacksCommand, StackStatus } from '@aws-sdk/client-cloudformation';
import { CfnWaitConditionHandle, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { runComplianceChecks } from '../../../lib/compliance/compliance-gate';
import { EncryptedLogGroup } from '../../../lib/constructs/encrypted-log-group';
import { EncryptionKey } from '../../../lib/constructs/encryption-key';
import { ENVIRONMENT_CAP_HANDLER, EnvironmentCap, EnvironmentCapProps } from '../../../lib/constructs/environment-cap';
import { logicalIdOf, statementsOfRole, testStack } from '../../helpers';

const OWN_STACK = 'hipaa-fhir-network-br-cap-me';

function build(props: Partial<EnvironmentCapProps> = {}) {
  const stack = testStack({ stackName: OWN_STACK });
  const key = new EncryptionKey(stack, 'LogKey', {
    alias: 'alias/hipaa-fhir/br-cap-me/network-logs',
    description: 'test',
    removalPolicy: RemovalPolicy.DESTROY,
    pendingWindowDays: 7,
    logGroupNamePatterns: ['/hipaa-fhir/br-cap-me/custom-resources'],
  });
  const logGroup = new EncryptedLogGroup(stack, 'CustomResourceLogs', {
    logGroupName: '/hipaa-fhir/br-cap-me/custom-resources',
    encryptionKey: key.key,
    retentionDays: 7,
    removalPolicy: RemovalPolicy.DESTROY,
  }).logGroup;
  // Stands in for the VPC: what must not be created before the cap was checked.
  const costly = new CfnWaitConditionHandle(stack, 'Costly');
  const cap = new EnvironmentCap(stack, 'EnvironmentCap', {
    project: 'hipaa-fhir',
    environmentSuffix: 'br-cap-me',
    maxEnvironments: 3,
    firstStackPrefix: 'hipaa-fhir-network-br-',
    logGroup,
    before: [costly],
    ...props,
  });
  return { stack, cap, costly, logGroup };
}

describe('EnvironmentCap (deploy-time cap on preview environments)', () => {
  const { stack, cap, costly, logGroup } = build();
  const template = Template.fromStack(stack);
  const logGroupId = logicalIdOf(logGroup);

  test('a Node 24 function with the cap, the project and its own stack, logging into the given group, which is created first', () => {
    template.hasResource('AWS::Lambda::Function', {
      Properties: Match.objectLike({
        Runtime: 'nodejs24.x',
        Handler: 'index.handler',
        Timeout: 120,
        Code: { ZipFile: ENVIRONMENT_CAP_HANDLER },
        LoggingConfig: { LogGroup: { Ref: logGroupId } },
        Environment: {
          Variables: {
            PROJECT: 'hipaa-fhir',
            ENVIRONMENT_SUFFIX: 'br-cap-me',
            MAX_ENVIRONMENTS: '3',
            FIRST_STACK_PREFIX: 'hipaa-fhir-network-br-',
            OWN_STACK,
          },
        },
      }),
      DependsOn: Match.arrayWith([logGroupId]),
    });
  });

  test("every function of the stack, the Trigger provider's included, logs into that group", () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(functions.length).toBeGreaterThanOrEqual(2);
    template.allResourcesProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: logGroupId } } });
  });

  test('the given constructs wait for the check: a refused deployment creates nothing costly', () => {
    const [triggerId] = Object.keys(template.findResources('Custom::Trigger'));
    template.hasResourceProperties('Custom::Trigger', {
      HandlerArn: { Ref: Match.stringLikeRegexp('^EnvironmentCapCheckCurrentVersion') },
      ExecuteOnHandlerChange: true,
    });
    expect(template.findResources('AWS::CloudFormation::WaitConditionHandle')[logicalIdOf(costly)].DependsOn).toEqual(
      expect.arrayContaining([triggerId]),
    );
  });

  test('least privilege: stack names anywhere, tags only of preview first stacks of this project', () => {
    expect(statementsOfRole(template, cap.trigger.role!)).toEqual([
      { Sid: 'ListStackNames', Effect: 'Allow', Action: 'cloudformation:ListStacks', Resource: '*' },
      {
        Sid: 'ReadPreviewStackTags',
        Effect: 'Allow',
        Action: 'cloudformation:DescribeStacks',
        Resource: {
          'Fn::Join': ['', ['arn:aws:cloudformation:eu-west-2:', { Ref: 'AWS::AccountId' }, ':stack/hipaa-fhir-network-br-*/*']],
        },
      },
    ]);
  });

  test('the compliance packs find nothing unacknowledged in the cap, its function and the Trigger provider', () => {
    const open = runComplianceChecks(stack).flatMap((r) =>
      r.violations.map(
        (v) => `${v.ruleName}: ${v.violatingResources.map((x) => (x as { constructPath?: string }).constructPath).join(', ')}`,
      ),
    );
    expect(open).toEqual([]);
  });

  test('a cap that is not a whole number of at least 1 is refused', () => {
    expect(() => build({ maxEnvironments: 0 })).toThrow('EnvironmentCap maxEnvironments 0 is invalid: expected a whole number ≥ 1');
    expect(() => build({ maxEnvironments: 2.5 })).toThrow('EnvironmentCap maxEnvironments 2.5 is invalid');
  });
});

describe('the cap handler (runs in Lambda)', () => {
  const cfnMock = mockClient(CloudFormationClient);
  const env = {
    PROJECT: 'hipaa-fhir',
    ENVIRONMENT_SUFFIX: 'br-new',
    MAX_ENVIRONMENTS: '2',
    FIRST_STACK_PREFIX: 'hipaa-fhir-network-br-',
    OWN_STACK: 'hipaa-fhir-network-br-new',
  };
  let saved: NodeJS.ProcessEnv;
  beforeEach(() => {
    cfnMock.reset();
    saved = process.env;
    process.env = { ...process.env, ...env };
  });
  afterEach(() => {
    process.env = saved;
  });

  const handler = (): (() => Promise<unknown>) => {
    const module = { exports: {} as { handler: () => Promise<unknown> } };
    // The inline code as Lambda loads it (CommonJS), with this test's require: the mocked SDK.
    new Function('require', 'module', 'exports', 'process', ENVIRONMENT_CAP_HANDLER)(require, module, module.exports, process);
    return module.exports.handler;
  };
  const summary = (name: string, status: StackStatus = 'CREATE_COMPLETE') => ({
    StackName: name,
    StackId: `arn:aws:cloudformation:eu-west-2:444444444444:stack/${name}/id`,
    StackStatus: status,
    CreationTime: new Date(),
  });
  const tagged = (name: string, tags: Record<string, string>) => ({
    Stacks: [
      {
        StackName: name,
        StackStatus: 'CREATE_COMPLETE' as const,
        CreationTime: new Date(),
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      },
    ],
  });
  const eph = (suffix: string) => ({ Preview: 'true', Project: 'hipaa-fhir', EnvironmentSuffix: suffix });

  test('at the cap, a new environment fails the deployment with the ones in use, across pages', async () => {
    cfnMock
      .on(ListStacksCommand)
      .resolvesOnce({
        StackSummaries: [summary('hipaa-fhir-network-br-a'), summary('hipaa-fhir-data-br-a'), summary('hipaa-fhir-network-prod')],
        NextToken: 'p2',
      })
      .resolvesOnce({ StackSummaries: [summary('hipaa-fhir-network-br-b'), summary('hipaa-fhir-network-br-new', 'CREATE_IN_PROGRESS')] });
    cfnMock
      .on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-a').StackId })
      .resolves(tagged('hipaa-fhir-network-br-a', eph('br-a')));
    cfnMock
      .on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-b').StackId })
      .resolves(tagged('hipaa-fhir-network-br-b', eph('br-b')));
    await expect(handler()()).rejects.toThrow(
      'preview environment cap reached: 2 of 2 in use (br-a, br-b); br-new was not created. Merge or close a branch, or run npm run destroy -- --suffix <name>, then deploy again',
    );
    // Only the per-branch first stacks of others were read: not data stacks, not prod, not its own.
    expect(cfnMock.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input.StackName)).toEqual([
      summary('hipaa-fhir-network-br-a').StackId,
      summary('hipaa-fhir-network-br-b').StackId,
    ]);
    expect(cfnMock.commandCalls(ListStacksCommand)).toHaveLength(2);
  });

  test('below the cap it passes; deleted stacks, other projects, untagged stacks and stacks deleted meanwhile do not count', async () => {
    cfnMock.on(ListStacksCommand).resolves({
      StackSummaries: [
        summary('hipaa-fhir-network-br-a'),
        summary('hipaa-fhir-network-br-gone', 'DELETE_COMPLETE'),
        summary('hipaa-fhir-network-br-other'),
        summary('hipaa-fhir-network-br-plain'),
        summary('hipaa-fhir-network-br-vanished'),
      ],
    });
    cfnMock.on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-a').StackId }).resolves(tagged('a', eph('br-a')));
    cfnMock
      .on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-other').StackId })
      .resolves(tagged('o', { ...eph('br-other'), Project: 'other' }));
    cfnMock
      .on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-plain').StackId })
      .resolves(tagged('p', { Project: 'hipaa-fhir', EnvironmentSuffix: 'br-plain' }));
    cfnMock
      .on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-vanished').StackId })
      .rejects(Object.assign(new Error('Stack does not exist'), { name: 'ValidationError' }));
    await expect(handler()()).resolves.toEqual({ inUse: 1, max: 2 });
  });

  test('an AWS error other than a vanished stack fails the check (never a silent pass)', async () => {
    cfnMock.on(ListStacksCommand).resolves({ StackSummaries: [summary('hipaa-fhir-network-br-a')] });
    cfnMock.on(DescribeStacksCommand).rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDenied' }));
    await expect(handler()()).rejects.toThrow('User is not authorized');
  });
});
