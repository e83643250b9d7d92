/**
 * npm run audit:verify: its flags, its local mode's refusals, and the AWS path (the processor's task
 * definition run once with the verify command and the operator's identity) with mocked ECS, STS and logs.
 * The local mode against a real database is tested in test/component/audit-chain.test.ts.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { CloudFormationClient, DescribeStacksCommand, ListStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { Client, Pool } from 'pg';
import { verifyAuditChains } from '../../../lib/processor/db/audit-chain';
import { migrate } from '../../../lib/processor/db/migrate';
import { WRITER_ROLE } from '../../../lib/processor/db/schema';
import { LocalPostgres, startPostgres } from '../../../scripts/local/stack';
import { AuditVerifyCli, main, parseAuditVerifyCli, USAGE } from '../../../scripts/operations/audit-verify';
import { InputError, UsageError } from '../../../scripts/shared/cli';
import { TS_HOOK } from '../../../scripts/shared/child';

const root = join(__dirname, '..', '..', '..');
const TASK_DEF = 'arn:aws:ecs:eu-west-2:333333333333:task-definition/hipaa-fhir-processor-prod:7';
const TASK = 'arn:aws:ecs:eu-west-2:333333333333:task/hipaa-fhir-cluster-prod/0123456789abcdef';
const OPERATOR = 'arn:aws:sts::333333333333:assumed-role/AWSReservedSSO_Auditor_abc/jane@example.org';
const OUTPUTS = {
  EnvironmentSuffix: 'prod',
  ProcessorClusterName: 'hipaa-fhir-cluster-prod',
  ProcessorTaskDefinitionArn: TASK_DEF,
  WorkloadSubnetIds: 'subnet-a,subnet-b',
  WorkloadSecurityGroupId: 'sg-workload',
  ProcessorLogGroupName: '/hipaa-fhir/prod/processor',
  AuditArchiveBucketName: 'hipaa-fhir-audit-archive-prod',
  StreamName: 'hipaa-fhir-records-prod',
};

function parse(argv: string[]): AuditVerifyCli | undefined | string {
  try {
    return parseAuditVerifyCli(argv, {});
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
}

describe('npm run audit:verify: flags', () => {
  test('--suffix is required and checked; --heads repeats, needs a file and applies only locally; --help returns nothing', () => {
    expect(parse(['--help'])).toBeUndefined();
    expect(parse([])).toBe('--suffix is required: local, or the environmentSuffix of a deployed environment (dev, prod, ...)');
    expect(parse(['--suffix', 'Prod/1'])).toMatch(/^--suffix "Prod\/1" is invalid: /);
    expect(parse(['--suffix', 'prod', '--bogus'])).toMatch(/^Unknown option '--bogus'/);
    expect(parse(['--suffix', 'local', '--heads'])).toBe('--heads needs a file: an exported audit-chain-heads/<time>.json');
    expect(parse(['--suffix', 'local', '--heads', '--outputs', 'o.json'])).toBe(
      '--heads needs a file: an exported audit-chain-heads/<time>.json',
    );
    expect(parse(['--suffix', 'prod', '--heads', 'h.json'])).toBe(
      '--heads applies to --suffix local; a deployed environment checks every head in its archive bucket',
    );
    expect(parse(['--suffix', 'prod', '--wait', '0'])).toBe('--wait must be a whole number ≥ 1, not "0"');
    expect(parse(['--suffix', 'local', '--heads', 'a.json', '--outputs', 'o.json', '--heads', 'b.json'])).toEqual({
      suffix: 'local',
      heads: ['a.json', 'b.json'],
      outputs: 'o.json',
      project: 'hipaa-fhir',
      region: 'eu-west-2',
      waitSeconds: 1_800,
    });
    expect(parse(['--suffix', 'prod', '--wait', '60', '--region', 'us-east-1', '--project', 'other'])).toMatchObject({
      suffix: 'prod',
      heads: [],
      region: 'us-east-1',
      project: 'other',
      waitSeconds: 60,
    });
  });

  test('--help prints the usage (exit 0); a usage error is named on the first line of stderr (exit 2), with no credentials', () => {
    const env = { PATH: process.env.PATH, HOME: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true' };
    const run = (args: string[]) =>
      spawnSync(process.execPath, [...TS_HOOK, 'scripts/operations/audit-verify.ts', ...args], { cwd: root, env, encoding: 'utf8' });
    const help = run(['--help']);
    expect([help.status, help.stdout.trim()]).toEqual([0, USAGE]);
    const bad = run(['--suffix', 'prod', '--bogus']);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.split('\n')[0]).toMatch(/^audit:verify: Unknown option '--bogus'/);
    const missing = run([]);
    expect(missing.status).toBe(2);
    expect(missing.stderr.split('\n')[0]).toBe(
      'audit:verify: --suffix is required: local, or the environmentSuffix of a deployed environment (dev, prod, ...)',
    );
  }, 60_000);

  test('main prints the usage for --help and returns 0', async () => {
    const lines: string[] = [];
    await expect(main(['--help'], { print: (l) => lines.push(l) })).resolves.toBe(0);
    expect(lines).toEqual([USAGE]);
  });
});

describe('npm run audit:verify: local mode refusals', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'audit-verify-flags-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  const local = (extra: Record<string, string> = {}) => ({
    EnvironmentSuffix: 'local',
    StreamName: 's',
    DatabaseEndpointAddress: '127.0.0.1',
    DatabaseEndpointPort: '1',
    DatabaseName: 'fhir',
    LocalDatabaseUser: 'postgres',
    LocalDatabasePassword: 'pw',
    ...extra,
  });
  const run = (argv: string[]) => main(argv, { print: () => undefined });

  test('outputs of another environment, or without the database, are refused before any connection', async () => {
    await expect(run(['--suffix', 'local', '--outputs', file('dev.json', { ...local(), EnvironmentSuffix: 'dev' })])).rejects.toThrow(
      /describes environment "dev", not "local"$/,
    );
    const { DatabaseName: _name, LocalDatabasePassword: _pw, ...partial } = local();
    await expect(run(['--suffix', 'local', '--outputs', file('partial.json', partial)])).rejects.toThrow(
      new InputError('the local outputs has no DatabaseName, LocalDatabasePassword'),
    );
    await expect(run(['--suffix', 'local', '--outputs', join(dir, 'absent.json')])).rejects.toThrow(
      /^cannot read .*absent\.json: start the local stack with npm run local -- --keep first/,
    );
  });

  test('a --heads file that is missing or not a heads document is refused with its name', async () => {
    const outputs = file('local.json', local());
    const missing = join(dir, 'nope.json');
    await expect(run(['--suffix', 'local', '--outputs', outputs, '--heads', missing])).rejects.toThrow(
      expect.objectContaining({ name: 'InputError', message: expect.stringMatching(/^cannot read --heads .*nope\.json: ENOENT/) }),
    );
    const notJson = file('bad.json', '{not json');
    await expect(run(['--suffix', 'local', '--outputs', outputs, '--heads', notJson])).rejects.toThrow(
      expect.objectContaining({ name: 'InputError', message: expect.stringContaining(`${notJson} is not JSON`) }),
    );
    const wrongShape = file('shape.json', { heads: [{ chainId: 'x', seq: 0 }] });
    await expect(run(['--suffix', 'local', '--outputs', outputs, '--heads', wrongShape])).rejects.toThrow(
      `${wrongShape} has no valid "heads" list of {chainId, seq, hash, login}`,
    );
  });

  test('a local database that is not running is named with how to start it', async () => {
    // A port nobody listens on: bound, then released.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = server.address() as { port: number };
        server.close(() => resolve(p));
      });
    });
    const outputs = file('local.json', local({ DatabaseEndpointPort: String(port) }));
    await expect(run(['--suffix', 'local', '--outputs', outputs])).rejects.toThrow(
      `cannot reach the local database at 127.0.0.1:${port}: start the local stack with npm run local -- --keep`,
    );
  });
});

describe('npm run audit:verify: AWS path (the processor task, mocked ECS, STS and logs)', () => {
  const ecs = mockClient(ECSClient);
  const logs = mockClient(CloudWatchLogsClient);
  const sts = mockClient(STSClient);
  const cfn = mockClient(CloudFormationClient);
  let dir: string;
  let outputsFile: string;
  let printed: string[];

  beforeEach(() => {
    ecs.reset();
    logs.reset();
    sts.reset();
    cfn.reset();
    printed = [];
    dir = mkdtempSync(join(tmpdir(), 'audit-verify-aws-'));
    outputsFile = join(dir, 'prod.json');
    writeFileSync(outputsFile, JSON.stringify(OUTPUTS));
    sts.on(GetCallerIdentityCommand).resolves({ Arn: OPERATOR, Account: '333333333333', UserId: 'AROA:jane' });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const stopped = (exitCode?: number, stoppedReason?: string) => ({
    tasks: [{ taskArn: TASK, lastStatus: 'STOPPED', stoppedReason, containers: [{ name: 'processor', exitCode }] }],
  });
  const run = (extra: string[] = [], outputs: string[] = ['--outputs', outputsFile]) =>
    main(['--suffix', 'prod', ...outputs, ...extra], {
      ecs: new ECSClient({ region: 'eu-west-2' }),
      logs: new CloudWatchLogsClient({ region: 'eu-west-2' }),
      cfn: new CloudFormationClient({ region: 'eu-west-2' }),
      pollMs: 0,
      print: (l) => printed.push(l),
    });

  test("runs the processor task definition once with verify, the archive bucket and the caller's ARN, in the workload subnets; exit 0 when intact", async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    ecs
      .on(DescribeTasksCommand)
      .resolvesOnce({ tasks: [{ taskArn: TASK, lastStatus: 'RUNNING' }] })
      .resolves(stopped(0));
    const summary = '{"auditVerify":{"intact":true,"chains":4,"rows":17,"exportsRead":2,"headsChecked":6,"breaks":[]}}';
    logs
      .on(GetLogEventsCommand)
      .resolvesOnce({ events: [{ message: '{"level":"info","msg":"connected"}' }], nextForwardToken: 'f/1' })
      .resolvesOnce({ events: [], nextForwardToken: 'f/1' })
      .resolvesOnce({ events: [{ message: summary }], nextForwardToken: 'f/2' })
      .resolves({ events: [], nextForwardToken: 'f/2' });

    await expect(run()).resolves.toBe(0);

    expect(sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(1);
    const calls = ecs.commandCalls(RunTaskCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input).toEqual({
      cluster: 'hipaa-fhir-cluster-prod',
      taskDefinition: TASK_DEF,
      launchType: 'FARGATE',
      count: 1,
      startedBy: 'audit-verify',
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-workload'], assignPublicIp: 'DISABLED' },
      },
      overrides: {
        containerOverrides: [
          {
            name: 'processor',
            command: [
              'node',
              'dist/processor/tasks/audit-chain/main.js',
              'verify',
              '--archive-bucket',
              'hipaa-fhir-audit-archive-prod',
              '--operator',
              OPERATOR,
            ],
          },
        ],
      },
    });
    for (const call of ecs.commandCalls(DescribeTasksCommand))
      expect(call.args[0].input).toEqual({ cluster: 'hipaa-fhir-cluster-prod', tasks: [TASK] });
    expect(logs.commandCalls(GetLogEventsCommand)[0].args[0].input).toMatchObject({
      logGroupName: '/hipaa-fhir/prod/processor',
      logStreamName: 'processor/processor/0123456789abcdef',
    });
    // The task's own log lines are not relayed; its result is.
    expect(printed).toEqual([`started task 0123456789abcdef (as ${OPERATOR}); waiting up to 1800 s`, summary]);
  });

  test('a break: the task exits 1, and its result and BROKEN lines are relayed', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    ecs.on(DescribeTasksCommand).resolves(stopped(1));
    const broken = 'BROKEN altered in chain 1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed at position 2 (row id 9): row 9 does not match its hash';
    logs
      .on(GetLogEventsCommand)
      .resolvesOnce({
        events: [{ message: '{"auditVerify":{"intact":false,"breaks":[{}]}}' }, { message: broken }],
        nextForwardToken: 'f/1',
      })
      .resolves({ events: [], nextForwardToken: 'f/1' });
    await expect(run(['--wait', '60'])).resolves.toBe(1);
    expect(printed).toEqual([
      `started task 0123456789abcdef (as ${OPERATOR}); waiting up to 60 s`,
      '{"auditVerify":{"intact":false,"breaks":[{}]}}',
      broken,
    ]);
  });

  test("a task that failed some other way (exit 2, or never ran) is an error naming the task and ECS's reason", async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    ecs.on(DescribeTasksCommand).resolves(stopped(2, 'Essential container in task exited'));
    logs.on(GetLogEventsCommand).resolves({ events: [{ message: 'audit-chain: --operator "x" is not an IAM caller ARN' }] });
    await expect(run()).rejects.toThrow('audit verify task 0123456789abcdef exited with 2: Essential container in task exited');
    expect(printed).toContain('audit-chain: --operator "x" is not an IAM caller ARN');

    ecs.on(DescribeTasksCommand).resolves(stopped(undefined, 'CannotPullContainerError'));
    logs.on(GetLogEventsCommand).resolves({ events: [] });
    await expect(run()).rejects.toThrow('audit verify task 0123456789abcdef exited with no exit code: CannotPullContainerError');
  });

  test('a task that did not start is reported with the reason ECS gave', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'RESOURCE:ENI', detail: 'no free addresses' }] });
    await expect(run()).rejects.toThrow('the audit verify task did not start: RESOURCE:ENI (no free addresses)');
    expect(ecs.commandCalls(DescribeTasksCommand)).toHaveLength(0);
  });

  test('outputs of another environment, or without the task definition, start nothing', async () => {
    writeFileSync(outputsFile, JSON.stringify({ ...OUTPUTS, EnvironmentSuffix: 'dev' }));
    await expect(run()).rejects.toThrow('the outputs describe environment "dev", not "prod"');
    const { ProcessorTaskDefinitionArn: _td, ...partial } = OUTPUTS;
    writeFileSync(outputsFile, JSON.stringify(partial));
    await expect(run()).rejects.toThrow('the stage outputs has no ProcessorTaskDefinitionArn');
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
  });

  test("without --outputs, the outputs come from the stage's complete stacks; with none, nothing starts", async () => {
    cfn.on(ListStacksCommand).resolves({ StackSummaries: [] });
    await expect(run([], [])).rejects.toThrow('no complete stacks named hipaa-fhir-<layer>-prod in eu-west-2');
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);

    cfn.on(ListStacksCommand).resolves({
      StackSummaries: ['network', 'compute', 'someone-else'].map((layer) => ({
        StackName: `hipaa-fhir-${layer}-prod`,
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(),
      })),
    });
    const described = (name: string, keys: (keyof typeof OUTPUTS)[]) => ({
      Stacks: [
        {
          StackName: name,
          StackStatus: 'UPDATE_COMPLETE' as const,
          CreationTime: new Date(),
          Outputs: keys.map((k) => ({ OutputKey: k, OutputValue: OUTPUTS[k] })),
        },
      ],
    });
    cfn
      .on(DescribeStacksCommand, { StackName: 'hipaa-fhir-network-prod' })
      .resolves(described('hipaa-fhir-network-prod', ['EnvironmentSuffix', 'WorkloadSubnetIds', 'WorkloadSecurityGroupId']))
      .on(DescribeStacksCommand, { StackName: 'hipaa-fhir-compute-prod' })
      .resolves(
        described('hipaa-fhir-compute-prod', [
          'ProcessorClusterName',
          'ProcessorTaskDefinitionArn',
          'ProcessorLogGroupName',
          'AuditArchiveBucketName',
        ]),
      );
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    ecs.on(DescribeTasksCommand).resolves(stopped(0));
    logs
      .on(GetLogEventsCommand)
      .resolvesOnce({ events: [{ message: '{"auditVerify":{"intact":true}}' }], nextForwardToken: 'f/1' })
      .resolves({ events: [], nextForwardToken: 'f/1' });
    await expect(run([], [])).resolves.toBe(0);
    expect(cfn.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input.StackName)).toEqual([
      'hipaa-fhir-network-prod',
      'hipaa-fhir-compute-prod',
    ]);
    expect(ecs.commandCalls(RunTaskCommand)[0].args[0].input).toMatchObject({
      taskDefinition: TASK_DEF,
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-workload'] } },
    });
  });

  test('a task still running at the end of --wait is an error naming it and its log group (the task keeps running)', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'RUNNING' }] });
    logs.on(GetLogEventsCommand).resolves({ events: [] });
    // The clock: the deadline is taken at 0 s; the first look at the task is 5 s later.
    let now = 1_000_000;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => {
      const at = now;
      now += 5_000;
      return at;
    });
    try {
      await expect(run(['--wait', '5'])).rejects.toThrow(
        'task 0123456789abcdef is still running after 5 s; follow it in /hipaa-fhir/prod/processor',
      );
    } finally {
      clock.mockRestore();
    }
    expect(ecs.commandCalls(DescribeTasksCommand)).toHaveLength(1);
  });
});

describe('npm run audit:verify -- --suffix local: against a real database', () => {
  let pg: LocalPostgres;
  let dir: string;
  let outputs: string;
  const INSERT = `INSERT INTO audit_event (actor, action, outcome, stream_name) VALUES ($1, 'persist', 'written', 's')`;

  beforeAll(async () => {
    pg = await startPostgres();
    const admin = new Pool({ ...pg.settings(), max: 1 });
    await migrate(admin);
    await admin.end();
    const writer = new Client(pg.settings({ role: WRITER_ROLE }));
    await writer.connect();
    for (let i = 1; i <= 3; i++) await writer.query(INSERT, [`w-${i}`]);
    await writer.end();
    dir = mkdtempSync(join(tmpdir(), 'audit-verify-local-'));
    outputs = join(dir, 'flat-outputs.json');
    const s = pg.settings();
    writeFileSync(
      outputs,
      JSON.stringify({
        EnvironmentSuffix: 'local',
        StreamName: 's',
        DatabaseEndpointAddress: s.host,
        DatabaseEndpointPort: String(s.port),
        DatabaseName: 'fhir',
        LocalDatabaseUser: s.user,
        LocalDatabasePassword: s.password,
      }),
    );
  }, 180_000);

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await pg?.stop();
  });

  test('intact chains: exit 0 with the summary and the heads checked; a heads file the table no longer matches: exit 1 with the break', async () => {
    const pool = new Pool({ ...pg.settings({ role: WRITER_ROLE }), max: 1 });
    const { heads } = await verifyAuditChains(pool);
    await pool.end();
    expect(heads).toHaveLength(1);
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ heads }));
    const lines: string[] = [];
    await expect(main(['--suffix', 'local', '--outputs', outputs, '--heads', good], { print: (l) => lines.push(l) })).resolves.toBe(0);
    expect(JSON.parse(lines[0])).toEqual({
      auditVerify: { intact: true, chains: 1, rows: 3, exportsRead: 1, headsChecked: 1, breaks: [] },
    });
    expect(lines.slice(1)).toEqual(['intact: 3 rows in 1 chains, 1 exported heads']);

    // A head whose hash the table does not hold: the chain was rewritten up to there.
    const forged = join(dir, 'forged.json');
    writeFileSync(forged, JSON.stringify({ heads: [{ ...heads[0], hash: 'ab'.repeat(32) }] }));
    const broken: string[] = [];
    await expect(
      main(['--suffix', 'local', '--outputs', outputs, '--heads', good, '--heads', forged], { print: (l) => broken.push(l) }),
    ).resolves.toBe(1);
    expect(JSON.parse(broken[0]).auditVerify).toMatchObject({ intact: false, exportsRead: 2, headsChecked: 2 });
    expect(broken.slice(1)).toEqual([
      `BROKEN head-mismatch in chain ${heads[0].chainId} at position 3: position 3 no longer has the exported hash: the chain was rewritten up to there`,
      '1 broken chain(s)',
    ]);
  });
});
