import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { CloudFormationClient, DescribeStacksCommand, ListStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { UsageError } from '../../../scripts/shared/cli';
import { DuplicateOutputKeyError, parseFlatOutputsArgs, writeFlatOutputs } from '../../../scripts/operations/write-flat-outputs';

const cfnMock = mockClient(CloudFormationClient);
const stack = (StackName: string, outputs: Record<string, string>) => ({
  Stacks: [
    {
      StackName,
      CreationTime: new Date(),
      StackStatus: 'CREATE_COMPLETE' as const,
      Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
    },
  ],
});

describe('write-flat-outputs', () => {
  let dir: string;
  beforeEach(() => {
    cfnMock.reset();
    dir = mkdtempSync(join(tmpdir(), 'outputs-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("merges the outputs of the stage's complete stacks across pages, and nothing from other stages", async () => {
    cfnMock
      .on(ListStacksCommand)
      .resolvesOnce({
        StackSummaries: [
          { StackName: 'hipaa-fhir-network-dev', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date() },
          { StackName: 'hipaa-fhir-network-prod', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() },
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        StackSummaries: [
          { StackName: 'hipaa-fhir-data-dev', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() },
          { StackName: 'other-data-dev', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() },
        ],
      });
    cfnMock
      .on(DescribeStacksCommand, { StackName: 'hipaa-fhir-network-dev' })
      .resolves(stack('hipaa-fhir-network-dev', { VpcId: 'vpc-1', EnvironmentSuffix: 'dev' }));
    cfnMock
      .on(DescribeStacksCommand, { StackName: 'hipaa-fhir-data-dev' })
      .resolves(stack('hipaa-fhir-data-dev', { StreamName: 'hipaa-fhir-records-dev' }));

    const out = await writeFlatOutputs(new CloudFormationClient({ region: 'eu-west-2' }), { project: 'hipaa-fhir', suffix: 'dev', dir });
    expect(JSON.parse(readFileSync(join(dir, 'flat-outputs.json'), 'utf8'))).toEqual({
      VpcId: 'vpc-1',
      EnvironmentSuffix: 'dev',
      StreamName: 'hipaa-fhir-records-dev',
    });
    expect(Object.keys(JSON.parse(readFileSync(join(dir, 'all-outputs.json'), 'utf8')))).toEqual([
      'hipaa-fhir-network-dev',
      'hipaa-fhir-data-dev',
    ]);
    expect(out.flat.StreamName).toBe('hipaa-fhir-records-dev');
    expect(cfnMock.commandCalls(ListStacksCommand)[1].args[0].input.NextToken).toBe('page-2');
    expect(cfnMock.commandCalls(ListStacksCommand)[0].args[0].input.StackStatusFilter).toEqual(
      expect.arrayContaining(['CREATE_COMPLETE', 'UPDATE_COMPLETE']),
    );
    expect(cfnMock.commandCalls(ListStacksCommand)[0].args[0].input.StackStatusFilter).not.toContain('DELETE_COMPLETE');
  });

  test('a key in two stacks is an error naming both', async () => {
    cfnMock.on(ListStacksCommand).resolves({
      StackSummaries: [
        { StackName: 'hipaa-fhir-network-dev', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() },
        { StackName: 'hipaa-fhir-audit-dev', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() },
      ],
    });
    cfnMock.on(DescribeStacksCommand, { StackName: 'hipaa-fhir-network-dev' }).resolves(stack('hipaa-fhir-network-dev', { KeyArn: 'a' }));
    cfnMock.on(DescribeStacksCommand, { StackName: 'hipaa-fhir-audit-dev' }).resolves(stack('hipaa-fhir-audit-dev', { KeyArn: 'b' }));
    const run = writeFlatOutputs(new CloudFormationClient({ region: 'eu-west-2' }), { project: 'hipaa-fhir', suffix: 'dev', dir });
    await expect(run).rejects.toThrow(DuplicateOutputKeyError);
    await expect(
      writeFlatOutputs(new CloudFormationClient({ region: 'eu-west-2' }), { project: 'hipaa-fhir', suffix: 'dev', dir }),
    ).rejects.toThrow('output key "KeyArn" is in both hipaa-fhir-network-dev and hipaa-fhir-audit-dev');
  });

  test('a stage with no stacks is an error; an AWS error is not retried by hand (the SDK client retries)', async () => {
    cfnMock.on(ListStacksCommand).resolves({ StackSummaries: [] });
    await expect(
      writeFlatOutputs(new CloudFormationClient({ region: 'eu-west-2' }), { project: 'hipaa-fhir', suffix: 'gone', dir }),
    ).rejects.toThrow('no complete stacks named hipaa-fhir-<layer>-gone');
    cfnMock.reset();
    cfnMock.on(ListStacksCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    await expect(
      writeFlatOutputs(new CloudFormationClient({ region: 'eu-west-2' }), { project: 'hipaa-fhir', suffix: 'dev', dir }),
    ).rejects.toThrow('Rate exceeded');
    expect(cfnMock.commandCalls(ListStacksCommand)).toHaveLength(1);
  });

  describe('flags', () => {
    const usageError = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
      try {
        parseFlatOutputsArgs(argv, env);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error(`no usage error for ${JSON.stringify(argv)}`);
    };
    test.each([
      [[], '--suffix is required (or set ENVIRONMENT_SUFFIX)'],
      [['--suffix'], "Option '--suffix <value>' argument missing"],
      [['--suffix', '--dir', 'x'], '--suffix needs a value (for one that starts with "-", write --suffix=<value>)'],
      [['--suffix', 'dev', '--sufix', 'x'], "Unknown option '--sufix'"],
      [['--suffix', 'dev', '--region', 'eu-west'], '--region "eu-west" is not a region name such as eu-west-2'],
      [['--suffix', 'dev', 'extra'], "Unexpected argument 'extra'. This command does not take positional arguments"],
    ])('%j: %s', (argv, message) => {
      expect(usageError(argv)).toBe(message);
    });
    test('defaults from the environment; --help parses to nothing', () => {
      expect(parseFlatOutputsArgs([], { ENVIRONMENT_SUFFIX: 'dev', AWS_REGION: 'eu-west-1' })).toEqual({
        suffix: 'dev',
        project: 'hipaa-fhir',
        region: 'eu-west-1',
        dir: 'cfn-outputs',
      });
      expect(parseFlatOutputsArgs(['--help'])).toBeUndefined();
    });
  });
});
