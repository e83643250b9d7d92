/**
 * The restore drill's orchestration against a mocked RDS API (aws-sdk-client-mock): a small in-memory
 * RDS whose instances move through their states one DescribeDBInstances call at a time, a virtual clock
 * that `sleep` advances (no real waiting, no timing luck), and faults injected at named steps. The
 * verify query itself runs against real PostgreSQL in restore-drill-verify.test.ts.
 */
import { spawnSync } from 'child_process';
import { join } from 'path';
import { Writable } from 'stream';
import {
  DBInstance,
  DBInstanceNotFoundFault,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  InvalidDBInstanceStateFault,
  RDSClient,
  RestoreDBInstanceToPointInTimeCommand,
  RestoreDBInstanceToPointInTimeCommandInput,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { createLogger } from '../../../../../lib/processor/logger';
import {
  DEFAULT_SETTINGS,
  DrillDeps,
  DrillSettings,
  drillInstanceId,
  isDrillInstanceId,
  loadDrillConfig,
  resultLine,
  runRestoreDrill,
  sweepLeftovers,
} from '../../../../../lib/processor/tasks/restore-drill/drill';
import { DrillOutcome, EmfDrillMetrics, RESTORE_DRILL_METRICS } from '../../../../../lib/processor/tasks/restore-drill/metrics';
import type { TableSummary } from '../../../../../lib/processor/tasks/restore-drill/verify';
import { TS_HOOK } from '../../../../../scripts/shared/child';

const rdsMock = mockClient(RDSClient);
const SOURCE = 'hipaa-fhir-db-prod';
const PREFIX = 'hipaa-fhir-drill-prod-';
const START = new Date('2026-11-22T03:00:07.123Z');
const TARGET = 'hipaa-fhir-drill-prod-20261122030007';
const LATEST_RESTORABLE = new Date('2026-11-22T02:56:30Z');

const settings: DrillSettings = {
  ...DEFAULT_SETTINGS,
  sourceInstance: SOURCE,
  instancePrefix: PREFIX,
  tags: { Project: 'hipaa-fhir', EnvironmentSuffix: 'prod' },
  targets: { rpoSeconds: 15 * 60, rtoSeconds: 120 * 60 },
};

const notFound = (id: string) => new DBInstanceNotFoundFault({ message: `DBInstance ${id} not found.`, $metadata: {} });
const invalidState = (id: string, status: string) =>
  new InvalidDBInstanceStateFault({ message: `Instance ${id} is not in available state (${status}).`, $metadata: {} });

const sourceInstance = (overrides: Partial<DBInstance> = {}): DBInstance => ({
  DBInstanceIdentifier: SOURCE,
  DBInstanceStatus: 'available',
  LatestRestorableTime: LATEST_RESTORABLE,
  Endpoint: { Address: 'live.db.internal', Port: 5432 },
  DBSubnetGroup: { DBSubnetGroupName: 'hipaa-fhir-data-prod-databaseinstancesubnetgroup-abc' },
  VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-0database', Status: 'active' }],
  DBParameterGroups: [{ DBParameterGroupName: 'hipaa-fhir-data-prod-databaseparameters-xyz', ParameterApplyStatus: 'in-sync' }],
  OptionGroupMemberships: [{ OptionGroupName: 'default:postgres-16', Status: 'in-sync' }],
  CACertificateIdentifier: 'rds-ca-rsa2048-g1',
  MultiAZ: true,
  DeletionProtection: true,
  ...overrides,
});

/**
 * An in-memory RDS: the restore adds the target, each describe of it takes the next status of
 * `targetStatuses` (the last one repeats), delete marks it deleting. Faults are injected per command.
 */
class FakeRds {
  readonly instances = new Map<string, DBInstance>([[SOURCE, sourceInstance()]]);
  targetStatuses: string[] = ['creating', 'creating', 'backing-up', 'available'];
  restoreFault?: { error: Error; afterCreating: boolean };
  /** Thrown by the sweeper's listing (DescribeDBInstances without an identifier). */
  listFault?: Error;
  /** Errors thrown by successive DeleteDBInstance calls on the target before one succeeds. */
  deleteFaults: Error[] = [];
  /** Events in order: what the drill did, for assertions about "mid-run". */
  readonly events: string[] = [];
  private targetDescribes = 0;

  install(): void {
    rdsMock.reset();
    rdsMock.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier?: string }) => {
      if (!input.DBInstanceIdentifier) {
        if (this.listFault) throw this.listFault;
        return { DBInstances: [...this.instances.values()] };
      }
      const db = this.instances.get(input.DBInstanceIdentifier);
      if (!db) throw notFound(input.DBInstanceIdentifier);
      if (input.DBInstanceIdentifier === TARGET && db.DBInstanceStatus !== 'deleting') {
        const status = this.targetStatuses[Math.min(this.targetDescribes++, this.targetStatuses.length - 1)];
        db.DBInstanceStatus = status;
        this.events.push(`describe:${status}`);
      }
      return { DBInstances: [db] };
    });
    rdsMock.on(RestoreDBInstanceToPointInTimeCommand).callsFake((input: RestoreDBInstanceToPointInTimeCommandInput) => {
      this.events.push('restore');
      const created: DBInstance = {
        DBInstanceIdentifier: input.TargetDBInstanceIdentifier,
        DBInstanceStatus: 'creating',
        Endpoint: { Address: 'restored.db.internal', Port: 5432 },
        TagList: input.Tags,
      };
      if (this.restoreFault) {
        if (this.restoreFault.afterCreating) this.instances.set(input.TargetDBInstanceIdentifier!, created);
        throw this.restoreFault.error;
      }
      this.instances.set(input.TargetDBInstanceIdentifier!, created);
      return { DBInstance: created };
    });
    rdsMock.on(DeleteDBInstanceCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
      this.events.push(`delete:${input.DBInstanceIdentifier}`);
      const db = this.instances.get(input.DBInstanceIdentifier);
      if (!db) throw notFound(input.DBInstanceIdentifier);
      if (input.DBInstanceIdentifier === TARGET && this.deleteFaults.length > 0) throw this.deleteFaults.shift();
      db.DBInstanceStatus = 'deleting';
      return { DBInstance: db };
    });
  }
}

