/**
 * The exactly-once rules of the write path, in this process against real PostgreSQL (a processor in a
 * child process would hide a wrong change from mutation testing): a bisected batch that ends a shard, a
 * write the database refuses for good, a key race that persists, and resuming after a partial commit.
 * Faults are injected by triggers that refuse one named resource or record, so they fire on the row
 * they concern, never on a timer.
 */
import { Client, Pool } from 'pg';
import { BatchContext, BatchProgress, LeaseLostError, persistBatch, UnstorableRecordError } from '../../lib/processor/db/persist';
import { writeTransaction, writeValid } from '../../lib/processor/db/write';
import { ClassifiedBatch, planBatch, QuarantineEntry, RecordRef, ValidEntry, withPlan } from '../../lib/processor/records';
import { patientEntry } from '../helpers/fhir';
import { startDatabase, takeLease, TestDatabase } from './harness';

jest.setTimeout(60_000);

const seqOf = (n: number) => String(n).padStart(12, '0');

/** Records by hand: a resource id each (stored), or a reason to quarantine. `raw` replaces the stored JSON. */
function batchOf(records: { seq: number; id?: string; raw?: string; invalid?: boolean; pk?: string }[]): ClassifiedBatch {
  const valid: ValidEntry[] = [];
  const quarantined: QuarantineEntry[] = [];
  const refs: RecordRef[] = [];
  for (const r of records) {
    const sequenceNumber = seqOf(r.seq);
    const partitionKey = r.pk ?? `pk-${r.seq}`;
    const payload = Buffer.from(`payload-${r.seq}`);
    refs.push({ sequenceNumber, partitionKey, payload });
    if (r.invalid)
      quarantined.push({ sequenceNumber, partitionKey, reason: 'NOT_JSON', detail: 'payload is not JSON (SyntaxError)', payload });
    if (r.id) {
      const entry = patientEntry(sequenceNumber, r.id);
      valid.push(r.raw ? { ...entry, json: r.raw } : entry);
    }
  }
  return planBatch({ valid, quarantined, records: refs });
}

// Valid JSON that jsonb refuses (an escaped NUL, SQLSTATE 22P05): only the database can say no.
const refused = (id: string) => `{"resourceType":"Patient","id":"${id}","name":[{"text":"a\\u0000b"}]}`;

