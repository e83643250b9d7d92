import { spawnSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { CloudFormationClient, DescribeStacksCommand, ListStacksCommand, StackStatus } from '@aws-sdk/client-cloudformation';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { runComplianceChecks } from '../../../lib/compliance/compliance-gate';
import { suffixFromBranch } from '../../../lib/contract';
import { ENVIRONMENT_CAP_HANDLER } from '../../../lib/constructs/environment-cap';
import { PipelineAppStage } from '../../../stages/pipeline-app-stage';
import { testApp, testConfig } from '../../helpers';

const SUFFIX = suffixFromBranch('feature/cap-me');
const branchConfig = () => testConfig({ environmentSuffix: SUFFIX, branch: 'feature/cap-me', expiresAt: '2026-12-01T00:00:00Z' });

describe('EnvironmentCap (deploy-time cap on per-branch environments)', () => {
  const app = testApp();
  const stage = new PipelineAppStage(app, SUFFIX, { config: branchConfig(), maxPreviews: 3 });
  const network = Template.fromStack(stage.network);
  const logicalId = (type: string, pathPart: string) => {
    const ids = Object.keys(network.findResources(type)).filter((id) => id.includes(pathPart));
    expect(ids).toHaveLength(1);
    return ids[0];
  };
  const fnId = logicalId('AWS::Lambda::Function', 'EnvironmentCapCheck');
  const logGroupId = logicalId('AWS::Logs::LogGroup', 'CustomResourceLogs');
  const triggerId = logicalId('Custom::Trigger', 'EnvironmentCap');

  test('a Node 24 function with the cap, the project and its own stack, logging into the encrypted custom-resources group created first', () => {
    const fn = network.toJSON().Resources[fnId];
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Code: { ZipFile: ENVIRONMENT_CAP_HANDLER },
      LoggingConfig: { LogGroup: { Ref: logGroupId } },
      Environment: { Variables: { PROJECT: 'hipaa-fhir', ENVIRONMENT_SUFFIX: SUFFIX, MAX_ENVIRONMENTS: '3', FIRST_STACK_PREFIX: 'hipaa-fhir-network-br-', OWN_STACK: `hipaa-fhir-network-${SUFFIX}` } },
    });
    expect(fn.DependsOn).toEqual(expect.arrayContaining([logGroupId]));
    network.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `/hipaa-fhir/${SUFFIX}/custom-resources`, KmsKeyId: { 'Fn::GetAtt': [logicalId('AWS::KMS::Key', 'FlowLogKey'), 'Arn'] } });
  });

  test('every function of the stack, the Trigger provider\'s included, logs into that group', () => {
    const functions = Object.values(network.findResources('AWS::Lambda::Function'));
    expect(functions.length).toBeGreaterThanOrEqual(3);
    for (const fn of functions) expect(fn.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: logGroupId } });
  });

  test('the VPC waits for the check: a refused deployment creates nothing costly', () => {
    const vpcId = logicalId('AWS::EC2::VPC', 'Vpc');
    expect(network.toJSON().Resources[vpcId].DependsOn).toEqual(expect.arrayContaining([triggerId]));
  });

  test('least privilege: stack names anywhere, tags only of per-branch first stacks of this project', () => {
    const policies = network.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('EnvironmentCapCheckServiceRole') }] } });
    const statements = Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(statements).toEqual([
      { Sid: 'ListStackNames', Effect: 'Allow', Action: 'cloudformation:ListStacks', Resource: '*' },
      { Sid: 'ReadPreviewStackTags', Effect: 'Allow', Action: 'cloudformation:DescribeStacks', Resource: { 'Fn::Join': ['', ['arn:aws:cloudformation:eu-west-2:', { Ref: 'AWS::AccountId' }, ':stack/hipaa-fhir-network-br-*/*']] } },
    ]);
  });

  test('the compliance packs find nothing unacknowledged in the per-branch stage', () => {
    const open = runComplianceChecks(app).flatMap((r) => r.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((x) => (x as { constructPath?: string }).constructPath).join(', ')}`));
    expect(open).toEqual([]);
  });

  test('long-lived stages have no cap, and a cap without a branch is refused', () => {
    const plain = new PipelineAppStage(testApp(), 'dev', { config: testConfig() });
    Template.fromStack(plain.network).resourceCountIs('Custom::Trigger', 0);
    expect(() => new PipelineAppStage(testApp(), 'dev', { config: testConfig(), maxPreviews: 3 })).toThrow('maxPreviews is for preview environments only; dev has no branch');
  });
});

describe('npx cdk deploy -c branch=… (bin/app.ts) gets the cap from previews.maxEnvironments', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'cap-app-'));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('the per-branch network stack carries the check with the configured cap; no AWS call at synth', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const context = (require('../../../cdk.json') as { context: Record<string, unknown> }).context;
    const env = { PATH: process.env.PATH, HOME: outdir, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ ...context, branch: 'feature/cap-wired', previews: { ...(context.previews as object), maxEnvironments: 4 } }) };
    const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'bin/app.ts'], { cwd: join(__dirname, '..', '..', '..'), env, encoding: 'utf8', timeout: 120_000 });
    expect(run.status).toBe(0);
    const dir = join(outdir, 'assembly-br-cap-wired');
    const file = readdirSync(dir).find((f) => /Network.*\.template\.json$/.test(f))!;
    const resources = Object.values((JSON.parse(readFileSync(join(dir, file), 'utf8')) as { Resources: Record<string, { Type: string; Properties: { Environment?: { Variables?: Record<string, string> } } }> }).Resources);
    const checks = resources.filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.MAX_ENVIRONMENTS !== undefined);
    expect(checks.map((r) => r.Properties.Environment!.Variables)).toEqual([expect.objectContaining({ MAX_ENVIRONMENTS: '4', ENVIRONMENT_SUFFIX: 'br-cap-wired', OWN_STACK: 'hipaa-fhir-network-br-cap-wired' })]);
    expect(resources.filter((r) => r.Type === 'Custom::Trigger')).toHaveLength(1);
  }, 120_000);
});

describe('the cap handler (runs in Lambda)', () => {
  const cfnMock = mockClient(CloudFormationClient);
  const env = { PROJECT: 'hipaa-fhir', ENVIRONMENT_SUFFIX: 'br-new', MAX_ENVIRONMENTS: '2', FIRST_STACK_PREFIX: 'hipaa-fhir-network-br-', OWN_STACK: 'hipaa-fhir-network-br-new' };
  let saved: NodeJS.ProcessEnv;
  beforeEach(() => {
    cfnMock.reset();
    saved = process.env;
    process.env = { ...process.env, ...env };
  });
  afterEach(() => { process.env = saved; });

  const handler = (): (() => Promise<unknown>) => {
    const module = { exports: {} as { handler: () => Promise<unknown> } };
    // The inline code as Lambda loads it (CommonJS), with this test's require: the mocked SDK.
    new Function('require', 'module', 'exports', 'process', ENVIRONMENT_CAP_HANDLER)(require, module, module.exports, process);
    return module.exports.handler;
  };
  const summary = (name: string, status: StackStatus = 'CREATE_COMPLETE') => ({ StackName: name, StackId: `arn:aws:cloudformation:eu-west-2:444444444444:stack/${name}/id`, StackStatus: status, CreationTime: new Date() });
  const tagged = (name: string, tags: Record<string, string>) => ({ Stacks: [{ StackName: name, StackStatus: 'CREATE_COMPLETE' as const, CreationTime: new Date(), Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }] });
  const eph = (suffix: string) => ({ Preview: 'true', Project: 'hipaa-fhir', EnvironmentSuffix: suffix });

  test('at the cap, a new environment fails the deployment with the ones in use, across pages', async () => {
    cfnMock.on(ListStacksCommand)
      .resolvesOnce({ StackSummaries: [summary('hipaa-fhir-network-br-a'), summary('hipaa-fhir-data-br-a'), summary('hipaa-fhir-network-prod')], NextToken: 'p2' })
      .resolvesOnce({ StackSummaries: [summary('hipaa-fhir-network-br-b'), summary('hipaa-fhir-network-br-new', 'CREATE_IN_PROGRESS')] });
    cfnMock.on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-a').StackId }).resolves(tagged('hipaa-fhir-network-br-a', eph('br-a')));
    cfnMock.on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-b').StackId }).resolves(tagged('hipaa-fhir-network-br-b', eph('br-b')));
    await expect(handler()()).rejects.toThrow('preview environment cap reached: 2 of 2 in use (br-a, br-b); br-new was not created. Merge or close a branch, or run npm run destroy -- --suffix <name>, then deploy again');
    // Only the per-branch first stacks of others were read: not data stacks, not prod, not its own.
    expect(cfnMock.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input.StackName)).toEqual([summary('hipaa-fhir-network-br-a').StackId, summary('hipaa-fhir-network-br-b').StackId]);
    expect(cfnMock.commandCalls(ListStacksCommand)).toHaveLength(2);
  });

  test('below the cap it passes; deleted stacks, other projects, untagged stacks and stacks deleted meanwhile do not count', async () => {
    cfnMock.on(ListStacksCommand).resolves({ StackSummaries: [
      summary('hipaa-fhir-network-br-a'), summary('hipaa-fhir-network-br-gone', 'DELETE_COMPLETE'), summary('hipaa-fhir-network-br-other'),
      summary('hipaa-fhir-network-br-plain'), summary('hipaa-fhir-network-br-vanished'),
    ] });
    cfnMock.on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-a').StackId }).resolves(tagged('a', eph('br-a')));
    cfnMock.on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-other').StackId }).resolves(tagged('o', { ...eph('br-other'), Project: 'other' }));
    cfnMock.on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-plain').StackId }).resolves(tagged('p', { Project: 'hipaa-fhir', EnvironmentSuffix: 'br-plain' }));
    cfnMock.on(DescribeStacksCommand, { StackName: summary('hipaa-fhir-network-br-vanished').StackId }).rejects(Object.assign(new Error('Stack does not exist'), { name: 'ValidationError' }));
    await expect(handler()()).resolves.toEqual({ inUse: 1, max: 2 });
  });

  test('an AWS error other than a vanished stack fails the check (never a silent pass)', async () => {
    cfnMock.on(ListStacksCommand).resolves({ StackSummaries: [summary('hipaa-fhir-network-br-a')] });
    cfnMock.on(DescribeStacksCommand).rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDenied' }));
    await expect(handler()()).rejects.toThrow('User is not authorized');
  });
});