const table = (name: string, rows: number, rowsToCutoff: number, newest?: string): TableSummary => ({
  table: name,
  rows,
  rowsToCutoff,
  ...(newest ? { newestAsOf: new Date(newest) } : {}),
});
/** What the restored copy holds at the restore point, and the live database a little later. */
const RESTORED = [
  table('fhir_resource_history', 1000, 990, '2026-11-22T02:56:00Z'),
  table('fhir_resource_current', 400, 398, '2026-11-22T02:56:00Z'),
  table('quarantined_record', 5, 5, '2026-11-22T01:00:00Z'),
  table('audit_event', 1005, 995, '2026-11-22T02:56:00Z'),
];
const LIVE = [
  table('fhir_resource_history', 1040, 990, '2026-11-22T02:59:40Z'),
  table('fhir_resource_current', 410, 396, '2026-11-22T02:59:40Z'),
  table('quarantined_record', 5, 5, '2026-11-22T01:00:00Z'),
  table('audit_event', 1045, 995, '2026-11-22T02:59:40Z'),
];

interface Harness {
  readonly deps: DrillDeps;
  readonly outcomes: DrillOutcome[];
  readonly summarized: Array<{ host: string; cutoff: Date; asOf: Date }>;
  readonly logs: string[];
}

function harness(rds: FakeRds, summarize?: (host: string, attempt: number) => TableSummary[]): Harness {
  let now = START.getTime();
  const outcomes: DrillOutcome[] = [];
  const summarized: Harness['summarized'] = [];
  const logs: string[] = [];
  const attempts = new Map<string, number>();
  const sink = new Writable({
    write(chunk, _e, cb) {
      logs.push(JSON.parse(String(chunk)).msg);
      cb();
    },
  });
  return {
    outcomes,
    summarized,
    logs,
    deps: {
      rds: new RDSClient({ region: 'eu-west-2' }),
      async summarize(endpoint, cutoff, asOf) {
        rds.events.push(`summarize:${endpoint.host}`);
        summarized.push({ host: endpoint.host, cutoff, asOf });
        const attempt = (attempts.get(endpoint.host) ?? 0) + 1;
        attempts.set(endpoint.host, attempt);
        if (summarize) return summarize(endpoint.host, attempt);
        return endpoint.host.startsWith('restored') ? RESTORED : LIVE;
      },
      metrics: {
        async outcome(o) {
          outcomes.push(o);
        },
      },
      logger: createLogger('drill-test', 'info', sink),
      now: () => new Date(now),
      sleep: async (ms) => {
        now += ms;
      },
    },
  };
}