describe('exactly once (real PostgreSQL, in process)', () => {
  let database: TestDatabase;
  let pool: Pool;
  let db: Client;
  let shardNo = 0;

  beforeAll(async () => {
    database = await startDatabase();
    ({ writer: pool, db } = database);
  });
  afterAll(() => database?.stop());

  async function shard(): Promise<BatchContext> {
    const shardId = `once-${++shardNo}`;
    const { counter } = await takeLease(pool, 'once', shardId, { max: 1 });
    return { streamName: 'once', shardId, workerId: 'w1', leaseTtlMs: 30_000, leaseCounter: counter };
  }

  /** A trigger on `table` that raises SQLSTATE `code` (naming `constraint`, if given) for rows matching `when`. */
  async function refuse(name: string, table: string, when: string, code: string, constraint?: string): Promise<() => Promise<void>> {
    const using = constraint ? `ERRCODE = '${code}', CONSTRAINT = '${constraint}'` : `ERRCODE = '${code}'`;
    await db.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected by the test' USING ${using}; END $$;
      CREATE TRIGGER ${name} BEFORE INSERT ON ${table} FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${name}();`);
    return async () => {
      await db.query(`DROP TRIGGER ${name} ON ${table}; DROP FUNCTION ${name}();`);
    };
  }

  const leaseCompleted = async (shardId: string) =>
    (await db.query('SELECT completed FROM shard_lease WHERE shard_id = $1', [shardId])).rows[0].completed as boolean;
  const auditedSequences = async (shardId: string) =>
    (await db.query('SELECT sequence_number::bigint::int AS seq, outcome FROM audit_event WHERE shard_id = $1 ORDER BY id', [shardId]))
      .rows;

  test('the last batch of an ended shard, bisected: the lease is completed only when its last half commits, and a retry resumes after what committed', async () => {
    const ctx = { ...(await shard()), shardEnded: true };
    const batch = batchOf([
      { seq: 1, id: 'end-a', raw: refused('end-a') },
      { seq: 2, id: 'end-b' },
    ]);
    // The second half fails with an error that is not the record's fault (the database went away, say).
    const restore = await refuse('fail_end_b', 'fhir_resource_history', "NEW.resource_id = 'end-b'", '57P01');
    const progress: BatchProgress = { transactions: 0 };
    try {
      await expect(persistBatch(pool, batch, ctx, progress)).rejects.toMatchObject({ code: '57P01' });
    } finally {
      await restore();
    }
    // The first half committed (its record quarantined), the lease is not yet completed: the shard's last record is not stored.
    expect(await database.checkpoint('once', ctx.shardId)).toBe(seqOf(1));
    expect(await leaseCompleted(ctx.shardId)).toBe(false);
    expect(progress.committedThrough).toBe(seqOf(1));

    // The worker retries the same batch with the same progress: only the rest is written, each record audited once.
    const retried = await persistBatch(pool, batch, ctx, progress);
    expect(retried).toMatchObject({ written: 1, quarantined: 0, transactions: 1 });
    expect(await leaseCompleted(ctx.shardId)).toBe(true);
    expect(await database.checkpoint('once', ctx.shardId)).toBe(seqOf(2));
    expect(await auditedSequences(ctx.shardId)).toEqual([
      { seq: 1, outcome: 'UNSTORABLE' },
      { seq: 2, outcome: 'written' },
    ]);
  });

  test('an ended shard with nothing left to write still has its lease completed', async () => {
    const ctx = await shard();
    const batch = batchOf([{ seq: 5, id: 'done-a' }]);
    const progress: BatchProgress = { transactions: 0 };
    await persistBatch(pool, batch, ctx, progress);
    expect(await leaseCompleted(ctx.shardId)).toBe(false);
    const ended = await persistBatch(pool, batchOf([]), { ...ctx, shardEnded: true }, progress);
    expect(ended.transactions).toBe(1);
    expect(await leaseCompleted(ctx.shardId)).toBe(true);
  });

  test('a record the database refuses is quarantined with its real partition key; when that row is refused too, with the key in hex', async () => {
    const ctx = await shard();
    // The ordinary UNSTORABLE row (its detail starts "database rejected") is refused as well: the hex row is the last resort.
    const restore = await refuse('fail_plain_row', 'quarantined_record', "NEW.detail LIKE 'database rejected%'", '22023');
    try {
      const result = await persistBatch(pool, batchOf([{ seq: 10, id: 'hex-a', raw: refused('hex-a'), pk: 'patient-\u00e9' }]), ctx);
      expect(result).toMatchObject({ written: 0, quarantined: 1, quarantinedByReason: { UNSTORABLE: 1 } });
    } finally {
      await restore();
    }
    const rows = (await db.query('SELECT partition_key, reason_code, detail FROM quarantined_record WHERE shard_id = $1', [ctx.shardId]))
      .rows;
    expect(rows).toEqual([
      {
        partition_key: `hex:${Buffer.from('patient-\u00e9').toString('hex')}`,
        reason_code: 'UNSTORABLE',
        detail: expect.stringMatching(/^database refused the record and its quarantine row \(SQLSTATE 22023\)/),
      },
    ]);
    expect(await database.checkpoint('once', ctx.shardId)).toBe(seqOf(10));
  });

  test('a record that cannot be stored even as a hex row stops the shard with UnstorableRecordError, committing nothing', async () => {
    const ctx = await shard();
    const restore = await refuse('fail_every_row', 'quarantined_record', `NEW.shard_id = '${ctx.shardId}'`, '22023');
    try {
      const attempt = persistBatch(pool, batchOf([{ seq: 20, id: 'never', raw: refused('never') }]), ctx);
      await expect(attempt).rejects.toBeInstanceOf(UnstorableRecordError);
      await expect(attempt).rejects.toMatchObject({
        code: '22023',
        message: `record ${seqOf(20)} on ${ctx.shardId} cannot be stored even as a hex quarantine row (SQLSTATE 22023); check quarantined_record constraints`,
      });
    } finally {
      await restore();
    }
    expect(await database.checkpoint('once', ctx.shardId)).toBeUndefined();
    expect(await auditedSequences(ctx.shardId)).toEqual([]);
  });

  test.each(['fhir_resource_history', 'fhir_resource_current'])(
    'a key race that persists (on %s) is retried once with history looked up, then handed back to the worker, never bisected',
    async (table) => {
      const ctx = await shard();
      const restore = await refuse(`race_forever_${table}`, table, "NEW.resource_id = 'raced-forever'", '23505', `${table}_pkey`);
      const progress: BatchProgress = { transactions: 0 };
      try {
        await expect(
          persistBatch(
            pool,
            batchOf([
              { seq: 30, id: 'raced-forever' },
              { seq: 31, id: 'raced-other' },
            ]),
            ctx,
            progress,
          ),
        ).rejects.toMatchObject({
          code: '23505',
          constraint: `${table}_pkey`,
        });
      } finally {
        await restore();
      }
      expect(progress).toMatchObject({ transactions: 2, checkHistory: true });
      expect(await database.checkpoint('once', ctx.shardId)).toBeUndefined();
      expect((await db.query('SELECT count(*)::int AS n FROM quarantined_record WHERE shard_id = $1', [ctx.shardId])).rows[0].n).toBe(0);
    },
  );

  test("a duplicate refused by a constraint other than the resource keys is the record's fault: bisected and quarantined, not retried as a race", async () => {
    const ctx = await shard();
    const restore = await refuse(
      'dup_elsewhere',
      'fhir_resource_history',
      "NEW.resource_id = 'not-a-race'",
      '23505',
      'some_other_unique_index',
    );
    let result;
    try {
      result = await persistBatch(
        pool,
        batchOf([
          { seq: 40, id: 'not-a-race' },
          { seq: 41, id: 'fine' },
        ]),
        ctx,
      );
    } finally {
      await restore();
    }
    expect(result).toMatchObject({ written: 1, quarantined: 1, quarantinedByReason: { UNSTORABLE: 1 } });
    expect((await db.query('SELECT reason_code, detail FROM quarantined_record WHERE shard_id = $1', [ctx.shardId])).rows).toEqual([
      { reason_code: 'UNSTORABLE', detail: 'database rejected the record (SQLSTATE 23505)' },
    ]);
    expect(await auditedSequences(ctx.shardId)).toEqual([
      { seq: 40, outcome: 'UNSTORABLE' },
      { seq: 41, outcome: 'written' },
    ]);
  });

  test('a record already quarantined is audited a duplicate and not counted again', async () => {
    const ctx = await shard();
    // Its quarantine row exists (an earlier run stored it) while the checkpoint is still before it.
    await db.query(
      "INSERT INTO quarantined_record (stream_name, shard_id, sequence_number, partition_key, reason_code, detail, payload) VALUES ('once', $1, $2, 'pk-50', 'NOT_JSON', 'earlier', 'x')",
      [ctx.shardId, seqOf(50)],
    );
    const result = await persistBatch(
      pool,
      batchOf([
        { seq: 50, invalid: true },
        { seq: 51, invalid: true },
      ]),
      ctx,
    );
    expect(result).toEqual({ written: 0, duplicates: 1, stale: 0, quarantined: 1, quarantinedByReason: { NOT_JSON: 1 }, transactions: 1 });
    expect(await auditedSequences(ctx.shardId)).toEqual([
      { seq: 50, outcome: 'duplicate' },
      { seq: 51, outcome: 'NOT_JSON' },
    ]);
  });

  test('the parts of one record (KPL user records, NDJSON lines) are stored, quarantined and audited each at its own position; an empty part or record gets one audit event', async () => {
    const ctx = await shard();
    const [s60, s61] = [seqOf(60), seqOf(61)];
    const payload = Buffer.from('parts');
    const batch = planBatch({
      valid: [
        patientEntry(s60, 'part-kpl', { subSequenceNumber: 1 }),
        patientEntry(s60, 'part-line', { line: 4 }),
        patientEntry(s60, 'part-both', { subSequenceNumber: 2, line: 3 }),
      ],
      quarantined: [
        { sequenceNumber: s60, subSequenceNumber: 5, partitionKey: 'pk-60', reason: 'NOT_JSON', detail: 'not JSON', payload },
        { sequenceNumber: s60, line: 6, partitionKey: 'pk-60', reason: 'NOT_JSON', detail: 'not JSON', payload },
      ],
      emptyRecords: [{ sequenceNumber: s60, subSequenceNumber: 7 }, { sequenceNumber: s61 }],
      records: [
        { sequenceNumber: s60, partitionKey: 'pk-60', payload },
        { sequenceNumber: s61, partitionKey: 'pk-61', payload },
      ],
    });
    const result = await persistBatch(pool, batch, ctx);
    expect(result).toEqual({ written: 3, duplicates: 0, stale: 0, quarantined: 2, quarantinedByReason: { NOT_JSON: 2 }, transactions: 1 });
    const events = await db.query(
      `SELECT sequence_number::bigint::int AS seq, sub_sequence_number AS sub, line_number AS line, outcome, resource_id AS id
       FROM audit_event WHERE shard_id = $1 ORDER BY sequence_number, sub_sequence_number, line_number`,
      [ctx.shardId],
    );
    expect(events.rows).toEqual([
      { seq: 60, sub: 0, line: 4, outcome: 'written', id: 'part-line' },
      { seq: 60, sub: 0, line: 6, outcome: 'NOT_JSON', id: null },
      { seq: 60, sub: 1, line: 0, outcome: 'written', id: 'part-kpl' },
      { seq: 60, sub: 2, line: 3, outcome: 'written', id: 'part-both' },
      { seq: 60, sub: 5, line: 0, outcome: 'NOT_JSON', id: null },
      { seq: 60, sub: 7, line: 0, outcome: 'no-resources', id: null },
      { seq: 61, sub: 0, line: 0, outcome: 'no-resources', id: null },
    ]);
    const stored = await db.query(
      `SELECT resource_id AS id, sub_sequence_number AS sub, line_number AS line FROM fhir_resource_current
       WHERE resource_id LIKE 'part-%' ORDER BY resource_id`,
    );
    expect(stored.rows).toEqual([
      { id: 'part-both', sub: 2, line: 3 },
      { id: 'part-kpl', sub: 1, line: 0 },
      { id: 'part-line', sub: 0, line: 4 },
    ]);
    expect(await database.checkpoint('once', ctx.shardId)).toBe(s61);
  });

  test('a batch retried after it committed in full writes nothing and costs no transaction', async () => {
    const ctx = await shard();
    const batch = batchOf([{ seq: 70, id: 'retried-a' }]);
    const progress: BatchProgress = { transactions: 0 };
    expect(await persistBatch(pool, batch, ctx, progress)).toMatchObject({ written: 1, transactions: 1 });
    expect(await persistBatch(pool, batch, ctx, progress)).toEqual({
      written: 0,
      duplicates: 0,
      stale: 0,
      quarantined: 0,
      quarantinedByReason: {},
      transactions: 0,
    });
    expect(await auditedSequences(ctx.shardId)).toEqual([{ seq: 70, outcome: 'written' }]);
  });

  test('a quarantine row the database refuses is quarantined UNSTORABLE, naming the reason of the row it replaces', async () => {
    const ctx = await shard();
    const restore = await refuse('fail_not_json_row', 'quarantined_record', "NEW.reason_code = 'NOT_JSON'", '22023');
    try {
      const result = await persistBatch(pool, batchOf([{ seq: 80, invalid: true }]), ctx);
      expect(result).toMatchObject({ quarantined: 1, quarantinedByReason: { UNSTORABLE: 1 }, transactions: 2 });
    } finally {
      await restore();
    }
    const rows = (await db.query('SELECT partition_key, reason_code, detail FROM quarantined_record WHERE shard_id = $1', [ctx.shardId]))
      .rows;
    expect(rows).toEqual([
      { partition_key: 'pk-80', reason_code: 'UNSTORABLE', detail: 'database rejected its quarantine row (NOT_JSON) (SQLSTATE 22023)' },
    ]);
  });

  test('a connection lost while the UNSTORABLE row is written goes back to the worker as it is (retried, not reported unstorable)', async () => {
    const ctx = await shard();
    const restore = await refuse('lost_at_quarantine', 'quarantined_record', `NEW.shard_id = '${ctx.shardId}'`, '57P01');
    const progress: BatchProgress = { transactions: 0 };
    let failure: unknown;
    try {
      failure = await persistBatch(pool, batchOf([{ seq: 90, id: 'lost', raw: refused('lost') }]), ctx, progress).catch((e: unknown) => e);
    } finally {
      await restore();
    }
    expect(failure).toMatchObject({ code: '57P01' });
    expect(failure).not.toBeInstanceOf(UnstorableRecordError);
    // The batch, then the one UNSTORABLE row: no hex row is tried for a fault that is not the record's.
    expect(progress.transactions).toBe(2);
    expect(await database.checkpoint('once', ctx.shardId)).toBeUndefined();
  });

  test('a lost lease is no reason to reconnect: the session goes back to the pool', async () => {
    const one = new Pool({ ...database.pg.settings({ role: 'fhir_writer' }), max: 1 });
    try {
      const ctx = await shard();
      const pid = async () => (await one.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      const before = await pid();
      await expect(persistBatch(one, batchOf([{ seq: 95, id: 'fenced' }]), { ...ctx, leaseCounter: '999' })).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      expect(await pid()).toBe(before);
    } finally {
      await one.end();
    }
  });

  test('a re-driven entry is stored at the stream position it was first read at, and its audit event carries its note', async () => {
    const json = JSON.stringify({ resourceType: 'Device', id: 'redriven-dev' });
    const [entry] = withPlan([
      {
        sequenceNumber: seqOf(100),
        entryIndex: 0,
        resourceType: 'Device',
        id: 'redriven-dev',
        patientId: 'pk-100',
        patientFromPartitionKey: true,
        json,
        origin: { streamName: 'first-stream', shardId: 'first-shard', note: 'from quarantine row 7 (INVALID_FHIR)' },
      },
    ]);
    const outcomes = await writeTransaction(pool, { transactions: 0 }, (client, checkHistory) =>
      writeValid(client, [entry], { actor: 'ops/redrive', action: 'redrive' }, checkHistory),
    );
    expect(outcomes).toEqual({ written: 1 });
    const stored = await db.query(
      "SELECT stream_name, shard_id, sequence_number::bigint::int AS seq FROM fhir_resource_history WHERE resource_id = 'redriven-dev'",
    );
    expect(stored.rows).toEqual([{ stream_name: 'first-stream', shard_id: 'first-shard', seq: 100 }]);
    const event = await db.query("SELECT actor, action, stream_name, shard_id, detail FROM audit_event WHERE resource_id = 'redriven-dev'");
    expect(event.rows).toEqual([
      {
        actor: 'ops/redrive',
        action: 'redrive',
        stream_name: 'first-stream',
        shard_id: 'first-shard',
        detail: 'from quarantine row 7 (INVALID_FHIR); no patient in the resource: patient id is the partition key',
      },
    ]);
  });
});
