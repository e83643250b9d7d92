/**
 * Fault tests against embedded PostgreSQL. Each fault is triggered on observed progress (a
 * backend seen waiting inside its batch transaction, a worker seen asleep in retry, a lease seen
 * expired) and each test asserts that the fault really happened mid-run.
 */
import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { Client, Pool } from 'pg';
import { checkHealth, startHealthServer } from '../../lib/processor/service/health';
import { MetricsSink, StuckMetrics } from '../../lib/processor/metrics';
import { patient, prng, validSamples } from '../../scripts/shared/fhir-samples';
import {
  capturingLogger,
  freePort,
  putRecords,
  RecordingMetrics,
  shardWorker,
  startDatabase,
  startStack,
  takeLease,
  TestDatabase,
  TestStack,
  waitFor,
} from './harness';

jest.setTimeout(180_000);

const rand = prng(17);
const at = new Date('2026-11-01T10:00:00Z');
const valid = (seq: string, id: string, pk = id) => ({
  SequenceNumber: seq,
  PartitionKey: pk,
  Data: Buffer.from(JSON.stringify(patient(id, 1, at, rand))),
});
const notJson = (seq: string, pk: string) => ({
  SequenceNumber: seq,
  PartitionKey: pk,
  Data: Buffer.from('{"resourceType": "Patient", oops'),
});

