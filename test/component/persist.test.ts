import { Client, Pool } from 'pg';
import { LeaseStore } from '../../lib/processor/db/leases';
import { BatchContext, LeaseLostError, persistBatch } from '../../lib/processor/db/persist';
import { ClassifiedBatch, planBatch, QuarantineEntry, RecordRef, ValidEntry } from '../../lib/processor/records';
import { startDatabase, takeLease, TestDatabase, waitFor } from './harness';

jest.setTimeout(60_000);

/** A batch built by hand, so these tests do not depend on what the validator accepts. */
interface In {
  seq: number;
  pk?: string;
  entries?: Array<{
    type: string;
    id: string;
    meta?: { versionId?: string; lastUpdated?: string };
    body?: object;
    patient?: string | null;
    raw?: string;
  }>;
  invalid?: string;
}

function batchOf(records: In[]): ClassifiedBatch {
  const valid: ValidEntry[] = [];
  const quarantined: QuarantineEntry[] = [];
  const refs: RecordRef[] = [];
  for (const r of records) {
    const sequenceNumber = String(r.seq).padStart(12, '0');
    const partitionKey = r.pk ?? `pk-${r.seq}`;
    const payload = Buffer.from(`payload-${r.seq}`);
    refs.push({ sequenceNumber, partitionKey, payload });
    if (r.invalid) quarantined.push({ sequenceNumber, partitionKey, reason: 'NOT_JSON', detail: r.invalid, payload });
    (r.entries ?? []).forEach((e, entryIndex) => {
      const json = e.raw ?? JSON.stringify({ resourceType: e.type, id: e.id, ...(e.meta ? { meta: e.meta } : {}), ...(e.body ?? {}) });
      const fallback = e.patient === null;
      valid.push({
        sequenceNumber,
        entryIndex,
        resourceType: e.type,
        id: e.id,
        versionId: e.meta?.versionId,
        lastUpdated: e.meta?.lastUpdated,
        patientId: fallback ? partitionKey : (e.patient ?? e.id),
        patientFromPartitionKey: fallback,
        json,
      });
    });
  }
  return planBatch({ valid, quarantined, records: refs });
}