const deleteCalls = () => rdsMock.commandCalls(DeleteDBInstanceCommand).map((c) => c.args[0].input);

describe('restore drill orchestration', () => {
  let rds: FakeRds;
  beforeEach(() => {
    rds = new FakeRds();
    rds.install();
  });

  test("the copy exports the live instance's logs into groups created first, encrypted and with the retention; without them it exports none", async () => {
    rds.instances.set(SOURCE, sourceInstance({ EnabledCloudwatchLogsExports: ['postgresql', 'upgrade'] }));
    const created: string[] = [];
    const logGroups = { kmsKeyArn: 'arn:aws:kms:eu-west-2:333333333333:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b', retentionDays: 2192 };
    const h = harness(rds);
    const report = await runRestoreDrill(
      { ...settings, logGroups },
      {
        ...h.deps,
        createLogGroup: async (name, options) => {
          expect(options).toEqual(logGroups);
          // Created before the restore asks RDS to export into them.
          expect(rdsMock.commandCalls(RestoreDBInstanceToPointInTimeCommand)).toHaveLength(0);
          created.push(name);
        },
      },
    );
    expect(report.ok).toBe(true);
    expect(created).toEqual([`/aws/rds/instance/${TARGET}/postgresql`, `/aws/rds/instance/${TARGET}/upgrade`]);
    expect(rdsMock.commandCalls(RestoreDBInstanceToPointInTimeCommand)[0].args[0].input.EnableCloudwatchLogsExports).toEqual([
      'postgresql',
      'upgrade',
    ]);
  });

  test('happy path: restores the latest restorable time into a tagged, private, single-AZ copy, waits, verifies both sides, records RPO/RTO, deletes', async () => {
    const h = harness(rds);
    const report = await runRestoreDrill(settings, h.deps);
    expect(report).toMatchObject({
      ok: true,
      targetInstance: TARGET,
      cleanup: 'deleted',
      restorePoint: '2026-11-22T02:56:29.000Z',
      cutoff: '2026-11-22T02:51:29.000Z',
      targetsMet: true,
    });

    const restores = rdsMock.commandCalls(RestoreDBInstanceToPointInTimeCommand);
    expect(restores).toHaveLength(1);
    expect(restores[0].args[0].input).toEqual({
      SourceDBInstanceIdentifier: SOURCE,
      TargetDBInstanceIdentifier: TARGET,
      RestoreTime: new Date('2026-11-22T02:56:29Z'),
      DBSubnetGroupName: 'hipaa-fhir-data-prod-databaseinstancesubnetgroup-abc',
      VpcSecurityGroupIds: ['sg-0database'],
      DBParameterGroupName: 'hipaa-fhir-data-prod-databaseparameters-xyz',
      OptionGroupName: 'default:postgres-16',
      CACertificateIdentifier: 'rds-ca-rsa2048-g1',
      MultiAZ: false,
      PubliclyAccessible: false,
      DeletionProtection: false,
      BackupRetentionPeriod: 0,
      AutoMinorVersionUpgrade: false,
      CopyTagsToSnapshot: false,
      EnableIAMDatabaseAuthentication: true,
      Tags: [
        { Key: 'Project', Value: 'hipaa-fhir' },
        { Key: 'EnvironmentSuffix', Value: 'prod' },
        { Key: 'RestoreDrillSource', Value: SOURCE },
        { Key: 'ExpiresAt', Value: '2026-11-22T15:00:07Z' },
      ],
    });

    // Waited through every state, with a progress line for each change; verified only once available.
    expect(rds.events).toEqual([
      'restore',
      'describe:creating',
      'describe:creating',
      'describe:backing-up',
      'describe:available',
      'summarize:restored.db.internal',
      'summarize:live.db.internal',
      `delete:${TARGET}`,
    ]);
    expect(h.logs.filter((l) => l.startsWith('restore: '))).toEqual([
      `restore: ${SOURCE} at 2026-11-22T02:56:29.000Z into ${TARGET}`,
      `restore: ${TARGET} is creating after 0 min`,
      `restore: ${TARGET} is backing-up after 1 min`,
      `restore: ${TARGET} is available after 2 min`,
    ]);
    // Both sides compared at the same cutoff (5 min before the restore point), newest rows as of the start.
    expect(h.summarized.map((s) => [s.host, s.cutoff.toISOString(), s.asOf.toISOString()])).toEqual([
      ['restored.db.internal', '2026-11-22T02:51:29.000Z', START.toISOString()],
      ['live.db.internal', '2026-11-22T02:51:29.000Z', START.toISOString()],
    ]);
    // RTO: three 30 s polls of virtual time; RPO: the live database had writes after the newest restored row (02:56:00).
    expect(h.outcomes).toEqual([{ sourceInstance: SOURCE, succeeded: true, rpoSeconds: 247, rtoSeconds: 90 }]);
    expect(deleteCalls()).toEqual([{ DBInstanceIdentifier: TARGET, SkipFinalSnapshot: true, DeleteAutomatedBackups: true }]);
    expect(resultLine(report)).toBe(
      `restore drill OK: ${SOURCE} restored to 2026-11-22T02:56:29.000Z as ${TARGET}, counts equal up to 2026-11-22T02:51:29.000Z; RPO 4.1 min, RTO 1.5 min, within targets; temporary instance deleted`,
    );
  });

  test('failure while waiting (the restore ends incompatible-restore): the instance is still deleted and the drill reports the step', async () => {
    rds.targetStatuses = ['creating', 'creating', 'incompatible-restore'];
    const h = harness(rds);
    const report = await runRestoreDrill(settings, h.deps);
    expect(report).toMatchObject({
      ok: false,
      cleanup: 'deleted',
      reason: `wait for ${TARGET}: ${TARGET} is incompatible-restore: the restore cannot complete`,
    });
    // The fault happened mid-wait: after the restore was sent and while the instance was creating.
    expect(rds.events).toEqual(['restore', 'describe:creating', 'describe:creating', 'describe:incompatible-restore', `delete:${TARGET}`]);
    expect(h.outcomes).toEqual([{ sourceInstance: SOURCE, succeeded: false, rpoSeconds: undefined, rtoSeconds: undefined }]);
    expect(resultLine(report)).toBe(`restore drill FAILED: ${report.reason}`);
  });

  test('a restore that never becomes available times out; an instance still creating is deleted as soon as RDS allows', async () => {
    rds.targetStatuses = ['creating'];
    rds.deleteFaults = [invalidState(TARGET, 'creating'), invalidState(TARGET, 'creating')];
    const h = harness(rds);
    const report = await runRestoreDrill({ ...settings, availableTimeoutMs: 10 * 60_000 }, h.deps);
    expect(report.reason).toBe(`wait for ${TARGET}: ${TARGET} not available after 10 min (last status creating)`);
    expect(report.cleanup).toBe('deleted');
    const waits = rds.events.filter((e) => e === 'describe:creating').length;
    // 21 polls of 30 s reach the 10-minute bound; then two refused deletes (each re-described) and one accepted.
    expect(waits).toBe(21 + 2);
    expect(rds.events.filter((e) => e.startsWith('delete:'))).toEqual([`delete:${TARGET}`, `delete:${TARGET}`, `delete:${TARGET}`]);
    expect(h.logs).toContain(`${TARGET} is creating; deleting it as soon as RDS allows`);
  });

  test('failure in verify (the restored copy refuses the query): the instance is deleted and no RPO/RTO is recorded', async () => {
    const h = harness(rds, (host) => {
      if (host.startsWith('restored'))
        throw Object.assign(new Error('permission denied for function restore_drill_summary'), { code: '42501' });
      return LIVE;
    });
    const report = await runRestoreDrill(settings, h.deps);
    expect(report).toMatchObject({
      ok: false,
      cleanup: 'deleted',
      reason: `verify ${TARGET}: permission denied for function restore_drill_summary`,
    });
    expect(rds.events.slice(-2)).toEqual(['summarize:restored.db.internal', `delete:${TARGET}`]);
    expect(h.outcomes).toEqual([{ sourceInstance: SOURCE, succeeded: false, rpoSeconds: undefined, rtoSeconds: undefined }]);
  });

  test('a restored instance not reachable at once is retried (transient errors only), then verified', async () => {
    const h = harness(rds, (host, attempt) => {
      if (host.startsWith('restored') && attempt <= 2)
        throw Object.assign(new Error('connect ECONNREFUSED 10.40.3.7:5432'), { code: 'ECONNREFUSED' });
      return host.startsWith('restored') ? RESTORED : LIVE;
    });
    const report = await runRestoreDrill(settings, h.deps);
    expect(report.ok).toBe(true);
    expect(rds.events.filter((e) => e.startsWith('summarize:'))).toEqual([
      'summarize:restored.db.internal',
      'summarize:restored.db.internal',
      'summarize:restored.db.internal',
      'summarize:live.db.internal',
    ]);
  });

  test('a restored copy missing rows fails the comparison with the table and counts, and is deleted', async () => {
    const short = RESTORED.map((t) => (t.table === 'audit_event' ? { ...t, rowsToCutoff: 994 } : t));
    const h = harness(rds, (host) => (host.startsWith('restored') ? short : LIVE));
    const report = await runRestoreDrill(settings, h.deps);
    expect(report.reason).toBe(
      'compare: audit_event: 994 rows up to 2026-11-22T02:51:29.000Z in the restored copy, 995 in the live database',
    );
    expect(report.cleanup).toBe('deleted');
    expect(report.comparison?.problems).toHaveLength(1);
  });

  test('failure in restore after RDS created the instance (the call timed out): the instance is found and deleted', async () => {
    rds.restoreFault = { error: Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }), afterCreating: true };
    const report = await runRestoreDrill(settings, harness(rds).deps);
    expect(report).toMatchObject({ ok: false, reason: 'restore: TimeoutError: socket hang up', cleanup: 'deleted' });
    expect(rds.instances.get(TARGET)?.DBInstanceStatus).toBe('deleting');
  });

  test('failure in restore before anything was created (access denied): the delete finds nothing, and the report says so', async () => {
    rds.restoreFault = {
      error: Object.assign(new Error('not authorized to perform: rds:RestoreDBInstanceToPointInTime'), { name: 'AccessDenied' }),
      afterCreating: false,
    };
    const report = await runRestoreDrill(settings, harness(rds).deps);
    expect(report).toMatchObject({
      ok: false,
      reason: 'restore: AccessDenied: not authorized to perform: rds:RestoreDBInstanceToPointInTime',
      cleanup: 'absent',
    });
    expect(deleteCalls()).toEqual([{ DBInstanceIdentifier: TARGET, SkipFinalSnapshot: true, DeleteAutomatedBackups: true }]);
  });

  test('a live instance without automated backups fails before any restore, and nothing is deleted', async () => {
    rds.instances.set(SOURCE, sourceInstance({ LatestRestorableTime: undefined }));
    const report = await runRestoreDrill(settings, harness(rds).deps);
    expect(report).toMatchObject({
      ok: false,
      cleanup: 'not-needed',
      reason: `describe the live instance: ${SOURCE} has no latest restorable time: automated backups are off (BackupRetentionPeriod 0)`,
    });
    expect(rdsMock.commandCalls(RestoreDBInstanceToPointInTimeCommand)).toHaveLength(0);
    expect(deleteCalls()).toEqual([]);
  });

  test('a verified drill whose instance cannot be deleted is a failure: the line says the sweep will remove it, RPO/RTO are still recorded', async () => {
    rds.deleteFaults = [Object.assign(new Error('not authorized to perform: rds:DeleteDBInstance'), { name: 'AccessDenied' })];
    const h = harness(rds);
    const report = await runRestoreDrill(settings, h.deps);
    expect(report).toMatchObject({ ok: false, cleanup: 'left', rpoSeconds: 247, rtoSeconds: 90 });
    expect(report.reason).toBe(
      `delete ${TARGET}: AccessDenied: not authorized to perform: rds:DeleteDBInstance; it carries ExpiresAt and the next drill's sweep deletes it`,
    );
    expect(h.outcomes).toEqual([{ sourceInstance: SOURCE, succeeded: false, rpoSeconds: 247, rtoSeconds: 90 }]);
  });

  test('no writes since the newest restored row: RPO 0; over the RTO target: the line says so', async () => {
    const quiet = LIVE.map((t) => ({ ...t, newestAsOf: RESTORED.find((r) => r.table === t.table)!.newestAsOf }));
    const h = harness(rds, (host) => (host.startsWith('restored') ? RESTORED : quiet));
    const report = await runRestoreDrill({ ...settings, targets: { rpoSeconds: 60, rtoSeconds: 60 } }, h.deps);
    expect(report).toMatchObject({ ok: true, rpoSeconds: 0, rtoSeconds: 90, targetsMet: false });
    expect(resultLine(report)).toMatch(/RPO 0\.0 min, RTO 1\.5 min, OVER TARGET; temporary instance deleted$/);
  });
});

