import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { CloudFormationClient, DescribeStacksCommand, ListStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { DuplicateOutputKeyError, writeFlatOutputs } from '../../scripts/write-flat-outputs';

const cfnMock = mockClient(CloudFormationClient);
const stack = (StackName: string, outputs: Record<string, string>) => ({
  Stacks: [{ StackName, CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE' as const, Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })) }],
});

describe('write-flat-outputs', () => {
  let dir: string;
  beforeEach(() => {
    cfnMock.reset();
    dir = mkdtempSync(join(tmpdir(), 'outputs-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('merges the outputs of the stage\'s complete stacks across pages, and nothing from other stages', async () => {
    cfnMock.on(ListStacksCommand)
      .resolvesOnce({ StackSummaries: [{ StackName: 'hipaa-fhir-network-dev', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() }, { StackName: 'hipaa-fhir-network-prod', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() }], NextToken: 'page-2' })
      .resolvesOnce({ StackSummaries: [{ StackName: 'hipaa-fhir-data-dev', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() }, { StackName: 'other-data-dev', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(DescribeStacksCommand, { StackName: 'hipaa-fhir-network-dev' }).resolves(stack('hipaa-fhir-network-dev', { VpcId: 'vpc-1', EnvironmentSuffix: 'dev' }));
    cfnMock.on(DescribeStacksCommand, { StackName: 'hipaa-fhir-data-dev' }).resolves(stack('hipaa-fhir-data-dev', { StreamName: 'hipaa-fhir-records-dev' }));

    const out = await writeFlatOutputs(new CloudFormationClient({ region: 'eu-west-2' }), { project: 'hipaa-fhir', suffix: 'dev', dir });
    expect(JSON.parse(readFileSync(join(dir, 'flat-outputs.json'), 'utf8'))).toEqual({ VpcId: 'vpc-1', EnvironmentSuffix: 'dev', StreamName: 'hipaa-fhir-records-dev' });
    expect(Object.keys(JSON.parse(readFileSync(join(dir, 'all-outputs.json'), 'utf8')))).toEqual(['hipaa-fhir-network-dev', 'hipaa-fhir-data-dev']);
    expect(out.flat.StreamName).toBe('hipaa-fhir-records-dev');
    expect(cfnMock.commandCalls(ListStacksCommand)[1].args[0].input.NextToken).toBe('page-2');
    expect(cfnMock.commandCalls(ListStacksCommand)[0].args[0].input.StackStatusFilter).toEqual(expect.arrayContaining(['CREATE_COMPLETE', 'UPDATE_COMPLETE']));
    expect(cfnMock.commandCalls(ListStacksCommand)[0].args[0].input.StackStatusFilter).not.toContain('DELETE_COMPLETE');
  });

  test('a key in two stacks is an error naming both', async () => {
    cfnMock.on(ListStacksCommand).resolves({ StackSummaries: [{ StackName: 'hipaa-fhir-network-dev', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() }, { StackName: 'hipaa-fhir-audit-dev', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(DescribeStacksCommand, { StackName: 'hipaa-fhir-network-dev' }).resolves(stack('hipaa-fhir-network-dev', { KeyArn: 'a' }));
    cfnMock.on(DescribeStacksCommand, { StackName: 'hipaa-fhir-audit-dev' }).resolves(stack('hipaa-fhir-audit-dev', { KeyArn: 'b' }));
    const run = writeFlatOutputs(new CloudFormationClient({ region: 'eu-west-2' }), { project: 'hipaa-fhir', suffix: 'dev', dir });
    await expect(run).rejects.toThrow(DuplicateOutputKeyError);
    await expect(writeFlatOutputs(new CloudFormationClient({ region: 'eu-west-2' }), { project: 'hipaa-fhir', suffix: 'dev', dir })).rejects.toThrow('output key "KeyArn" is in both hipaa-fhir-network-dev and hipaa-fhir-audit-dev');
  });

  test('throttling is retried; a stage with no stacks is an error', async () => {
    cfnMock.on(ListStacksCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))
      .resolves({ StackSummaries: [{ StackName: 'hipaa-fhir-data-dev', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() }] });
    cfnMock.on(DescribeStacksCommand).rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })).resolves(stack('hipaa-fhir-data-dev', { StreamName: 's' }));
    const out = await writeFlatOutputs(new CloudFormationClient({ region: 'eu-west-2', maxAttempts: 1 }), { project: 'hipaa-fhir', suffix: 'dev', dir });
    expect(out.flat).toEqual({ StreamName: 's' });

    cfnMock.reset();
    cfnMock.on(ListStacksCommand).resolves({ StackSummaries: [] });
    await expect(writeFlatOutputs(new CloudFormationClient({ region: 'eu-west-2' }), { project: 'hipaa-fhir', suffix: 'gone', dir })).rejects.toThrow('no complete stacks named hipaa-fhir-<layer>-gone');
  });
});