describe('persistBatch (real PostgreSQL): ordering, de-duplication, audit truth, fencing, bisection', () => {
  let database: TestDatabase;
  let pool: Pool;
  let db: Client;
  let shardNo = 0;

  beforeAll(async () => {
    database = await startDatabase();
    ({ writer: pool, db } = database);
  });
  afterAll(() => database?.stop());

  /** A fresh shard whose lease this test holds, taken through the real take-over path. */
  async function shard(): Promise<BatchContext & { leases: LeaseStore }> {
    const shardId = `shard-${++shardNo}`;
    const { leases, taken, counter } = await takeLease(pool, 'persist', shardId, { max: 1 });
    expect([...taken.keys()]).toEqual([shardId]);
    return { streamName: 'persist', shardId, workerId: 'w1', leaseTtlMs: 30_000, leaseCounter: counter, leases };
  }

  const audit = async (shardId: string) =>
    (
      await db.query(
        'SELECT sequence_number::bigint::int AS seq, entry_index, action, outcome, resource_id FROM audit_event WHERE shard_id = $1 ORDER BY id',
        [shardId],
      )
    ).rows;
  const current = async (id: string) =>
    (
      await db.query("SELECT resource->>'v' AS v, sequence_number::bigint::int AS seq FROM fhir_resource_current WHERE resource_id = $1", [
        id,
      ])
    ).rows[0];

  test('without meta, arrival order decides; lastUpdated then a numeric-aware versionId decide when both sides have them', async () => {
    const ctx = await shard();
    await persistBatch(pool, batchOf([{ seq: 1, entries: [{ type: 'Patient', id: 'nm', body: { v: 'first' } }] }]), ctx);
    await persistBatch(pool, batchOf([{ seq: 2, entries: [{ type: 'Patient', id: 'nm', body: { v: 'second' } }] }]), ctx);
    expect(await current('nm')).toEqual({ v: 'second', seq: 2 });

    // Newer lastUpdated wins even when it arrived first.
    await persistBatch(
      pool,
      batchOf([{ seq: 3, entries: [{ type: 'Patient', id: 'lu', meta: { lastUpdated: '2026-11-02T00:00:00Z' }, body: { v: 'newer' } }] }]),
      ctx,
    );
    const r = await persistBatch(
      pool,
      batchOf([{ seq: 4, entries: [{ type: 'Patient', id: 'lu', meta: { lastUpdated: '2026-11-01T00:00:00Z' }, body: { v: 'older' } }] }]),
      ctx,
    );
    expect(r).toMatchObject({ written: 0, stale: 1 });
    expect(await current('lu')).toEqual({ v: 'newer', seq: 3 });

    // versionId 10 beats 9 (numerically, not as text) when lastUpdated cannot decide.
    await persistBatch(
      pool,
      batchOf([{ seq: 5, entries: [{ type: 'Patient', id: 'vid', meta: { versionId: '10' }, body: { v: 'ten' } }] }]),
      ctx,
    );
    await persistBatch(
      pool,
      batchOf([{ seq: 6, entries: [{ type: 'Patient', id: 'vid', meta: { versionId: '9' }, body: { v: 'nine' } }] }]),
      ctx,
    );
    expect(await current('vid')).toEqual({ v: 'ten', seq: 5 });

    // The same order inside one batch: the in-batch winner is chosen by the same rule.
    await persistBatch(
      pool,
      batchOf([
        { seq: 7, entries: [{ type: 'Patient', id: 'mix', meta: { versionId: '3' }, body: { v: 'v3' } }] },
        { seq: 8, entries: [{ type: 'Patient', id: 'mix', meta: { versionId: '2' }, body: { v: 'v2' } }] },
        { seq: 9, entries: [{ type: 'Patient', id: 'mix', body: { v: 'no-meta' } }] },
      ]),
      ctx,
    );
    // v3 vs no-meta: no common field, so arrival decides (seq 9); v2 then lost to v3 on versionId.
    expect(await current('mix')).toEqual({ v: 'no-meta', seq: 9 });
    expect((await audit(ctx.shardId)).filter((a) => a.resource_id === 'mix').map((a) => a.outcome)).toEqual([
      'stale-version-history-only',
      'stale-version-history-only',
      'written',
    ]);
  });

  test('a byte-identical re-send changes nothing; an exact re-delivery of committed records is refused whole', async () => {
    const ctx = await shard();
    const first = batchOf([{ seq: 10, entries: [{ type: 'Patient', id: 'same', body: { v: 'x' } }] }]);
    await persistBatch(pool, first, ctx);
    const before = (await db.query("SELECT updated_at FROM fhir_resource_current WHERE resource_id = 'same'")).rows[0].updated_at;
    const resend = await persistBatch(pool, batchOf([{ seq: 11, entries: [{ type: 'Patient', id: 'same', body: { v: 'x' } }] }]), ctx);
    expect(resend).toMatchObject({ written: 0, duplicates: 1, stale: 0 });
    expect((await db.query("SELECT count(*)::int AS n FROM fhir_resource_history WHERE resource_id = 'same'")).rows[0].n).toBe(1);
    expect((await db.query("SELECT updated_at FROM fhir_resource_current WHERE resource_id = 'same'")).rows[0].updated_at).toEqual(before);
    // The same Kinesis record again (same sequence number): the checkpoint is past it, nothing is written.
    await expect(persistBatch(pool, first, ctx)).rejects.toThrow(LeaseLostError);
    expect((await audit(ctx.shardId)).map((a) => a.outcome)).toEqual(['written', 'duplicate']);
  });

  test('one audit event per record and per bundle entry, with its true outcome; duplicates in one batch are not both written', async () => {
    const ctx = await shard();
    const r = await persistBatch(
      pool,
      batchOf([
        { seq: 20, entries: [{ type: 'Patient', id: 'dup', body: { v: 'a' } }] },
        { seq: 21, entries: [{ type: 'Patient', id: 'dup', body: { v: 'a' } }] },
        {
          seq: 22,
          entries: [
            { type: 'Patient', id: 'b1' },
            { type: 'Observation', id: 'o1', patient: 'b1' },
            { type: 'Device', id: 'd1', patient: null },
          ],
        },
        { seq: 23, invalid: 'payload is not JSON' },
        { seq: 24, invalid: 'payload is not JSON' },
      ]),
      ctx,
    );
    expect(r).toEqual({ written: 4, duplicates: 1, stale: 0, quarantined: 2, quarantinedByReason: { NOT_JSON: 2 }, transactions: 1 });
    expect(await audit(ctx.shardId)).toEqual([
      { seq: 20, entry_index: 0, action: 'persist', outcome: 'written', resource_id: 'dup' },
      { seq: 21, entry_index: 0, action: 'persist', outcome: 'duplicate', resource_id: 'dup' },
      { seq: 22, entry_index: 0, action: 'persist', outcome: 'written', resource_id: 'b1' },
      { seq: 22, entry_index: 1, action: 'persist', outcome: 'written', resource_id: 'o1' },
      { seq: 22, entry_index: 2, action: 'persist', outcome: 'written', resource_id: 'd1' },
      { seq: 23, entry_index: null, action: 'quarantine', outcome: 'NOT_JSON', resource_id: null },
      { seq: 24, entry_index: null, action: 'quarantine', outcome: 'NOT_JSON', resource_id: null },
    ]);
    // No patient in the resource: the partition key is used, and the row and audit say so.
    const device = (
      await db.query(
        "SELECT h.patient_id, h.patient_from_partition_key, a.detail FROM fhir_resource_history h JOIN audit_event a ON a.resource_id = h.resource_id WHERE h.resource_id = 'd1'",
      )
    ).rows[0];
    expect(device).toEqual({ patient_id: 'pk-22', patient_from_partition_key: true, detail: expect.stringMatching(/partition key/) });
  });

  test('a stale worker (old lease counter) commits nothing after a take-over, even under the same worker id', async () => {
    const ctx = await shard();
    await persistBatch(pool, batchOf([{ seq: 30, entries: [{ type: 'Patient', id: 'f1' }] }]), ctx);
    // The lease expires (an outage) and this same worker id takes it over again: the counter moves on.
    await db.query("UPDATE shard_lease SET expires_at = now() - interval '1 second' WHERE shard_id = $1", [ctx.shardId]);
    const again = await ctx.leases.acquire(1);
    expect(BigInt(again.get(ctx.shardId)!)).toBe(BigInt(ctx.leaseCounter!) + BigInt(1));
    await expect(persistBatch(pool, batchOf([{ seq: 31, entries: [{ type: 'Patient', id: 'f2' }] }]), ctx)).rejects.toThrow(LeaseLostError);
    expect((await db.query("SELECT count(*)::int AS n FROM fhir_resource_history WHERE resource_id = 'f2'")).rows[0].n).toBe(0);
    const cp = (
      await db.query(
        'SELECT sequence_number::bigint::int AS seq, lease_counter::text AS counter FROM shard_checkpoint WHERE shard_id = $1',
        [ctx.shardId],
      )
    ).rows[0];
    expect(cp).toEqual({ seq: 30, counter: String(ctx.leaseCounter) });
    // The new holder commits, and its checkpoint can only move forward.
    const fresh = { ...ctx, leaseCounter: again.get(ctx.shardId)! };
    await persistBatch(pool, batchOf([{ seq: 31, entries: [{ type: 'Patient', id: 'f2' }] }]), fresh);
    await expect(persistBatch(pool, batchOf([{ seq: 29, entries: [{ type: 'Patient', id: 'f0' }] }]), fresh)).rejects.toThrow(
      /checkpoint is already at or past/,
    );
    expect(
      (await db.query('SELECT sequence_number::bigint::int AS seq FROM shard_checkpoint WHERE shard_id = $1', [ctx.shardId])).rows[0].seq,
    ).toBe(31);
  });

  test('bisection: one record the database refuses in 256 is quarantined UNSTORABLE with its real partition key; the rest commit in O(log n) transactions', async () => {
    const ctx = await shard();
    const n = 256;
    const records: In[] = Array.from({ length: n }, (_, i) => ({
      seq: 1000 + i,
      pk: `patient-${i}`,
      entries: [{ type: 'Observation', id: `bis-${i}`, patient: `patient-${i}` }],
    }));
    // Valid JSON that jsonb refuses (an escaped NUL): only the database can say no.
    records[137].entries![0].raw = '{"resourceType":"Observation","id":"bis-137","note":[{"text":"a\\u0000b"}]}';
    const result = await persistBatch(pool, batchOf(records), ctx);
    expect(result).toMatchObject({ written: n - 1, quarantined: 1 });
    // One full attempt, then two halves per level (log2 256 = 8 levels), then the quarantine row.
    expect(result.transactions).toBeGreaterThan(2);
    expect(result.transactions).toBeLessThanOrEqual(2 * Math.log2(n) + 2);
    const q = (
      await db.query(
        'SELECT sequence_number::bigint::int AS seq, partition_key, reason_code, detail FROM quarantined_record WHERE shard_id = $1',
        [ctx.shardId],
      )
    ).rows;
    expect(q).toEqual([
      { seq: 1137, partition_key: 'patient-137', reason_code: 'UNSTORABLE', detail: expect.stringMatching(/SQLSTATE 22/) },
    ]);
    const events = await audit(ctx.shardId);
    expect(events).toHaveLength(n);
    expect(new Set(events.map((e) => e.seq)).size).toBe(n);
    expect(
      (await db.query('SELECT sequence_number::bigint::int AS seq FROM shard_checkpoint WHERE shard_id = $1', [ctx.shardId])).rows[0].seq,
    ).toBe(1000 + n - 1);
  });

  test('a history row without its current row: the re-send is refused by the key, retried with history looked up, and audited a duplicate', async () => {
    const ctx = await shard();
    await persistBatch(pool, batchOf([{ seq: 50, entries: [{ type: 'Patient', id: 'orphan', body: { v: 'x' } }] }]), ctx);
    // An operator removed the current row; history keeps its row (history is append-only).
    await db.query("DELETE FROM fhir_resource_current WHERE resource_id = 'orphan'");
    const r = await persistBatch(
      pool,
      batchOf([
        {
          seq: 51,
          entries: [
            { type: 'Patient', id: 'orphan', body: { v: 'x' } },
            { type: 'Patient', id: 'orphan-2' },
          ],
        },
      ]),
      ctx,
    );
    // The first attempt met the history key (23505); the second looked every entry up in history.
    expect(r).toEqual({ written: 1, duplicates: 1, stale: 0, quarantined: 0, quarantinedByReason: {}, transactions: 2 });
    expect((await audit(ctx.shardId)).map((a) => [a.seq, a.resource_id, a.outcome])).toEqual([
      [50, 'orphan', 'written'],
      [51, 'orphan', 'duplicate'],
      [51, 'orphan-2', 'written'],
    ]);
    expect((await db.query("SELECT count(*)::int AS n FROM fhir_resource_history WHERE resource_id = 'orphan'")).rows[0].n).toBe(1);
    expect((await db.query('SELECT count(*)::int AS n FROM quarantined_record WHERE shard_id = $1', [ctx.shardId])).rows[0].n).toBe(0);
  });

  test('two shards storing the same new resource at once: the second waits, meets the key, retries and audits a duplicate', async () => {
    const [first, second] = [await shard(), await shard()];
    const same = { type: 'Patient', id: 'raced', body: { v: 'same' } };
    // The first writer's transaction is held open after its rows are written: its checkpoint trigger reads a table this test locks.
    await db.query(`CREATE TABLE gate_lock (x int); GRANT SELECT ON gate_lock TO fhir_writer;
      CREATE FUNCTION wait_at_gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM 1 FROM gate_lock; RETURN NEW; END $$;
      CREATE TRIGGER wait_at_gate AFTER INSERT ON shard_checkpoint FOR EACH ROW WHEN (NEW.shard_id = '${first.shardId}') EXECUTE FUNCTION wait_at_gate();`);
    const gate = await database.pg.client();
    await gate.query('BEGIN');
    await gate.query('LOCK TABLE gate_lock IN ACCESS EXCLUSIVE MODE');
    const firstDone = persistBatch(pool, batchOf([{ seq: 60, entries: [same] }]), { ...first, workerId: 'w1' });
    await waitFor(
      'the first writer holding its rows, waiting at the gate',
      async () =>
        (
          await db.query(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%shard_checkpoint%' AND backend_xid IS NOT NULL",
          )
        ).rows[0],
    );
    const secondDone = persistBatch(pool, batchOf([{ seq: 70, entries: [same] }]), second);
    // The second is seen waiting for the first's uncommitted key before the first is let go.
    await waitFor(
      "the second writer waiting on the first one's key",
      async () =>
        (await db.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'transactionid'")).rows[0],
    );
    await gate.query('COMMIT');
    await gate.end();
    const results = [await firstDone, await secondDone];
    await db.query('DROP TRIGGER wait_at_gate ON shard_checkpoint; DROP FUNCTION wait_at_gate(); DROP TABLE gate_lock');
    expect(results[0]).toMatchObject({ written: 1, transactions: 1 });
    expect(results[1]).toEqual({ written: 0, duplicates: 1, stale: 0, quarantined: 0, quarantinedByReason: {}, transactions: 2 });
    expect((await audit(second.shardId)).map((a) => a.outcome)).toEqual(['duplicate']);
    expect((await db.query("SELECT count(*)::int AS n FROM fhir_resource_history WHERE resource_id = 'raced'")).rows[0].n).toBe(1);
  });

  test('the persist statement is planned for the tables as they are, never from a generic plan cached while they were small', async () => {
    // One session, so its prepared statements are the ones inspected.
    const one = new Pool({ ...database.pg.settings({ role: 'fhir_writer' }), max: 1 });
    try {
      const ctx = await shard();
      for (let b = 0; b < 12; b++) {
        await persistBatch(
          one,
          batchOf(
            Array.from({ length: 20 }, (_, i) => ({
              seq: 2000 + b * 20 + i,
              entries: [{ type: 'Observation', id: `plan-${b}-${i}`, patient: 'p' }],
            })),
          ),
          ctx,
        );
      }
      // All 12 batches were written by this session, and none of its statements is kept prepared: the
      // write statement is unnamed, so every batch is parsed and planned with its own parameters.
      expect((await one.query("SELECT count(*)::int AS n FROM fhir_resource_history WHERE resource_id LIKE 'plan-%'")).rows[0].n).toBe(240);
      const prepared = (await one.query("SELECT name FROM pg_prepared_statements WHERE statement LIKE '%fhir_resource_history%'")).rows;
      expect(prepared).toEqual([]);
    } finally {
      await one.end();
    }
  });

  test("a batch held inside its transaction does not hold up the renewal of its worker's leases", async () => {
    const ctx = await shard();
    const blocker = await database.pg.client();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE fhir_resource_history IN SHARE ROW EXCLUSIVE MODE');
    const done = persistBatch(pool, batchOf([{ seq: 80, entries: [{ type: 'Patient', id: 'renewed-meanwhile' }] }]), ctx);
    try {
      await waitFor(
        'the batch waiting inside its transaction for history',
        async () =>
          (
            await db.query(
              "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'relation' AND query LIKE '%fhir_resource_history%' AND xact_start IS NOT NULL",
            )
          ).rows[0],
      );
      // The lease row is not locked yet (the fence comes after the rows): the renewal goes through at once.
      expect((await ctx.leases.renew()).get(ctx.shardId)).toBe(String(ctx.leaseCounter));
    } finally {
      await blocker.query('COMMIT');
      await blocker.end();
    }
    expect(await done).toMatchObject({ written: 1, transactions: 1 });
    expect((await audit(ctx.shardId)).map((a) => [a.seq, a.resource_id, a.outcome])).toEqual([[80, 'renewed-meanwhile', 'written']]);
  });

  test('a partition key holding U+0000 is quarantined escaped, with its exact bytes', async () => {
    const ctx = await shard();
    await persistBatch(pool, batchOf([{ seq: 40, pk: 'p\u0000x', invalid: 'payload is not JSON' }]), ctx);
    const q = (await db.query('SELECT partition_key, partition_key_raw FROM quarantined_record WHERE shard_id = $1', [ctx.shardId]))
      .rows[0];
    expect(q.partition_key).toBe('p\\u0000x');
    expect(Buffer.compare(q.partition_key_raw, Buffer.from('p\u0000x'))).toBe(0);
  });
});