describe('the sweeper', () => {
  const instance = (id: string, tags: Record<string, string> | undefined, status = 'available'): DBInstance => ({
    DBInstanceIdentifier: id,
    DBInstanceStatus: status,
    ...(tags ? { TagList: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } : {}),
  });

  test('deletes only drill instances of this source whose ExpiresAt has passed, across pages', async () => {
    rdsMock.reset();
    const expired = { RestoreDrillSource: SOURCE, ExpiresAt: '2026-11-22T02:00:00Z' };
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolvesOnce({
        DBInstances: [
          instance('hipaa-fhir-drill-prod-20261115030000', expired),
          instance('hipaa-fhir-drill-prod-20261122020000', { RestoreDrillSource: SOURCE, ExpiresAt: '2026-11-22T14:00:00Z' }),
          instance(SOURCE, { ExpiresAt: '2026-01-01T00:00:00Z' }),
        ],
        Marker: 'page-2',
      })
      .resolvesOnce({
        DBInstances: [
          // Another environment whose suffix starts with this one's ("prod-2"): not of this drill's form.
          instance('hipaa-fhir-drill-prod-2-20261115030000', {
            RestoreDrillSource: 'hipaa-fhir-db-prod-2',
            ExpiresAt: '2026-11-16T00:00:00Z',
          }),
          instance('hipaa-fhir-drill-prod-20261108030000', undefined),
          instance('hipaa-fhir-drill-prod-20261101030000', { RestoreDrillSource: 'someone-else', ExpiresAt: '2026-11-02T00:00:00Z' }),
          instance('hipaa-fhir-drill-prod-20261025030000', expired, 'deleting'),
        ],
      });
    rdsMock.on(DeleteDBInstanceCommand).resolves({});
    const rds = new FakeRds();
    const h = harness(rds);
    const swept = await sweepLeftovers(settings, h.deps);
    expect(swept).toEqual(['hipaa-fhir-drill-prod-20261115030000']);
    expect(deleteCalls()).toEqual([
      { DBInstanceIdentifier: 'hipaa-fhir-drill-prod-20261115030000', SkipFinalSnapshot: true, DeleteAutomatedBackups: true },
    ]);
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand)[1].args[0].input).toEqual({ Marker: 'page-2' });
    expect(h.logs.filter((l) => l.includes('left alone'))).toEqual([
      "sweep: hipaa-fhir-drill-prod-20261108030000 has the drill's name but not its RestoreDrillSource/ExpiresAt tags; left alone",
      "sweep: hipaa-fhir-drill-prod-20261101030000 has the drill's name but not its RestoreDrillSource/ExpiresAt tags; left alone",
    ]);
  });

  test('a drill sweeps before it restores', async () => {
    const rds = new FakeRds();
    rds.install();
    rds.instances.set('hipaa-fhir-drill-prod-20261115030000', {
      DBInstanceIdentifier: 'hipaa-fhir-drill-prod-20261115030000',
      DBInstanceStatus: 'available',
      TagList: [
        { Key: 'RestoreDrillSource', Value: SOURCE },
        { Key: 'ExpiresAt', Value: '2026-11-15T15:00:00Z' },
      ],
    });
    const report = await runRestoreDrill(settings, harness(rds).deps);
    expect(report.swept).toEqual(['hipaa-fhir-drill-prod-20261115030000']);
    expect(rds.events[0]).toBe('delete:hipaa-fhir-drill-prod-20261115030000');
    expect(rds.events[1]).toBe('restore');
  });

  test('a failing sweep (listing refused) is logged and the drill goes on', async () => {
    const rds = new FakeRds();
    rds.install();
    rds.listFault = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
    const h = harness(rds);
    const report = await runRestoreDrill(settings, h.deps);
    expect(report).toMatchObject({ ok: true, swept: [], cleanup: 'deleted' });
    expect(h.logs[0]).toBe('sweep: could not list instances; continuing with the drill');
  });
});