describe('faults (embedded PostgreSQL)', () => {
  let database: TestDatabase;
  let db: Client;
  let writer: Pool;
  // Mocks this one client only: the kinesalite client of the process test stays real.
  const kinesisClient = new KinesisClient({ region: 'eu-west-2' });
  const kinesis = mockClient(kinesisClient);

  beforeAll(async () => {
    // A short lock_timeout turns "the table is locked" into a transient error (55P03) the worker retries.
    database = await startDatabase({ settings: '-c lock_timeout=200' });
    ({ writer, db } = database);
    // Every checkpoint write, with the fencing token that wrote it.
    await db.query(`CREATE TABLE checkpoint_log (id bigserial PRIMARY KEY, shard_id text, old_seq numeric, new_seq numeric, lease_counter bigint);
      CREATE FUNCTION log_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO checkpoint_log (shard_id, old_seq, new_seq, lease_counter)
        VALUES (NEW.shard_id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.sequence_number::numeric END, NEW.sequence_number::numeric, NEW.lease_counter);
        RETURN NEW; END $$;
      CREATE TRIGGER checkpoint_log AFTER INSERT OR UPDATE ON shard_checkpoint FOR EACH ROW EXECUTE FUNCTION log_checkpoint();
      GRANT INSERT ON checkpoint_log TO fhir_writer; GRANT USAGE ON SEQUENCE checkpoint_log_id_seq TO fhir_writer;`);
  });
  afterAll(() => database?.stop());
  beforeEach(() => kinesis.reset());

  /** A worker on the mocked client; `logs` receives its log lines. */
  function worker(shardId: string, leaseCounter: string, metrics: MetricsSink, logs: string[], extra: { leaseTtlMs?: number } = {}) {
    const { logger } = capturingLogger('w1', logs);
    return shardWorker(database, {
      kinesis: kinesisClient,
      streamName: 'faults',
      shardId,
      leaseCounter,
      logger,
      metrics,
      leaseTtlMs: extra.leaseTtlMs,
    });
  }

  async function lease(shardId: string, ttlMs?: number) {
    const { leases, taken, counter } = await takeLease(writer, 'faults', shardId, { ttlMs });
    expect(taken.has(shardId)).toBe(true);
    return { leases, counter };
  }

  /** GetRecords by iterator: each step names the records it returns and the next iterator. */
  function shardScript(steps: Record<string, () => { Records: ReturnType<typeof valid>[]; NextShardIterator?: string }>) {
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    kinesis.on(GetRecordsCommand).callsFake(async (input: { ShardIterator: string }) => steps[input.ShardIterator]());
  }

  test('a backend terminated inside a batch transaction: no crash, the batch is retried, every record once', async () => {
    // kinesalite and the processor as a child process, on this suite's PostgreSQL.
    const stack: TestStack = await startStack({ pg: database.pg });
    try {
      const stream = 'terminate-test';
      await stack.createStream(stream, 1);
      const { child, logs, exited } = stack.spawnProcessor(stream, 'terminated');
      await waitFor('leases acquired', async () => (logs.some((l) => l.includes('acquired leases')) ? true : undefined), 60_000);

      // Hold writes to the checkpoint, the batch transaction's last statement, so it is seen waiting
      // inside the transaction after writing its rows and fencing its lease.
      const blocker = await stack.pg.client();
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE shard_checkpoint IN SHARE ROW EXCLUSIVE MODE');
      await putRecords(stack.kinesis.client, stream, validSamples(500, { runId: 'term', patients: 50 }));
      // The batch waits for the table lock (wait_event 'relation'). Its lease row is locked too, so the
      // coordinator's lease renewal may be waiting as well, on the batch's transaction ('transactionid'):
      // terminating that one would test the coordinator, not the batch.
      const victim = await waitFor(
        'a processor backend waiting inside its batch transaction',
        async () =>
          (
            await db.query(
              `SELECT pid, backend_xid IS NOT NULL AS wrote FROM pg_stat_activity
         WHERE application_name = 'fhir-processor' AND wait_event_type = 'Lock' AND wait_event = 'relation'
           AND state = 'active' AND xact_start IS NOT NULL`,
            )
          ).rows[0],
      );
      // It had already written its rows and updated its lease row: the transaction was really under way.
      expect(victim.wrote).toBe(true);
      expect((await db.query('SELECT pg_terminate_backend($1) AS ok', [victim.pid])).rows[0].ok).toBe(true);
      await blocker.query('COMMIT');
      await blocker.end();

      await waitFor(
        '500 persisted',
        async () =>
          (await db.query("SELECT count(*)::int AS n FROM audit_event WHERE stream_name = $1 AND action = 'persist'", [stream])).rows[0]
            .n >= 500
            ? true
            : undefined,
        120_000,
      );
      expect(child.exitCode).toBeNull();
      expect(logs.some((l) => l.includes('database unavailable; retrying batch') && /57P01|terminat/i.test(l))).toBe(true);
      const history = (await db.query('SELECT count(*)::int AS n FROM fhir_resource_history WHERE stream_name = $1', [stream])).rows[0].n;
      expect(history).toBe(500);
      const audit = (await db.query('SELECT outcome, count(*)::int AS n FROM audit_event WHERE stream_name = $1 GROUP BY 1', [stream]))
        .rows;
      expect(audit).toEqual([{ outcome: 'written', n: 500 }]);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      await stack.stop();
    }
  });

  test('an outage longer than the lease TTL with a worker asleep in retry: the stale worker is fenced out, no double commit, the checkpoint never moves back', async () => {
    const shardId = 'shard-outage';
    const ttlMs = 1_000;
    const first = await lease(shardId, ttlMs);
    const records = Array.from({ length: 20 }, (_, i) => valid(String(5000 + i), `out-${i}`));
    shardScript({
      'it-0': () => ({ Records: records, NextShardIterator: 'it-1' }),
      'it-1': () => ({ Records: [], NextShardIterator: 'it-1' }),
    });

    // The outage: history and leases refuse writes (lock timeouts) until released.
    const outage = await database.pg.client();
    await outage.query('BEGIN');
    await outage.query('LOCK TABLE fhir_resource_history IN SHARE ROW EXCLUSIVE MODE');
    const oldLogs: string[] = [];
    const old = worker(shardId, first.counter, new RecordingMetrics(), oldLogs, { leaseTtlMs: ttlMs });
    await waitFor('the worker asleep in retry with its batch', async () =>
      oldLogs.filter((l) => l.includes('database unavailable; retrying batch')).length >= 2 ? true : undefined,
    );
    await waitFor('the lease to expire', async () =>
      (await db.query('SELECT expires_at < now() AS expired FROM shard_lease WHERE shard_id = $1', [shardId])).rows[0].expired
        ? true
        : undefined,
    );

    // Take-over by the same worker id (as the coordinator does after an outage): a new counter.
    // (acquire skips a lease row the old worker has locked for an instant, so ask until it is taken)
    const counter = await waitFor('the take-over', async () => (await first.leases.acquire(10)).get(shardId));
    expect(BigInt(counter)).toBeGreaterThan(BigInt(first.counter));
    const newLogs: string[] = [];
    const metrics = new RecordingMetrics();
    const fresh = worker(shardId, counter, metrics, newLogs, { leaseTtlMs: ttlMs });
    await outage.query('ROLLBACK');
    await outage.end();

    // The old worker wakes, tries to commit under its old counter, and is refused.
    expect(await old.done).toBe('lease-lost');
    expect(oldLogs.join('')).toContain('lease lost; nothing written');
    await waitFor('the new holder commits the batch', async () => (metrics.batches.some((b) => b.written === 20) ? true : undefined));
    expect(await fresh.stop()).toBe('stopped');

    const events = (await db.query('SELECT outcome, count(*)::int AS n FROM audit_event WHERE shard_id = $1 GROUP BY 1', [shardId])).rows;
    expect(events).toEqual([{ outcome: 'written', n: 20 }]);
    expect((await db.query('SELECT count(*)::int AS n FROM fhir_resource_history WHERE shard_id = $1', [shardId])).rows[0].n).toBe(20);
    const log = (
      await db.query('SELECT old_seq::text, new_seq::text, lease_counter::text FROM checkpoint_log WHERE shard_id = $1 ORDER BY id', [
        shardId,
      ])
    ).rows;
    expect(log).toEqual([{ old_seq: null, new_seq: '5019', lease_counter: counter }]);
  });

  test('stop() interrupts a worker asleep in retry (the database still refuses it)', async () => {
    const shardId = 'shard-stop';
    const { counter } = await lease(shardId);
    shardScript({
      'it-0': () => ({ Records: [valid('7000', 'stop-1')], NextShardIterator: 'it-1' }),
      'it-1': () => ({ Records: [], NextShardIterator: 'it-1' }),
    });
    const outage = await database.pg.client();
    await outage.query('BEGIN');
    await outage.query('LOCK TABLE fhir_resource_history IN SHARE ROW EXCLUSIVE MODE');
    try {
      const logs: string[] = [];
      const w = worker(shardId, counter, new RecordingMetrics(), logs);
      await waitFor('asleep in retry', async () =>
        logs.some((l) => l.includes('database unavailable; retrying batch')) ? true : undefined,
      );
      // It can never commit while the lock is held, so only the interrupt can end it.
      expect(await w.stop()).toBe('stopped');
    } finally {
      await outage.query('ROLLBACK');
      await outage.end();
    }
    expect((await db.query('SELECT count(*)::int AS n FROM audit_event WHERE shard_id = $1', [shardId])).rows[0].n).toBe(0);
  });

  test('a poison partition key (U+0000) never blocks the shard; /health is unhealthy only while the shard is stuck', async () => {
    const shardId = 'shard-poison';
    const { counter } = await lease(shardId);
    let second = false;
    shardScript({
      'it-0': () => ({
        Records: [valid('100', 'poison-a'), notJson('101', 'p\u0000x'), valid('102', 'poison-c')],
        NextShardIterator: 'it-1',
      }),
      'it-1': () =>
        second ? { Records: [notJson('103', 'stuck-key')], NextShardIterator: 'it-2' } : { Records: [], NextShardIterator: 'it-1' },
      'it-2': () => ({ Records: [valid('104', 'poison-e')], NextShardIterator: undefined }),
    });
    const logs: string[] = [];
    // The worker awaits its stuck report between two attempts at the batch: holding that report
    // open is how the test lifts the fault between attempts, never in the middle of one (an
    // attempt that sees the constraint on its first insert and gone on its fallback would
    // legitimately store the record as UNSTORABLE).
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let betweenAttempts = false;
    const metrics = new (class extends RecordingMetrics {
      override async shardStuck(m: StuckMetrics): Promise<void> {
        await super.shardStuck(m);
        betweenAttempts = true;
        await held;
      }
    })();
    const w = worker(shardId, counter, metrics, logs);
    const port = await freePort();
    const server = startHealthServer(
      {
        lastCycleAt: Date.now(),
        cycleIntervalMs: 3_600_000,
        heldShards: [shardId],
        get stuckShards() {
          return w.stuck ? [shardId] : [];
        },
      },
      port,
    );
    await new Promise((r) => server.once('listening', r));
    try {
      await waitFor('the poison batch committed', async () => (metrics.batches.length >= 1 ? true : undefined));
      const q = (
        await db.query('SELECT partition_key, partition_key_raw, reason_code FROM quarantined_record WHERE shard_id = $1', [shardId])
      ).rows;
      expect(q).toEqual([{ partition_key: 'p\\u0000x', partition_key_raw: Buffer.from('p\u0000x'), reason_code: 'NOT_JSON' }]);
      expect(await checkHealth(port)).toBe(true);

      // Now the database refuses every quarantine row (a constraint): the next batch cannot move.
      await db.query("ALTER TABLE quarantined_record ADD CONSTRAINT refuse_all CHECK (reason_code = 'never') NOT VALID");
      second = true;
      await waitFor('the shard stuck, between two attempts', async () => (w.stuck && betweenAttempts ? true : undefined));
      expect(await checkHealth(port)).toBe(false);
      expect(metrics.stuck.length).toBeGreaterThan(0);
      expect(metrics.stuck[0]).toMatchObject({ shardId });
      expect(logs.join('')).toMatch(/cannot be stored even as a hex quarantine row \(SQLSTATE 23514\)/);

      await db.query('ALTER TABLE quarantined_record DROP CONSTRAINT refuse_all');
      const failedAttempts = metrics.stuck.length;
      release();
      expect(await w.done).toBe('ended');
      // The fault was lifted while the worker held a failed attempt: nothing more failed after it.
      expect(metrics.stuck.length).toBe(failedAttempts);
      expect(w.stuck).toBe(false);
      expect(await checkHealth(port)).toBe(true);
    } finally {
      release();
      server.close();
      await db.query('ALTER TABLE quarantined_record DROP CONSTRAINT IF EXISTS refuse_all');
    }
    const events = (
      await db.query('SELECT sequence_number, outcome FROM audit_event WHERE shard_id = $1 ORDER BY sequence_number::numeric, id', [
        shardId,
      ])
    ).rows;
    expect(events).toEqual([
      { sequence_number: '100', outcome: 'written' },
      { sequence_number: '101', outcome: 'NOT_JSON' },
      { sequence_number: '102', outcome: 'written' },
      { sequence_number: '103', outcome: 'NOT_JSON' },
      { sequence_number: '104', outcome: 'written' },
    ]);
    expect((await db.query('SELECT sequence_number FROM shard_checkpoint WHERE shard_id = $1', [shardId])).rows[0].sequence_number).toBe(
      '104',
    );
  });

  test('duplicates within one batch through the worker: one audit event per record, with its true outcome', async () => {
    const shardId = 'shard-dups';
    const { counter } = await lease(shardId);
    const a = valid('200', 'dup-a');
    const v1 = patient('dup-b', 1, new Date('2026-11-01T10:00:00Z'), rand);
    const v2 = { ...v1, meta: { versionId: '2', lastUpdated: '2026-11-02T10:00:00.000Z' }, active: false };
    shardScript({
      'it-0': () => ({
        Records: [
          a,
          { ...a, SequenceNumber: '201' },
          { SequenceNumber: '202', PartitionKey: 'dup-b', Data: Buffer.from(JSON.stringify(v2)) },
          { SequenceNumber: '203', PartitionKey: 'dup-b', Data: Buffer.from(JSON.stringify(v1)) },
          notJson('204', 'dup-c'),
          notJson('205', 'dup-c'),
        ],
        NextShardIterator: undefined,
      }),
    });
    const metrics = new RecordingMetrics();
    expect(await worker(shardId, counter, metrics, []).done).toBe('ended');
    const events = (
      await db.query('SELECT sequence_number, outcome FROM audit_event WHERE shard_id = $1 ORDER BY sequence_number::numeric, id', [
        shardId,
      ])
    ).rows;
    expect(events).toEqual([
      { sequence_number: '200', outcome: 'written' },
      { sequence_number: '201', outcome: 'duplicate' },
      { sequence_number: '202', outcome: 'written' },
      { sequence_number: '203', outcome: 'stale-version-history-only' },
      { sequence_number: '204', outcome: 'NOT_JSON' },
      { sequence_number: '205', outcome: 'NOT_JSON' },
    ]);
    expect(metrics.batches[0]).toMatchObject({ records: 6, written: 2, duplicates: 1, stale: 1, quarantined: 2, transactions: 1 });
  });
});
