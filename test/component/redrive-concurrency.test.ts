import { Writable } from 'stream';
import { Client, Pool } from 'pg';
import { Coordinator } from '../../lib/processor/service/coordinator';
import { createLogger } from '../../lib/processor/logger';
import { NoMetrics } from '../../lib/processor/metrics';
import { isNewer } from '../../lib/processor/records';
import { currentValidator, redrive, RedriveSummary } from '../../lib/processor/tasks/redrive/redrive';
import type { SampleRecord } from '../../scripts/shared/fhir-samples';
import { createStream, LocalKinesis, LocalPostgres, migrateSchema, putRecords, startKinesis, startPostgres, waitFor } from './harness';

jest.setTimeout(300_000);

const PATIENTS = 40;
const BATCH = 5;

/** Version 1 is padded past a strict 1,024-byte record limit; later versions are small. */
const version = (i: number, gender: string, padded: boolean) => ({
  resourceType: 'Patient',
  id: `cc-p${i}`,
  gender,
  name: [{ family: 'Kowalski', given: ['Finn'] }],
  ...(padded ? { text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(1_200)}</div>` } } : {}),
});
const record = (resource: { id: string } & Record<string, unknown>): SampleRecord => ({
  partitionKey: resource.id,
  data: Buffer.from(JSON.stringify(resource)),
  expect: { kind: 'valid', key: resource.id },
});

/**
 * A running processor and a re-drive on the same resources. Version 1 of every patient was
 * quarantined (TOO_LARGE) by a processor with a strict record limit; the relaxed processor then
 * receives byte-identical re-sends and newer versions of those patients while the re-drive runs.
 * Interleaving is forced on observed progress: the re-drive holds its first batch open until a
 * processor transaction is seen waiting on its row locks, and after each batch it waits until the
 * processor has committed the next wave. No step depends on timing.
 */
describe('a processor and a re-drive at once never duplicate a record or leave a wrong current version', () => {
  const stream = 'redrive-concurrency';
  let pg: LocalPostgres;
  let kinesis: LocalKinesis;
  let pool: Pool;
  let db: Client;
  const running: Coordinator[] = [];
  const logger = createLogger(
    'redrive-concurrency',
    'warn',
    new Writable({
      write(_c, _e, cb) {
        cb();
      },
    }),
  );
  let processorBatches = 0;
  let processorRecords = 0;

  beforeAll(async () => {
    [pg, kinesis] = await Promise.all([startPostgres(), startKinesis()]);
    await migrateSchema(pg);
    pool = new Pool({ ...pg.settings({ role: 'fhir_writer' }), max: 12 });
    pool.on('error', () => undefined);
    db = await pg.client();
    await createStream(kinesis.client, stream, 2);
  });
  afterAll(async () => {
    await Promise.all(running.map((c) => c.shutdown().catch(() => undefined)));
    await pool?.end();
    await db?.end();
    await Promise.all([kinesis?.stop(), pg?.stop()]);
  });

  function processor(workerId: string, maxRecordBytes: number): Coordinator {
    const c = new Coordinator({
      kinesis: kinesis.client,
      pool,
      streamName: stream,
      workerId,
      leaseTtlMs: 30_000,
      pollIntervalMs: 10,
      getRecordsLimit: BATCH,
      maxRecordBytes,
      logger,
      metrics: new NoMetrics(),
      onBatch: (r) => {
        processorBatches++;
        processorRecords += r.records;
      },
    });
    running.push(c);
    c.start();
    return c;
  }

  /** The next `n` rows the re-drive will take (id order), as patient indexes. */
  const nextPending = async (n: number) =>
    (
      await db.query<{ pk: string }>('SELECT partition_key AS pk FROM quarantined_record WHERE redriven_at IS NULL ORDER BY id LIMIT $1', [
        n,
      ])
    ).rows.map((r) => Number(r.pk.slice('cc-p'.length)));

  test('history once per content, current by the ordering rule, every quarantine row re-driven once', async () => {
    // 1. A strict processor quarantines every version 1.
    const strict = processor('strict-processor', 1_024);
    await putRecords(
      kinesis.client,
      stream,
      Array.from({ length: PATIENTS }, (_, i) => record(version(i, 'female', true))),
    );
    await waitFor('every version 1 quarantined', async () =>
      (await db.query("SELECT count(*)::int AS n FROM quarantined_record WHERE reason_code = 'TOO_LARGE'")).rows[0].n === PATIENTS
        ? true
        : undefined,
    );
    await strict.shutdown();
    running.splice(running.indexOf(strict), 1);
    processorBatches = 0;
    processorRecords = 0;

    // 2. The relaxed processor runs; send it something, and start the re-drive once it has committed a batch.
    processor('relaxed-processor', 262_144);
    let sent = 0;
    const send = async (records: SampleRecord[]) => {
      sent += records.length;
      await putRecords(kinesis.client, stream, records);
    };
    await send([record({ resourceType: 'Patient', id: 'cc-other', gender: 'other' })]);
    await waitFor('a first processor batch', async () => (processorBatches > 0 ? true : undefined));

    /** Which patients got what, and when: the expected audit trail of each follows from it. */
    const during = { resent: new Set<number>(), newer: new Set<number>() };
    const before = { resent: new Set<number>(), newer: new Set<number>() };
    let blockedObserved = false;
    const batchesAtStart = processorBatches;
    let redriveBatches = 0;
    const summary: RedriveSummary = await redrive(
      pool,
      { dryRun: false, batchSize: BATCH },
      {
        actor: 'ops/redrive',
        streamName: stream,
        validator: currentValidator(262_144),
        beforeCommit: async (batch) => {
          if (batch.number !== 1) return;
          // This batch's rows and resources are written but not committed: the processor gets the same
          // contents (2 patients) and newer versions (3) now, and must wait for this transaction.
          const mine = await nextPending(BATCH);
          mine.slice(0, 2).forEach((i) => during.resent.add(i));
          mine.slice(2).forEach((i) => during.newer.add(i));
          await send([
            ...mine.slice(0, 2).map((i) => record(version(i, 'female', true))),
            ...mine.slice(2).map((i) => record(version(i, 'male', false))),
          ]);
          await waitFor("a processor transaction waiting on the re-drive's row locks", async () =>
            (
              await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity w
          WHERE w.wait_event_type = 'Lock' AND EXISTS (SELECT 1 FROM pg_stat_activity h WHERE h.pid = ANY (pg_blocking_pids(w.pid)) AND h.state = 'idle in transaction')`)
            ).rows[0].n > 0
              ? true
              : undefined,
          );
          blockedObserved = true;
        },
        onBatch: async (progress) => {
          redriveBatches = progress.batches;
          // Before the next batch: the processor commits re-sends (2) and newer versions (2) of its patients; one is left alone.
          const next = await nextPending(BATCH);
          if (next.length > 0) {
            next.slice(0, 2).forEach((i) => before.resent.add(i));
            next.slice(2, 4).forEach((i) => before.newer.add(i));
            await send([
              ...next.slice(0, 2).map((i) => record(version(i, 'female', true))),
              ...next.slice(2, 4).map((i) => record(version(i, 'male', false))),
            ]);
          }
          await waitFor('the processor to commit what was sent', async () => (processorRecords >= sent ? true : undefined));
        },
      },
    );
    const batchesDuring = processorBatches - batchesAtStart;

    // The interleaving really happened.
    expect(blockedObserved).toBe(true);
    expect(redriveBatches).toBe(PATIENTS / BATCH);
    expect(batchesDuring).toBeGreaterThanOrEqual(PATIENTS / BATCH);

    // First batch: the re-drive committed first (5 written); later ones found the processor's copies.
    expect(summary).toMatchObject({
      examined: PATIENTS,
      redriven: PATIENTS,
      stillQuarantined: 0,
      pending: 0,
      entries: { written: 5 + 7, duplicate: 14, 'stale-version-history-only': 14 },
    });
    expect([during.resent.size, during.newer.size, before.resent.size, before.newer.size]).toEqual([2, 3, 14, 14]);
    const newer = new Set([...during.newer, ...before.newer]);

    // Every quarantine row re-driven exactly once, with one audit event.
    const rows = (await db.query(`SELECT count(*)::int AS n, count(redriven_at)::int AS done FROM quarantined_record`)).rows[0];
    expect(rows).toEqual({ n: PATIENTS, done: PATIENTS });
    const redriveEvents = (
      await db.query(
        `SELECT count(*)::int AS n, count(DISTINCT (shard_id, sequence_number))::int AS positions FROM audit_event WHERE action = 'redrive'`,
      )
    ).rows[0];
    expect(redriveEvents).toEqual({ n: PATIENTS, positions: PATIENTS });

    // Each content stored once, by whichever path committed first; the other audited a duplicate.
    const history = (
      await db.query(`SELECT resource_id, count(*)::int AS n FROM fhir_resource_history WHERE resource_id LIKE 'cc-p%' GROUP BY 1`)
    ).rows;
    expect(Object.fromEntries(history.map((r) => [r.resource_id, r.n]))).toEqual(
      Object.fromEntries(Array.from({ length: PATIENTS }, (_, i) => [`cc-p${i}`, newer.has(i) ? 2 : 1])),
    );
    const trails = new Map(
      (
        await db.query(
          `SELECT resource_id, array_agg(action || ':' || outcome ORDER BY id) AS events FROM audit_event WHERE resource_id LIKE 'cc-p%' GROUP BY 1`,
        )
      ).rows.map((r) => [r.resource_id, r.events]),
    );
    for (let i = 0; i < PATIENTS; i++) {
      const expected = during.resent.has(i)
        ? ['redrive:written', 'persist:duplicate'] // the processor waited for the re-drive's commit
        : during.newer.has(i)
          ? ['redrive:written', 'persist:written'] // then the newer version replaced it
          : before.resent.has(i)
            ? ['persist:written', 'redrive:duplicate']
            : before.newer.has(i)
              ? ['persist:written', 'redrive:stale-version-history-only']
              : ['redrive:written'];
      expect({ patient: i, events: trails.get(`cc-p${i}`) }).toEqual({ patient: i, events: expected });
    }

    // Current is the newest history version of each resource by the ordering rule, whatever committed first.
    const versions = (
      await db.query(
        `SELECT resource_id, version_id, last_updated, sequence_number, entry_index, resource->>'gender' AS gender FROM fhir_resource_history WHERE resource_id LIKE 'cc-p%'`,
      )
    ).rows;
    const current = new Map(
      (
        await db.query(
          `SELECT resource_id, sequence_number, entry_index, resource->>'gender' AS gender FROM fhir_resource_current WHERE resource_id LIKE 'cc-p%'`,
        )
      ).rows.map((r) => [r.resource_id, r]),
    );
    expect(current.size).toBe(PATIENTS);
    for (let i = 0; i < PATIENTS; i++) {
      const order = (v: { version_id: string | null; last_updated: Date | null; sequence_number: string; entry_index: number }) => ({
        versionId: v.version_id ?? undefined,
        lastUpdated: v.last_updated?.toISOString(),
        sequenceNumber: v.sequence_number,
        entryIndex: v.entry_index,
      });
      const newest = versions.filter((v) => v.resource_id === `cc-p${i}`).reduce((best, v) => (isNewer(order(v), order(best)) ? v : best));
      expect(current.get(`cc-p${i}`)).toEqual({
        resource_id: `cc-p${i}`,
        sequence_number: newest.sequence_number,
        entry_index: newest.entry_index,
        gender: newer.has(i) ? 'male' : 'female',
      });
    }
  });
});
