import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { CloudFormationClient, DescribeStacksCommand, ListStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, GetLogEventsCommand, ResourceNotFoundException } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { UsageError } from '../../../scripts/shared/cli';
import { logStreamOf, parseRestoreDrillArgs, RestoreDrillOptions, runDrillTask, USAGE } from '../../../scripts/operations/restore-drill';
import { TS_HOOK } from '../../../scripts/shared/child';

const ecsMock = mockClient(ECSClient);
const logsMock = mockClient(CloudWatchLogsClient);
const cfnMock = mockClient(CloudFormationClient);
const root = join(__dirname, '..', '..', '..');

const TASK_DEF = 'arn:aws:ecs:eu-west-2:333333333333:task-definition/hipaa-fhir-restore-drill-prod:3';
const TASK = 'arn:aws:ecs:eu-west-2:333333333333:task/hipaa-fhir-cluster-prod/0123456789abcdef';
const OUTPUTS = {
  EnvironmentSuffix: 'prod',
  ProcessorClusterName: 'hipaa-fhir-cluster-prod',
  RestoreDrillTaskDefinitionArn: TASK_DEF,
  WorkloadSubnetIds: 'subnet-a,subnet-b',
  WorkloadSecurityGroupId: 'sg-workload',
  ProcessorLogGroupName: '/hipaa-fhir/prod/processor',
  StreamName: 'x',
};

