import { CloudFormationClient, DescribeStacksCommand, ListStacksCommand, StackStatus } from '@aws-sdk/client-cloudformation';
import { CfnElement, CfnWaitConditionHandle, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { runComplianceChecks } from '../../../lib/compliance/compliance-gate';
import { EncryptedLogGroup } from '../../../lib/constructs/encrypted-log-group';
import { EncryptionKey } from '../../../lib/constructs/encryption-key';
import { readFileSync } from 'fs';
import { ENVIRONMENT_CAP_HANDLER_FILE, EnvironmentCap, EnvironmentCapProps } from '../../../lib/constructs/environment-cap';
import * as capHandler from '../../../lib/constructs/handlers/environment-cap';
import { PREVIEW_TAG } from '../../../lib/contract';
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
        // The deployed code is the handler file the tests below import, as it is.
        Code: { ZipFile: readFileSync(ENVIRONMENT_CAP_HANDLER_FILE, 'utf8') },
        LoggingConfig: { LogGroup: { Ref: logGroupId } },
        Environment: {
          Variables: {
            PROJECT: 'hipaa-fhir',
            ENVIRONMENT_SUFFIX: 'br-cap-me',
            MAX_ENVIRONMENTS: '3',
            FIRST_STACK_PREFIX: 'hipaa-fhir-network-br-',
            OWN_STACK,
            PREVIEW_TAG_KEY: PREVIEW_TAG.key,
            PREVIEW_TAG_VALUE: PREVIEW_TAG.value,
          },
        },
      }),
      DependsOn: Match.arrayWith([logGroupId]),
    });
    expect(ENVIRONMENT_CAP_HANDLER_FILE).toBe(require.resolve('../../../lib/constructs/handlers/environment-cap'));
  });

  test("the check runs only once its role's policy exists (the trigger depends on it)", () => {
    const policyId = logicalIdOf(cap.trigger.role!.node.findChild('DefaultPolicy').node.defaultChild as CfnElement);
    const [trigger] = Object.values(template.findResources('Custom::Trigger'));
    expect(trigger.DependsOn).toEqual(expect.arrayContaining([policyId]));
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
    PREVIEW_TAG_KEY: PREVIEW_TAG.key,
    PREVIEW_TAG_VALUE: PREVIEW_TAG.value,
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

  // The very file the function runs (Code.fromInline of its text), with the SDK it requires mocked.
  const handler = () => capHandler.handler;
  const summary = (name: string, status: StackStatus = 'CREATE_COMPLETE') => ({
    StackName: name,
    StackId: `arn:aws:cloudformation:eu-west-2:444444444444:stack/${name}/id`,
    StackStatus: status,
    CreationTime: new Date(),
  });
  const tagged = (name: string, tags: Record<string, string>, status: StackStatus = 'CREATE_COMPLETE') => ({
    Stacks: [
      {
        StackName: name,
        StackStatus: status,
        CreationTime: new Date(),
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      },
    ],
  });
  const eph = (suffix: string) => ({ Preview: 'true', Project: 'hipaa-fhir', EnvironmentSuffix: suffix });
  const tags = (t: Record<string, string>) => Object.entries(t).map(([Key, Value]) => ({ Key, Value }));

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
  test('a refused preview keeps no slot: its first stack rolled back (ROLLBACK_COMPLETE) does not count', async () => {
    cfnMock.on(ListStacksCommand).resolves({
      StackSummaries: [summary('hipaa-fhir-network-br-a'), summary('hipaa-fhir-network-br-refused', 'ROLLBACK_COMPLETE')],
    });
    cfnMock.on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-a').StackId }).resolves(tagged('a', eph('br-a')));
    cfnMock
      .on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-refused').StackId })
      .resolves(tagged('r', eph('br-refused'), 'ROLLBACK_COMPLETE'));
    await expect(handler()()).resolves.toEqual({ inUse: 1, max: 2 });
  });

  test('every stack status of the CloudFormation API: refused, rolled-back and deleted stacks hold no slot, all others do', () => {
    // The SDK's StackStatus is the API's enumeration, so a status AWS adds shows up here as counted until decided.
    const statuses = Object.values(StackStatus);
    expect(statuses).toEqual(expect.arrayContaining(['ROLLBACK_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'IMPORT_ROLLBACK_COMPLETE']));
    const stacks = statuses.map((status) => ({
      StackName: `s-${status}`,
      StackStatus: status,
      Tags: tags(eph(`br-${status.toLowerCase()}`)),
    }));
    const counted = capHandler.environmentsInUse(stacks, { project: 'hipaa-fhir', previewTag: PREVIEW_TAG });
    const free = statuses.filter((status) => !counted.includes(`br-${status.toLowerCase()}`)).sort();
    expect(free).toEqual([
      'CREATE_FAILED',
      'DELETE_COMPLETE',
      'DELETE_FAILED',
      'DELETE_IN_PROGRESS',
      'REVIEW_IN_PROGRESS',
      'ROLLBACK_COMPLETE',
      'ROLLBACK_FAILED',
      'ROLLBACK_IN_PROGRESS',
    ]);
    // A live environment whose last update was rolled back still exists, and counts.
    expect(counted).toEqual(expect.arrayContaining(['br-update_rollback_complete', 'br-create_complete', 'br-create_in_progress']));
  });

  test('an environment counts once, whatever number of its stacks hold a slot, and never against itself', () => {
    const stacks = [
      { StackStatus: 'CREATE_COMPLETE', Tags: tags(eph('br-a')) },
      { StackStatus: 'UPDATE_COMPLETE', Tags: tags(eph('br-a')) },
      { StackStatus: 'CREATE_COMPLETE', Tags: tags(eph('br-self')) },
    ];
    expect(capHandler.environmentsInUse(stacks, { project: 'hipaa-fhir', previewTag: PREVIEW_TAG, except: 'br-self' })).toEqual(['br-a']);
    expect(capHandler.capRefusal(['br-a', 'br-b'], 2, 'br-b')).toBeUndefined();
    expect(capHandler.capRefusal(['br-a'], 2, 'br-c')).toBeUndefined();
    expect(capHandler.capRefusal(['br-a', 'br-b'], 2, 'br-c')).toBe(
      'preview environment cap reached: 2 of 2 in use (br-a, br-b); br-c was not created. Merge or close a branch, or run npm run destroy -- --suffix <name>, then deploy again',
    );
  });
});