describe('identifiers and configuration', () => {
  test("the instance id is the prefix and 14 UTC digits, within RDS's 63 characters for the longest project and suffix", () => {
    expect(drillInstanceId(PREFIX, START)).toBe(TARGET);
    const longest = drillInstanceId(`${'p'.repeat(12)}-drill-${'s'.repeat(20)}-`, START);
    expect(longest.length).toBe(54);
    expect(isDrillInstanceId(PREFIX, TARGET)).toBe(true);
    expect(isDrillInstanceId(PREFIX, 'hipaa-fhir-drill-prod-2-20261122030007')).toBe(false);
    expect(isDrillInstanceId(PREFIX, SOURCE)).toBe(false);
  });

  const env = {
    AWS_REGION: 'eu-west-2',
    DRILL_SOURCE_INSTANCE: SOURCE,
    DRILL_INSTANCE_PREFIX: PREFIX,
    PROJECT: 'hipaa-fhir',
    ENVIRONMENT_SUFFIX: 'prod',
    DB_NAME: 'fhir',
  };

  test('the task configuration: defaults, targets, and one line per refused value', () => {
    const config = loadDrillConfig({ ...env, DRILL_RPO_TARGET_MINUTES: '15', DRILL_RTO_TARGET_MINUTES: '120' });
    expect(config.database).toEqual({
      name: 'fhir',
      user: 'fhir_drill',
      sslMode: 'verify-full',
      caBundlePath: '/etc/ssl/rds/global-bundle.pem',
    });
    expect(config.settings).toMatchObject({
      sourceInstance: SOURCE,
      instancePrefix: PREFIX,
      targets: { rpoSeconds: 900, rtoSeconds: 7200 },
      ttlMs: 12 * 3600_000,
    });
    const refused = (overrides: Record<string, string>) => {
      try {
        loadDrillConfig({ ...env, ...overrides });
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(refused({ DRILL_SOURCE_INSTANCE: '' })).toBe('DRILL_SOURCE_INSTANCE is required');
    expect(refused({ DRILL_INSTANCE_PREFIX: 'hipaa-fhir-drill-prod' })).toBe(
      'DRILL_INSTANCE_PREFIX must be an identifier prefix ending in "-" (at most 48 characters, leaving 14 for the timestamp)',
    );
    expect(refused({ DRILL_INSTANCE_PREFIX: 'hipaa-fhir-db-' })).toBe(
      'DRILL_SOURCE_INSTANCE must not start with DRILL_INSTANCE_PREFIX: the drill would treat the live instance as its own',
    );
    expect(refused({ DB_SSL_MODE: 'disable' })).toBe('DB_SSL_MODE must be verify-full or require (IAM authentication needs TLS)');
    expect(refused({ DRILL_TTL_MINUTES: '0' })).toBe('DRILL_TTL_MINUTES must be a whole number of minutes from 1 to 10080');
    expect(refused({ METRICS: 'cloudwatch' })).toBe('METRICS must be emf or off');
  });

  test('the task refuses to start on bad configuration: exit 2, one line, before any AWS call', () => {
    const run = spawnSync(process.execPath, [...TS_HOOK, 'lib/processor/tasks/restore-drill/main.ts'], {
      cwd: join(__dirname, '..', '..', '..', '..', '..'),
      env: { PATH: process.env.PATH, ...env, DRILL_INSTANCE_PREFIX: 'x' },
      encoding: 'utf8',
    });
    expect([run.status, run.stderr.trim(), run.stdout]).toEqual([
      2,
      'configuration error: DRILL_INSTANCE_PREFIX must be an identifier prefix ending in "-" (at most 48 characters, leaving 14 for the timestamp)',
      '',
    ]);
  }, 60_000);
});

describe('drill metrics', () => {
  test('one Embedded Metric Format document: the drill namespace, the source instance dimension, RPO and RTO in seconds', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((line: string) => {
      lines.push(line);
    });
    try {
      await new EmfDrillMetrics().outcome({ sourceInstance: SOURCE, succeeded: true, rpoSeconds: 247, rtoSeconds: 5400 });
      await new EmfDrillMetrics().outcome({ sourceInstance: SOURCE, succeeded: false });
    } finally {
      spy.mockRestore();
    }
    const [ok, failed] = lines.map((l) => JSON.parse(l));
    const [directive] = ok._aws.CloudWatchMetrics as Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit: string }>;
    }>;
    expect({ ...directive, Metrics: [...directive.Metrics].sort((a, b) => a.Name.localeCompare(b.Name)) }).toEqual({
      Namespace: 'HipaaFhir/RestoreDrill',
      Dimensions: [['DBInstanceIdentifier']],
      Metrics: [
        { Name: 'DrillSucceeded', Unit: 'Count' },
        { Name: 'RecoveryPointSeconds', Unit: 'Seconds' },
        { Name: 'RecoveryTimeSeconds', Unit: 'Seconds' },
      ],
    });
    expect(ok).toMatchObject({ DBInstanceIdentifier: SOURCE, DrillSucceeded: 1, RecoveryPointSeconds: 247, RecoveryTimeSeconds: 5400 });
    expect(failed).toMatchObject({ DrillSucceeded: 0 });
    expect(Object.keys(failed)).not.toContain(RESTORE_DRILL_METRICS.rpo);
  });
});