function parse(argv: string[]): RestoreDrillOptions | undefined | string {
  try {
    return parseRestoreDrillArgs(argv, {});
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
}

describe('npm run restore-drill: flags', () => {
  test('--suffix is required; strict flags; waiting options only with --wait; --help returns no options', () => {
    expect(parse(['--help'])).toBeUndefined();
    expect(parse([])).toBe('--suffix is required: the environment whose restore drill to run, e.g. --suffix prod');
    expect(parse(['--suffix', 'prod', '--wiat'])).toMatch(/^Unknown option '--wiat'/);
    expect(parse(['--suffix', 'Prod/1'])).toBe(
      '--suffix "Prod/1" is not an environment suffix (1-20 lowercase letters, digits and single hyphens)',
    );
    expect(parse(['--suffix', 'prod', '--poll-seconds', '5'])).toBe('--poll-seconds and --max-wait-minutes apply only with --wait');
    expect(parse(['--suffix', 'prod', '--wait', '--poll-seconds', '0'])).toBe('--poll-seconds must be a whole number ≥ 1, not "0"');
    expect(parse(['--suffix', 'prod', '--region', 'london'])).toBe('--region "london" is not a region name such as eu-west-2');
    expect(parse(['--suffix', 'prod', '--wait', '--outputs', 'o.json'])).toEqual({
      suffix: 'prod',
      outputs: 'o.json',
      wait: true,
      region: 'eu-west-2',
      project: 'hipaa-fhir',
      pollSeconds: 15,
      maxWaitMinutes: 600,
    });
  });

  test('--help and a usage error need no credentials (exit 0 and 2)', () => {
    const env = { PATH: process.env.PATH, HOME: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true' };
    const run = (args: string[]) =>
      spawnSync(process.execPath, [...TS_HOOK, 'scripts/operations/restore-drill.ts', ...args], {
        cwd: root,
        env,
        encoding: 'utf8',
      });
    const help = run(['--help']);
    expect([help.status, help.stdout.trim()]).toEqual([0, USAGE]);
    const bad = run(['--suffix', 'prod', '--bogus']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.split('\n')[0]).toMatch(/^restore-drill: Unknown option '--bogus'/);
  }, 60_000);
});

describe('npm run restore-drill: running the task', () => {
  let dir: string;
  let printed: string[];
  let clock: number;
  const run = {
    print: (line: string) => {
      printed.push(line);
    },
    sleep: async (ms: number) => {
      clock += ms;
    },
    now: () => clock,
  };
  const clients = () => ({
    ecs: new ECSClient({ region: 'eu-west-2' }),
    logs: new CloudWatchLogsClient({ region: 'eu-west-2' }),
    cfn: new CloudFormationClient({ region: 'eu-west-2' }),
  });
  const options = (overrides: Partial<RestoreDrillOptions> = {}): RestoreDrillOptions => ({
    suffix: 'prod',
    outputs: join(dir, 'flat-outputs.json'),
    wait: false,
    region: 'eu-west-2',
    project: 'hipaa-fhir',
    pollSeconds: 15,
    maxWaitMinutes: 600,
    ...overrides,
  });

  beforeEach(() => {
    ecsMock.reset();
    logsMock.reset();
    cfnMock.reset();
    printed = [];
    clock = 0;
    dir = mkdtempSync(join(tmpdir(), 'drill-cli-'));
    writeFileSync(join(dir, 'flat-outputs.json'), JSON.stringify(OUTPUTS));
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('starts the drill task definition from the outputs, in the workload subnets with no public IP, and says where its log is', async () => {
    expect(await runDrillTask(options(), clients(), run)).toBe(0);
    expect(ecsMock.commandCalls(RunTaskCommand).map((c) => c.args[0].input)).toEqual([
      {
        cluster: 'hipaa-fhir-cluster-prod',
        taskDefinition: TASK_DEF,
        launchType: 'FARGATE',
        count: 1,
        startedBy: 'restore-drill-cli',
        networkConfiguration: {
          awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-workload'], assignPublicIp: 'DISABLED' },
        },
      },
    ]);
    expect(printed).toEqual([
      `started restore drill of prod: task ${TASK}`,
      'log: /hipaa-fhir/prod/processor stream restore-drill/restore-drill/0123456789abcdef',
    ]);
    expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(0);
  });

  test("--wait follows the task and the drill's log (across pages) to its result line; exit 0 when verified", async () => {
    ecsMock
      .on(DescribeTasksCommand)
      .resolvesOnce({ tasks: [{ lastStatus: 'PROVISIONING' }] })
      .resolvesOnce({ tasks: [{ lastStatus: 'RUNNING' }] })
      .resolvesOnce({ tasks: [{ lastStatus: 'RUNNING' }] })
      .resolves({ tasks: [{ lastStatus: 'STOPPED', containers: [{ name: 'restore-drill', exitCode: 0 }] }] });
    const pino = (msg: string, level = 'info') => JSON.stringify({ level, time: '2026-11-22T03:00:00Z', msg });
    logsMock
      .on(GetLogEventsCommand)
      .rejectsOnce(new ResourceNotFoundException({ message: 'The specified log stream does not exist.', $metadata: {} }))
      .resolvesOnce({
        events: [{ message: pino('restore: hipaa-fhir-db-prod at 2026-11-22T02:56:29.000Z into hipaa-fhir-drill-prod-20261122030007') }],
        nextForwardToken: 'f/1',
      })
      .resolvesOnce({ events: [], nextForwardToken: 'f/1' })
      .resolvesOnce({
        events: [{ message: pino('restore: hipaa-fhir-drill-prod-20261122030007 is available after 21 min') }],
        nextForwardToken: 'f/2',
      })
      .resolvesOnce({
        events: [
          { message: JSON.stringify({ _aws: { CloudWatchMetrics: [] }, DrillSucceeded: 1 }) },
          { message: JSON.stringify({ restoreDrill: { ok: true, rtoSeconds: 1500 } }) },
          {
            message:
              'restore drill OK: hipaa-fhir-db-prod restored ...; RPO 4.1 min, RTO 25.0 min, within targets; temporary instance deleted',
          },
        ],
        nextForwardToken: 'f/3',
      })
      .resolves({ events: [], nextForwardToken: 'f/3' });
    expect(await runDrillTask(options({ wait: true }), clients(), run)).toBe(0);
    expect(printed.slice(2)).toEqual([
      'task PROVISIONING',
      'task RUNNING',
      '  restore: hipaa-fhir-db-prod at 2026-11-22T02:56:29.000Z into hipaa-fhir-drill-prod-20261122030007',
      '  restore: hipaa-fhir-drill-prod-20261122030007 is available after 21 min',
      '  restore drill OK: hipaa-fhir-db-prod restored ...; RPO 4.1 min, RTO 25.0 min, within targets; temporary instance deleted',
      'task STOPPED',
    ]);
    // The log was read from where the last page ended, never from the start again.
    const tokens = logsMock.commandCalls(GetLogEventsCommand).map((c) => c.args[0].input.nextToken);
    expect(tokens).toEqual([undefined, undefined, 'f/1', 'f/1', 'f/2', 'f/3', 'f/3']);
    expect(logsMock.commandCalls(GetLogEventsCommand)[0].args[0].input).toMatchObject({
      logGroupName: '/hipaa-fhir/prod/processor',
      logStreamName: logStreamOf(TASK),
      startFromHead: true,
    });
    expect(clock).toBe(3 * 15_000);
  });

  test('--wait: a failed drill (its own result line) exits 1; a task that never ran the drill says why', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [{ lastStatus: 'STOPPED', containers: [{ name: 'restore-drill', exitCode: 1 }] }] });
    logsMock
      .on(GetLogEventsCommand)
      .resolvesOnce({
        events: [
          {
            message: JSON.stringify({
              level: 'error',
              msg: 'restore drill failed: wait for x: x is incompatible-restore: the restore cannot complete',
            }),
          },
          { message: JSON.stringify({ restoreDrill: { ok: false } }) },
          { message: 'restore drill FAILED: wait for x: x is incompatible-restore: the restore cannot complete' },
        ],
        nextForwardToken: 'f/1',
      })
      .resolves({ events: [], nextForwardToken: 'f/1' });
    expect(await runDrillTask(options({ wait: true }), clients(), run)).toBe(1);
    expect(printed.slice(-1)).toEqual(['  restore drill FAILED: wait for x: x is incompatible-restore: the restore cannot complete']);

    printed = [];
    ecsMock.on(DescribeTasksCommand).resolves({
      tasks: [
        { lastStatus: 'STOPPED', stoppedReason: 'CannotPullContainerError: pull access denied', containers: [{ name: 'restore-drill' }] },
      ],
    });
    logsMock.reset();
    logsMock.on(GetLogEventsCommand).rejects(new ResourceNotFoundException({ message: 'no stream', $metadata: {} }));
    expect(await runDrillTask(options({ wait: true }), clients(), run)).toBe(1);
    expect(printed.slice(-1)).toEqual([
      'restore drill FAILED: the task stopped without running the drill: CannotPullContainerError: pull access denied',
    ]);
  });

  test('--wait gives up after --max-wait-minutes (exit 1) and says the drill goes on', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [{ lastStatus: 'RUNNING' }] });
    logsMock.on(GetLogEventsCommand).resolves({ events: [], nextForwardToken: 'f/0' });
    expect(await runDrillTask(options({ wait: true, maxWaitMinutes: 1, pollSeconds: 20 }), clients(), run)).toBe(1);
    expect(printed.slice(-1)).toEqual([`stopped waiting after 1 min; the drill goes on (task ${TASK})`]);
    expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(4);
  });

  test("a task that does not start is one line with ECS's reason", async () => {
    ecsMock.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'RESOURCE:ENI', detail: 'no free address in subnet-a' }] });
    await expect(runDrillTask(options(), clients(), run)).rejects.toThrow(
      'the drill task did not start: RESOURCE:ENI (no free address in subnet-a)',
    );
  });

  test('outputs of another environment, or of one without the drill, are refused before anything runs', async () => {
    writeFileSync(join(dir, 'flat-outputs.json'), JSON.stringify({ ...OUTPUTS, EnvironmentSuffix: 'dev' }));
    await expect(runDrillTask(options(), clients(), run)).rejects.toThrow(
      `${join(dir, 'flat-outputs.json')} holds the outputs of environment "dev", not "prod"`,
    );
    const { RestoreDrillTaskDefinitionArn: _none, ...withoutDrill } = OUTPUTS;
    writeFileSync(join(dir, 'flat-outputs.json'), JSON.stringify(withoutDrill));
    await expect(runDrillTask(options(), clients(), run)).rejects.toThrow(
      'has no RestoreDrillTaskDefinitionArn: the restore drill is not enabled for "prod" (set environments.prod.restoreDrill.enabled in cdk.json and deploy)',
    );
    expect(ecsMock.commandCalls(RunTaskCommand)).toHaveLength(0);
  });

  test("without --outputs, the outputs come from the stage's stacks", async () => {
    cfnMock.on(ListStacksCommand).resolves({
      StackSummaries: ['network', 'compute'].map((layer) => ({
        StackName: `hipaa-fhir-${layer}-prod`,
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(),
      })),
    });
    const described = (name: string, keys: string[]) => ({
      Stacks: [
        {
          StackName: name,
          StackStatus: 'UPDATE_COMPLETE' as const,
          CreationTime: new Date(),
          Outputs: keys.map((k) => ({ OutputKey: k, OutputValue: OUTPUTS[k as keyof typeof OUTPUTS] })),
        },
      ],
    });
    cfnMock
      .on(DescribeStacksCommand, { StackName: 'hipaa-fhir-network-prod' })
      .resolves(described('hipaa-fhir-network-prod', ['EnvironmentSuffix', 'WorkloadSubnetIds', 'WorkloadSecurityGroupId']));
    cfnMock
      .on(DescribeStacksCommand, { StackName: 'hipaa-fhir-compute-prod' })
      .resolves(described('hipaa-fhir-compute-prod', ['ProcessorClusterName', 'RestoreDrillTaskDefinitionArn', 'ProcessorLogGroupName']));
    expect(await runDrillTask(options({ outputs: undefined }), clients(), run)).toBe(0);
    expect(ecsMock.commandCalls(RunTaskCommand)[0].args[0].input.taskDefinition).toBe(TASK_DEF);
  });
});
