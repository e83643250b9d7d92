import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { CloudFormationClient, DescribeStacksCommand, ListStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { Client, Pool } from 'pg';
import { LeaseStore } from '../../../lib/processor/db/leases';
import { persistBatch } from '../../../lib/processor/db/persist';
import { classify } from '../../../lib/processor/records';
import { QUARANTINE_REASONS, redriveOptions } from '../../../lib/processor/tasks/redrive/options';
import { RedriveSummary } from '../../../lib/processor/tasks/redrive/redrive';
import { UsageError } from '../../../scripts/shared/cli';
import { formatSummary, main, parseRedriveCli, redriveOnEcs } from '../../../scripts/operations/redrive';
import { LocalPostgres, migrateSchema, startPostgres } from '../../component/harness';
import { TS_HOOK } from '../../../scripts/shared/child';

jest.setTimeout(120_000);

const usageError = (argv: string[]): string => {
  try {
    parseRedriveCli(argv, {});
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('npm run redrive: flags', () => {
  test('every flag, and the defaults', () => {
    expect(parseRedriveCli(['--suffix', 'dev'], {})).toEqual({
      suffix: 'dev',
      outputs: undefined,
      project: 'hipaa-fhir',
      region: 'eu-west-2',
      waitSeconds: 3600,
      redrive: { reason: undefined, since: undefined, dryRun: false, limit: undefined, batchSize: 100 },
    });
    expect(
      parseRedriveCli(
        [
          '--suffix',
          'prod',
          '--reason',
          'INVALID_FHIR',
          '--since',
          '2026-05-01T00:00:00Z',
          '--dry-run',
          '--limit',
          '10',
          '--batch-size',
          '20',
          '--outputs',
          'o.json',
          '--project',
          'acme',
          '--region',
          'eu-west-1',
          '--wait',
          '60',
        ],
        {},
      ),
    ).toEqual({
      suffix: 'prod',
      outputs: 'o.json',
      project: 'acme',
      region: 'eu-west-1',
      waitSeconds: 60,
      redrive: { reason: 'INVALID_FHIR', since: new Date('2026-05-01T00:00:00Z'), dryRun: true, limit: 10, batchSize: 20 },
    });
    expect(parseRedriveCli(['--help'], {})).toBeUndefined();
  });

  test('usage errors: one line naming the flag and what is allowed; nothing falls back to a default', () => {
    expect(usageError([])).toBe('--suffix is required: local, or the environmentSuffix of a deployed environment (dev, prod, ...)');
    expect(usageError(['--suffix', 'Feature/X'])).toBe(
      '--suffix "Feature/X" is invalid: use 1-20 lowercase letters, digits and single hyphens, not starting or ending with a hyphen',
    );
    expect(usageError(['--suffix', 'dev', '--reason', 'BAD'])).toBe(
      `--reason "BAD" is not a quarantine code: use one of ${QUARANTINE_REASONS.join(', ')}`,
    );
    expect(usageError(['--suffix', 'dev', '--since', '2026-02-30'])).toMatch(/^--since "2026-02-30" is not an ISO-8601 date/);
    expect(usageError(['--suffix', 'dev', '--limit', '0'])).toBe('--limit must be a whole number ≥ 1, not "0"');
    expect(usageError(['--suffix', 'dev', '--batch-size', '5000'])).toBe('--batch-size must be a whole number from 1 to 1000, not "5000"');
    expect(usageError(['--suffix', 'dev', '--force'])).toMatch(/^Unknown option '--force'/);
    expect(usageError(['--suffix', 'dev', '--region', 'london'])).toBe('--region "london" is not a region name such as eu-west-2');
    expect(usageError(['--suffix', 'local', '--region', 'eu-west-1'])).toBe(
      '--region applies to a deployed environment, not to --suffix local',
    );
  });

  test('the command exits 2 with the error line and the usage, before any AWS client', () => {
    const run = spawnSync(process.execPath, [...TS_HOOK, 'scripts/operations/redrive.ts', '--suffix', 'dev', '--reason', 'NOPE'], {
      cwd: join(__dirname, '..', '..', '..'),
      encoding: 'utf8',
      env: { PATH: process.env.PATH, AWS_EC2_METADATA_DISABLED: 'true' },
    });
    expect(run.status).toBe(2);
    const [first, second] = run.stderr.split('\n');
    expect(first).toBe(`redrive: --reason "NOPE" is not a quarantine code: use one of ${QUARANTINE_REASONS.join(', ')}`);
    expect(second).toMatch(/^usage: npm run redrive -- --suffix S/);
    expect(run.stdout).toBe('');
  });
});

const outputs = {
  EnvironmentSuffix: 'dev',
  AwsRegion: 'eu-west-2',
  StreamName: 'hipaa-fhir-records-dev',
  ProcessorClusterName: 'hipaa-fhir-cluster-dev',
  ProcessorTaskDefinitionArn: 'arn:aws:ecs:eu-west-2:123456789012:task-definition/hipaa-fhir-processor-dev:7',
  WorkloadSubnetIds: 'subnet-a,subnet-b',
  WorkloadSecurityGroupId: 'sg-1',
  ProcessorLogGroupName: '/hipaa-fhir/dev/processor',
};
const taskArn = 'arn:aws:ecs:eu-west-2:123456789012:task/hipaa-fhir-cluster-dev/0123456789abcdef';
const summary: RedriveSummary = {
  dryRun: false,
  validator: 'fhir-r4-0123456789abcdef/max-262144',
  filters: { reason: 'INVALID_FHIR' },
  batches: 2,
  examined: 150,
  redriven: 140,
  stillQuarantined: 10,
  entries: { written: 130, 'stale-version-history-only': 8, duplicate: 2 },
  byReason: { INVALID_FHIR: { examined: 150, redriven: 140, stillQuarantined: 10 } },
  pending: 0,
};
const progress = (batches: number, examined: number) =>
  JSON.stringify({ level: 'info', msg: 'redrive progress', batches, examined, redriven: examined - 5, stillQuarantined: 5, dryRun: false });
const notFound = () => Object.assign(new Error('The specified log stream does not exist.'), { name: 'ResourceNotFoundException' });

describe('npm run redrive: AWS path (the processor task, mocked SDK)', () => {
  const ecs = mockClient(ECSClient);
  const logs = mockClient(CloudWatchLogsClient);
  const cfn = mockClient(CloudFormationClient);
  let printed: string[];
  beforeEach(() => {
    ecs.reset();
    logs.reset();
    cfn.reset();
    printed = [];
  });
  const settings = (extra = {}) => ({ maxWaitSeconds: 600, pollMs: 0, logSettleReads: 3, print: (l: string) => printed.push(l), ...extra });
  const clients = () => [new ECSClient({ region: 'eu-west-2' }), new CloudWatchLogsClient({ region: 'eu-west-2' })] as const;

  test('runs the processor task definition once with the redrive command in the workload subnets, relays progress, returns the summary', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
    ecs
      .on(DescribeTasksCommand)
      .resolvesOnce({ tasks: [{ taskArn, lastStatus: 'PROVISIONING' }] })
      .resolvesOnce({ tasks: [{ taskArn, lastStatus: 'RUNNING' }] })
      .resolvesOnce({ tasks: [{ taskArn, lastStatus: 'RUNNING' }] })
      .resolves({ tasks: [{ taskArn, lastStatus: 'STOPPED', containers: [{ name: 'processor', exitCode: 0 }] }] });
    logs
      .on(GetLogEventsCommand)
      .rejectsOnce(notFound())
      // Two pages, then the end of the stream (the same token back).
      .resolvesOnce({ events: [{ message: progress(1, 100) }], nextForwardToken: 'f/1' })
      .resolvesOnce({
        events: [{ message: '{"level":"warn","msg":"database unavailable; retrying the re-drive batch"}' }],
        nextForwardToken: 'f/2',
      })
      .resolvesOnce({ events: [], nextForwardToken: 'f/2' })
      .resolvesOnce({ events: [{ message: progress(2, 150) }, { message: JSON.stringify({ redrive: summary }) }], nextForwardToken: 'f/3' })
      .resolves({ events: [], nextForwardToken: 'f/3' });

    const options = redriveOptions({ reason: 'INVALID_FHIR', since: '2026-05-01', batchSize: 50 });
    await expect(redriveOnEcs(outputs, options, ...clients(), settings())).resolves.toEqual(summary);

    const run = ecs.commandCalls(RunTaskCommand);
    expect(run).toHaveLength(1);
    expect(run[0].args[0].input).toEqual({
      cluster: 'hipaa-fhir-cluster-dev',
      taskDefinition: outputs.ProcessorTaskDefinitionArn,
      launchType: 'FARGATE',
      count: 1,
      startedBy: 'redrive',
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' },
      },
      overrides: {
        containerOverrides: [
          {
            name: 'processor',
            command: [
              'node',
              'dist/processor/tasks/redrive/main.js',
              '--reason',
              'INVALID_FHIR',
              '--since',
              '2026-05-01T00:00:00.000Z',
              '--batch-size',
              '50',
            ],
          },
        ],
      },
    });
    for (const call of ecs.commandCalls(DescribeTasksCommand))
      expect(call.args[0].input).toEqual({ cluster: 'hipaa-fhir-cluster-dev', tasks: [taskArn] });
    const reads = logs.commandCalls(GetLogEventsCommand).map((c) => c.args[0].input);
    expect(reads[0]).toEqual({
      logGroupName: '/hipaa-fhir/dev/processor',
      logStreamName: 'processor/processor/0123456789abcdef',
      startFromHead: true,
      nextToken: undefined,
    });
    // Each status check reads on from where the last read stopped, until the token comes back unchanged.
    expect(reads.map((r) => r.nextToken)).toEqual([undefined, undefined, 'f/1', 'f/2', 'f/2', 'f/3', 'f/3']);
    expect(printed).toEqual([
      'started task 0123456789abcdef on hipaa-fhir-cluster-dev (writing); waiting up to 600 s',
      'task 0123456789abcdef: PROVISIONING',
      'task 0123456789abcdef: RUNNING',
      'batch 1: examined 100, re-driven 95, still quarantined 5',
      'task warn: database unavailable; retrying the re-drive batch',
      'batch 2: examined 150, re-driven 145, still quarantined 5',
      'task 0123456789abcdef: STOPPED',
    ]);
  });

  test('a dry run is started as one, with --dry-run in the command', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
    ecs
      .on(DescribeTasksCommand)
      .resolves({ tasks: [{ taskArn, lastStatus: 'STOPPED', containers: [{ name: 'processor', exitCode: 0 }] }] });
    logs
      .on(GetLogEventsCommand)
      .resolves({ events: [{ message: JSON.stringify({ redrive: { ...summary, dryRun: true } }) }], nextForwardToken: 'f/1' });
    await redriveOnEcs(outputs, redriveOptions({ dryRun: true }), ...clients(), settings());
    expect(ecs.commandCalls(RunTaskCommand)[0].args[0].input).toMatchObject({
      startedBy: 'redrive-dry-run',
      overrides: {
        containerOverrides: [
          { name: 'processor', command: ['node', 'dist/processor/tasks/redrive/main.js', '--dry-run', '--batch-size', '100'] },
        ],
      },
    });
  });

  test("a task that could not start is an error with ECS's reason", async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'RESOURCE:ENI', detail: 'no free addresses' }] });
    await expect(redriveOnEcs(outputs, redriveOptions({}), ...clients(), settings())).rejects.toThrow(
      'the redrive task did not start: RESOURCE:ENI (no free addresses)',
    );
    expect(ecs.commandCalls(DescribeTasksCommand)).toHaveLength(0);
  });

  test('a task that exited non-zero is an error with its own one-line reason', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        {
          taskArn,
          lastStatus: 'STOPPED',
          stoppedReason: 'Essential container in task exited',
          containers: [{ name: 'processor', exitCode: 1 }],
        },
      ],
    });
    logs.on(GetLogEventsCommand).resolves({
      events: [{ message: 'redrive: the database refused the re-drive (SQLSTATE 42501); the failed batch was rolled back' }],
      nextForwardToken: 'f/1',
    });
    await expect(redriveOnEcs(outputs, redriveOptions({}), ...clients(), settings())).rejects.toThrow(
      'redrive task 0123456789abcdef exited with 1: redrive: the database refused the re-drive (SQLSTATE 42501); the failed batch was rolled back',
    );

    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        {
          taskArn,
          lastStatus: 'STOPPED',
          stoppedReason: 'CannotPullContainerError: pull access denied',
          containers: [{ name: 'processor' }],
        },
      ],
    });
    logs.on(GetLogEventsCommand).rejects(notFound());
    await expect(redriveOnEcs(outputs, redriveOptions({}), ...clients(), settings())).rejects.toThrow(
      'redrive task 0123456789abcdef exited with no exit code: CannotPullContainerError: pull access denied',
    );
  });

  test('exit 0 without a summary, and a task still running at --wait, are errors that say what to do', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
    ecs
      .on(DescribeTasksCommand)
      .resolves({ tasks: [{ taskArn, lastStatus: 'STOPPED', containers: [{ name: 'processor', exitCode: 0 }] }] });
    logs.on(GetLogEventsCommand).resolves({ events: [], nextForwardToken: 'f/0' });
    await expect(redriveOnEcs(outputs, redriveOptions({}), ...clients(), settings())).rejects.toThrow(
      'redrive task 0123456789abcdef exited 0 but no summary reached /hipaa-fhir/dev/processor',
    );
    // The stream read to its end (2 calls), then read again after the stop (log delivery lags) a bounded number of times.
    expect(logs.commandCalls(GetLogEventsCommand).map((c) => c.args[0].input.nextToken)).toEqual([undefined, 'f/0', 'f/0', 'f/0', 'f/0']);

    ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn, lastStatus: 'RUNNING' }] });
    let clock = 0;
    const running = redriveOnEcs(outputs, redriveOptions({}), ...clients(), settings({ maxWaitSeconds: 30, now: () => (clock += 10_000) }));
    await expect(running).rejects.toThrow(
      'task 0123456789abcdef is still RUNNING after 30 s; it keeps running in AWS: follow it in /hipaa-fhir/dev/processor, or stop it with aws ecs stop-task --cluster hipaa-fhir-cluster-dev --task 0123456789abcdef',
    );
  });

  test('main reads the stage outputs from CloudFormation when --outputs is not given, and prints the summary by reason', async () => {
    cfn.on(ListStacksCommand).resolves({
      StackSummaries: ['network', 'data', 'compute'].map((l) => ({
        StackName: `hipaa-fhir-${l}-dev`,
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(),
      })),
    });
    const split: Record<string, Record<string, string>> = {
      network: {
        EnvironmentSuffix: 'dev',
        AwsRegion: 'eu-west-2',
        WorkloadSubnetIds: outputs.WorkloadSubnetIds,
        WorkloadSecurityGroupId: 'sg-1',
      },
      data: { StreamName: outputs.StreamName },
      compute: {
        ProcessorClusterName: outputs.ProcessorClusterName,
        ProcessorTaskDefinitionArn: outputs.ProcessorTaskDefinitionArn,
        ProcessorLogGroupName: outputs.ProcessorLogGroupName,
      },
    };
    for (const [layer, values] of Object.entries(split)) {
      cfn.on(DescribeStacksCommand, { StackName: `hipaa-fhir-${layer}-dev` }).resolves({
        Stacks: [
          {
            StackName: `hipaa-fhir-${layer}-dev`,
            StackStatus: 'UPDATE_COMPLETE',
            CreationTime: new Date(),
            Outputs: Object.entries(values).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
          },
        ],
      });
    }
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
    ecs
      .on(DescribeTasksCommand)
      .resolves({ tasks: [{ taskArn, lastStatus: 'STOPPED', containers: [{ name: 'processor', exitCode: 0 }] }] });
    logs.on(GetLogEventsCommand).resolves({ events: [{ message: JSON.stringify({ redrive: summary }) }], nextForwardToken: 'f/1' });
    const lines: string[] = [];
    const code = await main(['--suffix', 'dev', '--reason', 'INVALID_FHIR'], {
      ecs: new ECSClient({ region: 'eu-west-2' }),
      logs: new CloudWatchLogsClient({ region: 'eu-west-2' }),
      cfn: new CloudFormationClient({ region: 'eu-west-2' }),
      operator: async () => 'arn:aws:sts::222222222222:assumed-role/operations/alice',
      pollMs: 0,
      print: (l) => lines.push(l),
    });
    expect(code).toBe(0);
    expect(ecs.commandCalls(RunTaskCommand)[0].args[0].input.taskDefinition).toBe(outputs.ProcessorTaskDefinitionArn);
    // The task records the operator's IAM identity (from sts:GetCallerIdentity), not this machine's name.
    expect(ecs.commandCalls(RunTaskCommand)[0].args[0].input.overrides?.containerOverrides?.[0].command?.slice(-2)).toEqual([
      '--operator',
      'arn:aws:sts::222222222222:assumed-role/operations/alice',
    ]);
    expect(lines.slice(-6)).toEqual(formatSummary(summary));
    expect(formatSummary(summary)).toEqual([
      'summary: examined 150, re-driven 140, still quarantined 10',
      '  reason        examined   re-driven  still quarantined',
      '  INVALID_FHIR       150         140                 10',
      '  resources: written 130, stale-version-history-only 8, duplicate 2',
      '  still to examine with this validator: 0',
      '  validator fhir-r4-0123456789abcdef/max-262144',
    ]);
  });

  test('outputs of another environment are refused before anything runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'redrive-outputs-'));
    try {
      const file = join(dir, 'flat-outputs.json');
      writeFileSync(file, JSON.stringify(outputs));
      await expect(
        main(['--suffix', 'prod', '--outputs', file], {
          ecs: new ECSClient({ region: 'eu-west-2' }),
          logs: new CloudWatchLogsClient({ region: 'eu-west-2' }),
          print: () => undefined,
        }),
      ).rejects.toThrow(`${file} describes environment "dev", not "prod": pass the outputs of prod`);
      expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
      await expect(main(['--suffix', 'local', '--outputs', file], { print: () => undefined })).rejects.toThrow(
        `${file} describes environment "dev", not "local"`,
      );
      await expect(main(['--suffix', 'local', '--outputs', join(dir, 'missing.json')], { print: () => undefined })).rejects.toThrow(
        /^cannot read .*missing\.json: start the local stack with npm run local -- --keep first/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm run redrive: local path (embedded PostgreSQL, as written by npm run local)', () => {
  let pg: LocalPostgres;
  let db: Client;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    pg = await startPostgres();
    await migrateSchema(pg);
    db = await pg.client();
    dir = mkdtempSync(join(tmpdir(), 'redrive-local-'));
    file = join(dir, 'flat-outputs.json');
    writeFileSync(
      file,
      JSON.stringify({
        EnvironmentSuffix: 'local',
        AwsRegion: 'eu-west-2',
        StreamName: 'hipaa-fhir-records-local',
        KinesisEndpoint: 'http://127.0.0.1:1',
        DatabaseEndpointAddress: '127.0.0.1',
        DatabaseEndpointPort: String(pg.port),
        DatabaseName: 'fhir',
        LocalDatabaseUser: 'postgres',
        LocalDatabasePassword: pg.password,
      }),
    );

    // A processor with a 1,024-byte record limit quarantined a large record; the local default is 262,144.
    const pool = new Pool(pg.settings({ role: 'fhir_writer' }));
    const leases = new LeaseStore(pool, 'hipaa-fhir-records-local', 'local-processor', 30_000);
    await leases.syncShards([{ shardId: 'shardId-000000000000', parentShardIds: [] }]);
    const counter = (await leases.acquire(1)).get('shardId-000000000000')!;
    const big = {
      resourceType: 'Patient',
      id: 'local-big',
      name: [{ family: 'Murphy' }],
      text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(1_200)}</div>` },
    };
    const batch = classify(
      [
        { SequenceNumber: '49650000000000000000000001', PartitionKey: 'local-big', Data: Buffer.from(JSON.stringify(big)) },
        { SequenceNumber: '49650000000000000000000002', PartitionKey: 'local-x', Data: Buffer.from('{"resourceType": ') },
      ],
      1_024,
    );
    await persistBatch(pool, batch, {
      streamName: 'hipaa-fhir-records-local',
      shardId: 'shardId-000000000000',
      workerId: 'local-processor',
      leaseTtlMs: 30_000,
      leaseCounter: counter,
    });
    await pool.end();
  });
  afterAll(async () => {
    await db?.end();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a dry run, then the run, then a second run that finds nothing; progress and summary carry no PHI', async () => {
    const dry: string[] = [];
    expect(await main(['--suffix', 'local', '--outputs', file, '--dry-run'], { print: (l) => dry.push(l) })).toBe(0);
    expect(dry).toContain('summary (dry run: nothing changed): examined 2, would re-drive 1, still quarantined 1');
    expect((await db.query('SELECT count(*)::int AS n FROM fhir_resource_history')).rows[0].n).toBe(0);

    const real: string[] = [];
    expect(await main(['--suffix', 'local', '--outputs', file, '--reason', 'TOO_LARGE'], { print: (l) => real.push(l) })).toBe(0);
    expect(real).toContain('summary: examined 1, re-driven 1, still quarantined 0');
    expect(real).toContain('  resources: written 1');
    const row = (await db.query("SELECT redrive_outcome, redrive_actor FROM quarantined_record WHERE partition_key = 'local-big'")).rows[0];
    expect(row.redrive_outcome).toBe('redriven');
    expect(row.redrive_actor).toMatch(/@.+\/redrive$/);
    expect(
      (await db.query("SELECT sequence_number FROM fhir_resource_current WHERE resource_id = 'local-big'")).rows[0].sequence_number,
    ).toBe('49650000000000000000000001');

    const again: string[] = [];
    expect(await main(['--suffix', 'local', '--outputs', file, '--reason', 'TOO_LARGE'], { print: (l) => again.push(l) })).toBe(0);
    expect(again).toContain('summary: examined 0, re-driven 0, still quarantined 0');
    expect([...dry, ...real, ...again].join('\n')).not.toMatch(/local-big|Murphy|local-x/);
  });

  test('a local database that is not running is a one-line error that says how to start it', async () => {
    const down = join(dir, 'down.json');
    writeFileSync(
      down,
      JSON.stringify({
        EnvironmentSuffix: 'local',
        StreamName: 's',
        DatabaseEndpointAddress: '127.0.0.1',
        DatabaseEndpointPort: '1',
        DatabaseName: 'fhir',
        LocalDatabaseUser: 'postgres',
        LocalDatabasePassword: 'x',
      }),
    );
    await expect(main(['--suffix', 'local', '--outputs', down], { print: () => undefined })).rejects.toThrow(
      'cannot reach the local database at 127.0.0.1:1: start the local stack with npm run local -- --keep',
    );
  });
});
