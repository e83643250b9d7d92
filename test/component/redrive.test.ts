import { createHash } from 'crypto';
import { spawnSync } from 'child_process';
import { join } from 'path';
import { Client, Pool } from 'pg';
import { LeaseStore } from '../../lib/processor/db/leases';
import { BatchContext, persistBatch } from '../../lib/processor/db/persist';
import { canonicalJson } from '../../lib/processor/fhir/exact-json';
import { validateRecord } from '../../lib/processor/fhir/validate';
import { classify, RecordValidator } from '../../lib/processor/records';
import { RedriveOptions } from '../../lib/processor/tasks/redrive/options';
import { currentValidator, redrive, RedriveContext, RedriveSummary, RedriveValidator } from '../../lib/processor/tasks/redrive/redrive';
import { databaseEnv, LocalPostgres, migrateSchema, startPostgres } from './harness';
import { TS_HOOK } from '../../scripts/shared/child';

jest.setTimeout(120_000);

/** A deliberately strict validator: today's rules, and it also refuses any record tagged `strict`. */
const strict: RecordValidator = (data, max) => {
  const result = validateRecord(data, max);
  const tagged = (value: unknown) => JSON.stringify((value as { meta?: unknown }).meta ?? {}).includes('"code":"strict"');
  if (result.ok && (tagged(JSON.parse(Buffer.from(data).toString('utf8'))) || result.resources.some((r) => tagged(JSON.parse(r.json))))) {
    return { ok: false, reason: 'INVALID_FHIR', detail: 'meta.tag: refused by the strict test validator' };
  }
  return result;
};
const STRICT: RedriveValidator = { id: 'strict-test-v1', maxRecordBytes: 262_144, validate: strict };
const RELAXED = currentValidator(1_048_576);
const TAG = { tag: [{ system: 'https://example.org/test', code: 'strict' }] };

const patient = (id: string, extra: object = {}) => ({
  resourceType: 'Patient',
  id,
  name: [{ family: 'Okafor', given: ['Amara'] }],
  birthDate: '1980-04-12',
  ...extra,
});
const observation = (id: string, subject: string, extra: object = {}) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { text: 'Heart rate' },
  subject: { reference: subject },
  ...extra,
});
const rec = (resource: object, pk: string) => ({ pk, data: Buffer.from(JSON.stringify(resource)) });

describe('re-drive of quarantined records (real PostgreSQL)', () => {
  let pg: LocalPostgres;
  let pool: Pool;
  let db: Client;
  let shardNo = 0;
  let seq = 1_000;

  beforeAll(async () => {
    pg = await startPostgres();
    await migrateSchema(pg);
    pool = new Pool({ ...pg.settings({ role: 'fhir_writer' }), max: 4 });
    pool.on('error', () => undefined);
    db = await pg.client();
  });
  afterAll(async () => {
    await pool?.end();
    await db?.end();
    await pg?.stop();
  });

  /** A fresh shard whose lease this test holds, as the processor would. */
  async function shard(): Promise<BatchContext> {
    const shardId = `shardId-${String(++shardNo).padStart(12, '0')}`;
    const leases = new LeaseStore(pool, 'redrive-test', 'processor-1', 30_000);
    await leases.syncShards([{ shardId, parentShardIds: [] }]);
    const taken = await leases.acquire(1);
    return { streamName: 'redrive-test', shardId, workerId: 'processor-1', leaseTtlMs: 30_000, leaseCounter: taken.get(shardId)! };
  }

  /** Records through the processor's own path (classify + persistBatch) with the given validator; returns their sequence numbers. */
  async function ingest(
    records: Array<{ pk: string; data: Buffer }>,
    validate: RecordValidator = validateRecord,
    ctx?: BatchContext,
  ): Promise<string[]> {
    const numbers = records.map(() => String(++seq).padStart(21, '0'));
    const batch = classify(
      records.map((r, i) => ({ SequenceNumber: numbers[i], PartitionKey: r.pk, Data: r.data })),
      262_144,
      validate,
    );
    await persistBatch(pool, batch, ctx ?? (await shard()));
    return numbers;
  }

  const run = (validator: RedriveValidator, options: Partial<RedriveOptions> = {}, extra: Partial<RedriveContext> = {}) =>
    redrive(pool, { dryRun: false, batchSize: 100, ...options }, { actor: 'ops/redrive', streamName: 'redrive-test', validator, ...extra });

  const quarantined = async (sequenceNumber: string) =>
    (await db.query('SELECT * FROM quarantined_record WHERE sequence_number = $1', [sequenceNumber])).rows[0];
  const auditAt = async (sequenceNumber: string) =>
    (
      await db.query(
        'SELECT actor, action, outcome, resource_type, resource_id, entry_index, detail FROM audit_event WHERE sequence_number = $1 ORDER BY id',
        [sequenceNumber],
      )
    ).rows;
  const current = async (type: string, id: string) =>
    (
      await db.query(
        "SELECT resource->>'gender' AS gender, sequence_number, patient_id FROM fhir_resource_current WHERE resource_type = $1 AND resource_id = $2",
        [type, id],
      )
    ).rows[0];
  /** Everything the re-drive could change, as digests: equal snapshots mean nothing changed. */
  const snapshot = async () =>
    (
      await db.query(`SELECT
      (SELECT count(*) FROM fhir_resource_history)::int AS history, (SELECT count(*) FROM fhir_resource_current)::int AS current,
      (SELECT count(*) FROM quarantined_record)::int AS quarantined, (SELECT count(*) FROM audit_event)::int AS audit,
      (SELECT md5(string_agg(q::text, '|' ORDER BY id)) FROM quarantined_record q) AS quarantine_digest,
      (SELECT md5(string_agg(c::text, '|' ORDER BY resource_type, resource_id)) FROM fhir_resource_current c) AS current_digest`)
    ).rows[0];
  /** Closes the rows earlier tests left pending (as the owner), so each test re-drives only its own records. */
  const settle = () =>
    db.query("UPDATE quarantined_record SET redriven_at = now(), redrive_outcome = 'settled-by-test' WHERE redriven_at IS NULL");

  beforeEach(async () => {
    await settle();
  });

  test('a record quarantined by a deliberately strict validator is re-driven once the validator is relaxed; the row is kept and marked', async () => {
    const [qp, qo, ok] = await ingest(
      [
        rec(patient('rd-p1', { meta: TAG }), 'rd-p1'),
        rec(observation('rd-o1', 'Patient/rd-p1', { meta: TAG }), 'rd-p1'),
        rec(patient('rd-p2'), 'rd-p2'),
      ],
      strict,
    );
    expect((await quarantined(qp)).reason_code).toBe('INVALID_FHIR');
    expect(await quarantined(ok)).toBeUndefined();

    // The strict validator still refuses them: attempts recorded and audited, nothing persisted.
    const refused = await run(STRICT);
    expect(refused).toMatchObject({
      examined: 2,
      redriven: 0,
      stillQuarantined: 2,
      byReason: { INVALID_FHIR: { examined: 2, redriven: 0, stillQuarantined: 2 } },
    });
    expect(await quarantined(qp)).toMatchObject({
      redriven_at: null,
      redrive_validator: 'strict-test-v1',
      redrive_outcome: 'INVALID_FHIR',
      redrive_detail: 'meta.tag: refused by the strict test validator',
    });
    expect((await auditAt(qp)).map((a) => [a.action, a.outcome])).toEqual([
      ['quarantine', 'INVALID_FHIR'],
      ['redrive', 'still-quarantined'],
    ]);
    // The same validator again: it examines (and audits) nothing.
    const before = await snapshot();
    expect(await run(STRICT)).toMatchObject({ examined: 0, pending: 0 });
    expect(await snapshot()).toEqual(before);

    const summary = await run(RELAXED);
    expect(summary).toMatchObject({
      dryRun: false,
      examined: 2,
      redriven: 2,
      stillQuarantined: 0,
      entries: { written: 2 },
      pending: 0,
      byReason: { INVALID_FHIR: { examined: 2, redriven: 2, stillQuarantined: 0 } },
    });
    const row = await quarantined(qp);
    // Kept byte for byte, marked in place.
    expect(Buffer.compare(row.payload, Buffer.from(JSON.stringify(patient('rd-p1', { meta: TAG }))))).toBe(0);
    expect(row).toMatchObject({
      reason_code: 'INVALID_FHIR',
      redrive_outcome: 'redriven',
      redrive_actor: 'ops/redrive',
      redrive_validator: RELAXED.id,
      redrive_detail: null,
    });
    expect(row.redriven_at).toBeInstanceOf(Date);
    // Exactly the rows the processor would have stored, at the record's original stream position.
    const history = (
      await db.query(`SELECT resource_type, resource_id, patient_id, patient_from_partition_key, stream_name, shard_id, sequence_number, entry_index,
      encode(content_hash, 'hex') AS hash FROM fhir_resource_history WHERE resource_id IN ('rd-p1', 'rd-o1') ORDER BY resource_id`)
    ).rows;
    // The history key: SHA-256 of the resource's canonical text (jsonb's text form of it).
    const sha = (r: object) =>
      createHash('sha256')
        .update(canonicalJson(r, null, true))
        .digest('hex');
    expect(history).toEqual([
      {
        resource_type: 'Observation',
        resource_id: 'rd-o1',
        patient_id: 'rd-p1',
        patient_from_partition_key: false,
        stream_name: 'redrive-test',
        shard_id: row.shard_id,
        sequence_number: qo,
        entry_index: 0,
        hash: sha(observation('rd-o1', 'Patient/rd-p1', { meta: TAG })),
      },
      {
        resource_type: 'Patient',
        resource_id: 'rd-p1',
        patient_id: 'rd-p1',
        patient_from_partition_key: false,
        stream_name: 'redrive-test',
        shard_id: row.shard_id,
        sequence_number: qp,
        entry_index: 0,
        hash: sha(patient('rd-p1', { meta: TAG })),
      },
    ]);
    expect(await current('Patient', 'rd-p1')).toMatchObject({ sequence_number: qp, patient_id: 'rd-p1' });
    expect(await auditAt(qp)).toEqual([
      expect.objectContaining({ action: 'quarantine', outcome: 'INVALID_FHIR' }),
      expect.objectContaining({ action: 'redrive', outcome: 'still-quarantined', actor: 'ops/redrive' }),
      {
        actor: 'ops/redrive',
        action: 'redrive',
        outcome: 'written',
        resource_type: 'Patient',
        resource_id: 'rd-p1',
        entry_index: 0,
        detail: `from quarantine row ${row.id} (INVALID_FHIR)`,
      },
    ]);
    // Counts only: nothing from a record reaches the summary.
    expect(JSON.stringify(summary)).not.toMatch(/rd-p1|rd-o1|Okafor|Amara|1980-04-12/);
  });

  test('stores what the processor stores, column for column (history, current), apart from identity and position', async () => {
    const shape = (id: string) =>
      observation(id, 'Group/g7', { meta: { versionId: '3', lastUpdated: '2026-04-01T10:00:00Z' }, valueString: 'same shape' });
    await ingest([rec(shape('par-persisted'), 'par-pk')]);
    await ingest(
      [rec({ ...shape('par-redriven'), meta: { ...TAG, versionId: '3', lastUpdated: '2026-04-01T10:00:00Z' } }, 'par-pk')],
      strict,
    );
    await run(RELAXED);
    // Every column, so a column the processor starts to fill is noticed here.
    const identity = ['resource_id', 'resource', 'content_hash', 'shard_id', 'sequence_number', 'ingested_at', 'updated_at'];
    for (const table of ['fhir_resource_history', 'fhir_resource_current']) {
      const rows = (await db.query(`SELECT * FROM ${table} WHERE resource_id IN ('par-persisted', 'par-redriven') ORDER BY resource_id`))
        .rows;
      expect(rows).toHaveLength(2);
      const [persisted, redriven] = rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !identity.includes(k))));
      expect({ table, ...redriven }).toEqual({ table, ...persisted });
      expect(persisted).toMatchObject({ patient_id: 'par-pk', patient_from_partition_key: true, version_id: '3' });
    }
  });

  test('a record still invalid stays quarantined: its attempt is audited once per validator, not on every run', async () => {
    const badDate = patient('rd-bad', { birthDate: '2023-02-30' });
    const [nj, bd] = await ingest([{ pk: 'rd-x', data: Buffer.from('{"resourceType": "Patient", "id": ') }, rec(badDate, 'rd-bad')]);
    const first = await run(RELAXED);
    expect(first).toMatchObject({
      examined: 2,
      redriven: 0,
      stillQuarantined: 2,
      entries: {},
      byReason: { INVALID_FHIR: { stillQuarantined: 1 }, NOT_JSON: { stillQuarantined: 1 } },
    });
    expect(await quarantined(nj)).toMatchObject({
      reason_code: 'NOT_JSON',
      redriven_at: null,
      redrive_outcome: 'NOT_JSON',
      redrive_validator: RELAXED.id,
    });
    expect((await quarantined(bd)).redrive_detail).toMatch(/^Patient\.birthDate/);
    expect((await auditAt(bd)).map((a) => a.outcome)).toEqual(['INVALID_FHIR', 'still-quarantined']);
    expect((await auditAt(bd))[1].detail).toMatch(/^quarantine row \d+ \(INVALID_FHIR\) still fails: INVALID_FHIR: Patient\.birthDate/);
    expect((await db.query("SELECT count(*)::int AS n FROM fhir_resource_history WHERE resource_id = 'rd-bad'")).rows[0].n).toBe(0);

    const before = await snapshot();
    expect(await run(RELAXED)).toMatchObject({ examined: 0, stillQuarantined: 0 });
    expect(await snapshot()).toEqual(before);

    // Another validator build examines them again, once.
    const next: RedriveValidator = { ...RELAXED, id: `${RELAXED.id}-next` };
    expect(await run(next)).toMatchObject({ examined: 2, stillQuarantined: 2 });
    expect(await run(next)).toMatchObject({ examined: 0 });
    expect((await auditAt(bd)).map((a) => a.outcome)).toEqual(['INVALID_FHIR', 'still-quarantined', 'still-quarantined']);
  });

  test('the original stream position and meta order a re-driven version: current when newest, history only when a newer one is current', async () => {
    const ctx = await shard();
    // A: quarantined first, a newer version stored later; B: stored first, a newer version quarantined.
    const [a1] = await ingest([rec(patient('ord-a', { gender: 'female', meta: TAG }), 'ord-a')], strict, ctx);
    const [a2] = await ingest([rec(patient('ord-a', { gender: 'male' }), 'ord-a')], strict, ctx);
    await ingest([rec(patient('ord-b', { gender: 'female' }), 'ord-b')], strict, ctx);
    const [b2] = await ingest([rec(patient('ord-b', { gender: 'male', meta: TAG }), 'ord-b')], strict, ctx);
    // C: the quarantined version arrived first but has the later lastUpdated, which wins over arrival.
    const [c1] = await ingest(
      [rec(patient('ord-c', { gender: 'other', meta: { ...TAG, lastUpdated: '2026-03-02T00:00:00Z' } }), 'ord-c')],
      strict,
      ctx,
    );
    await ingest([rec(patient('ord-c', { gender: 'unknown', meta: { lastUpdated: '2026-03-01T00:00:00Z' } }), 'ord-c')], strict, ctx);

    const summary = await run(RELAXED);
    expect(summary).toMatchObject({ examined: 3, redriven: 3, entries: { written: 2, 'stale-version-history-only': 1 } });
    expect(await current('Patient', 'ord-a')).toMatchObject({ gender: 'male', sequence_number: a2 });
    expect((await auditAt(a1)).map((a) => a.outcome)).toEqual(['INVALID_FHIR', 'stale-version-history-only']);
    expect(await current('Patient', 'ord-b')).toMatchObject({ gender: 'male', sequence_number: b2 });
    expect((await auditAt(b2)).map((a) => a.outcome)).toEqual(['INVALID_FHIR', 'written']);
    expect(await current('Patient', 'ord-c')).toMatchObject({ gender: 'other', sequence_number: c1 });
    for (const id of ['ord-a', 'ord-b', 'ord-c']) {
      expect((await db.query('SELECT count(*)::int AS n FROM fhir_resource_history WHERE resource_id = $1', [id])).rows[0].n).toBe(2);
    }
  });

  test('a Bundle quarantined whole is re-driven entry by entry; an empty one gets its one audit event', async () => {
    const patientUrl = 'urn:uuid:3f1c2a8e-9b7d-4c6e-8a5f-1d2e3c4b5a69';
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      meta: TAG,
      entry: [
        {
          fullUrl: patientUrl,
          resource: { resourceType: 'Patient', name: [{ family: 'Novak' }] },
          request: { method: 'POST', url: 'Patient' },
        },
        { resource: observation('bd-o1', patientUrl), request: { method: 'POST', url: 'Observation' } },
        { resource: observation('bd-o2', 'Group/g1'), request: { method: 'POST', url: 'Observation' } },
      ],
    };
    const [b, e] = await ingest([rec(bundle, 'bd-pk'), rec({ resourceType: 'Bundle', type: 'collection', meta: TAG }, 'bd-pk')], strict);
    const summary = await run(RELAXED);
    expect(summary).toMatchObject({ examined: 2, redriven: 2, entries: { written: 3, 'no-resources': 1 } });
    const rows = (
      await db.query(
        'SELECT resource_type, resource_id, entry_index, patient_id, patient_from_partition_key FROM fhir_resource_history WHERE sequence_number = $1 ORDER BY entry_index',
        [b],
      )
    ).rows;
    expect(rows).toEqual([
      {
        resource_type: 'Patient',
        resource_id: '3f1c2a8e-9b7d-4c6e-8a5f-1d2e3c4b5a69',
        entry_index: 0,
        patient_id: '3f1c2a8e-9b7d-4c6e-8a5f-1d2e3c4b5a69',
        patient_from_partition_key: false,
      },
      {
        resource_type: 'Observation',
        resource_id: 'bd-o1',
        entry_index: 1,
        patient_id: '3f1c2a8e-9b7d-4c6e-8a5f-1d2e3c4b5a69',
        patient_from_partition_key: false,
      },
      { resource_type: 'Observation', resource_id: 'bd-o2', entry_index: 2, patient_id: 'bd-pk', patient_from_partition_key: true },
    ]);
    const audit = (await auditAt(b)).filter((a) => a.action === 'redrive');
    expect(audit.map((a) => [a.outcome, a.entry_index])).toEqual([
      ['written', 0],
      ['written', 1],
      ['written', 2],
    ]);
    expect(audit[2].detail).toMatch(/; no patient in the resource: patient id is the partition key$/);
    expect((await auditAt(e)).map((a) => [a.action, a.outcome])).toEqual([
      ['quarantine', 'INVALID_FHIR'],
      ['redrive', 'no-resources'],
    ]);
    expect((await quarantined(e)).redrive_outcome).toBe('redriven');
  });

  test('a dry run counts what would pass and writes nothing but the one audit event of its read; the real run then does what it said', async () => {
    await ingest(
      [
        rec(patient('dry-1', { meta: TAG }), 'dry-1'),
        rec(patient('dry-2', { meta: TAG }), 'dry-2'),
        { pk: 'dry-x', data: Buffer.from('not json') },
      ],
      strict,
    );
    const before = await snapshot();
    const dry = await run(RELAXED, { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, examined: 3, redriven: 2, stillQuarantined: 1, entries: {}, pending: 3 });
    const after = await snapshot();
    expect({ ...after, audit: after.audit - 1 }).toEqual(before);
    const read = (
      await db.query('SELECT actor, action, outcome, resource_id, sequence_number, detail FROM audit_event ORDER BY id DESC LIMIT 1')
    ).rows[0];
    expect(read).toEqual({
      actor: 'ops/redrive',
      action: 'read',
      outcome: 'redrive-dry-run',
      resource_id: null,
      sequence_number: null,
      detail: `dry-run re-drive examined 3 quarantined records with validator ${RELAXED.id}: 2 would pass; counts only`,
    });
    const real = await run(RELAXED);
    expect({ examined: real.examined, redriven: real.redriven, stillQuarantined: real.stillQuarantined }).toEqual({
      examined: 3,
      redriven: 2,
      stillQuarantined: 1,
    });
  });

  test('idempotent: a second run changes nothing (rows, audit events, quarantine marks)', async () => {
    await ingest(
      [
        rec(patient('idem-1', { meta: TAG }), 'idem-1'),
        rec(observation('idem-o', 'Patient/idem-1', { meta: TAG }), 'idem-1'),
        { pk: 'idem-x', data: Buffer.from([0xff, 0xfe]) },
        rec(patient('idem-2'), 'idem-2'),
      ],
      strict,
    );
    const first = await run(RELAXED, { batchSize: 2 });
    expect(first).toMatchObject({ examined: 3, redriven: 2, stillQuarantined: 1, batches: 2 });
    const before = await snapshot();
    const second = await run(RELAXED, { batchSize: 2 });
    expect(second).toMatchObject({ examined: 0, redriven: 0, stillQuarantined: 0, batches: 0, pending: 0 });
    expect(await snapshot()).toEqual(before);
  });

  test('a crash mid-run loses nothing: committed batches stay, the rest is re-driven by the next run, each record once', async () => {
    const numbers = await ingest(
      Array.from({ length: 6 }, (_, i) => rec(patient(`crash-${i}`, { meta: TAG }), `crash-${i}`)),
      strict,
    );
    const crash = run(
      RELAXED,
      { batchSize: 2 },
      {
        beforeCommit: async (b) => {
          if (b.number === 2) throw new Error('simulated crash before COMMIT');
        },
      },
    );
    await expect(crash).rejects.toThrow('simulated crash before COMMIT');
    const marked = (
      await db.query(
        'SELECT sequence_number FROM quarantined_record WHERE sequence_number = ANY($1) AND redriven_at IS NOT NULL ORDER BY 1',
        [numbers],
      )
    ).rows;
    expect(marked.map((r) => r.sequence_number)).toEqual(numbers.slice(0, 2));
    expect((await db.query("SELECT count(*)::int AS n FROM fhir_resource_history WHERE resource_id LIKE 'crash-%'")).rows[0].n).toBe(2);

    expect(await run(RELAXED, { batchSize: 2 })).toMatchObject({ examined: 4, redriven: 4 });
    const events = (
      await db.query(
        `SELECT sequence_number, count(*)::int AS n FROM audit_event WHERE action = 'redrive' AND sequence_number = ANY($1) GROUP BY 1 ORDER BY 1`,
        [numbers],
      )
    ).rows;
    expect(events).toEqual(numbers.map((n) => ({ sequence_number: n, n: 1 })));
    expect((await db.query("SELECT count(*)::int AS n FROM fhir_resource_history WHERE resource_id LIKE 'crash-%'")).rows[0].n).toBe(6);
  });

  test('a connection lost before COMMIT is retried: the batch is done again from the start, each record once', async () => {
    const numbers = await ingest(
      Array.from({ length: 4 }, (_, i) => rec(patient(`lost-${i}`, { meta: TAG }), `lost-${i}`)),
      strict,
    );
    const retries: string[] = [];
    let killed = 0;
    const summary = await run(
      RELAXED,
      { batchSize: 2 },
      {
        onRetry: (error) => retries.push((error as Error).message),
        // The re-drive's session is idle in its transaction here: end it from outside, as a failover would.
        beforeCommit: async (b) => {
          if (b.number !== 2 || killed++ > 0) return;
          const ended = (
            await db.query(
              "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = 'fhir'",
            )
          ).rows;
          expect(ended).toEqual([{ ok: true }]);
        },
      },
    );
    expect(killed).toBe(2);
    expect(retries).toHaveLength(1);
    expect(summary).toMatchObject({ examined: 4, redriven: 4, entries: { written: 4 } });
    const events = (
      await db.query(
        `SELECT sequence_number, count(*)::int AS n FROM audit_event WHERE action = 'redrive' AND sequence_number = ANY($1) GROUP BY 1 ORDER BY 1`,
        [numbers],
      )
    ).rows;
    expect(events).toEqual(numbers.map((n) => ({ sequence_number: n, n: 1 })));
  });

  test('two re-drives at once never take the same record: the second skips rows the first holds', async () => {
    const numbers = await ingest(
      Array.from({ length: 4 }, (_, i) => rec(patient(`twice-${i}`, { meta: TAG }), `twice-${i}`)),
      strict,
    );
    let second: RedriveSummary | undefined;
    const first = await run(
      RELAXED,
      { batchSize: 2 },
      {
        actor: 'ops/first',
        // While the first holds its first batch (rows locked, uncommitted), the second runs to completion.
        beforeCommit: async (b) => {
          if (b.number === 1) second = await run(RELAXED, { batchSize: 2 }, { actor: 'ops/second' });
        },
      },
    );
    expect(second).toMatchObject({ examined: 2, redriven: 2, pending: 2 });
    expect(first).toMatchObject({ examined: 2, redriven: 2, pending: 0 });
    const actors = (
      await db.query('SELECT sequence_number, redrive_actor FROM quarantined_record WHERE sequence_number = ANY($1) ORDER BY 1', [numbers])
    ).rows;
    expect(actors.map((r) => r.redrive_actor)).toEqual(['ops/first', 'ops/first', 'ops/second', 'ops/second']);
    const events = (
      await db.query(
        `SELECT count(*)::int AS n, count(DISTINCT sequence_number)::int AS d FROM audit_event WHERE action = 'redrive' AND sequence_number = ANY($1)`,
        [numbers],
      )
    ).rows[0];
    expect(events).toEqual({ n: 4, d: 4 });
  });

  test('--reason, --since and --limit select what is examined', async () => {
    await ingest([{ pk: 'f-1', data: Buffer.from('nope') }, rec(patient('f-2', { meta: TAG }), 'f-2')], strict);
    const between = (await db.query('SELECT clock_timestamp() AS t')).rows[0].t as Date;
    await ingest([rec(patient('f-3', { meta: TAG }), 'f-3'), rec(patient('f-4', { meta: TAG }), 'f-4')], strict);

    expect(await run(RELAXED, { dryRun: true, reason: 'NOT_JSON' })).toMatchObject({
      examined: 1,
      byReason: { NOT_JSON: { examined: 1 } },
      filters: { reason: 'NOT_JSON' },
      pending: 1,
    });
    expect(await run(RELAXED, { dryRun: true, since: between })).toMatchObject({
      examined: 2,
      redriven: 2,
      filters: { since: between.toISOString() },
      pending: 2,
    });
    const limited = await run(RELAXED, { limit: 1, batchSize: 100 });
    expect(limited).toMatchObject({ examined: 1, batches: 1, filters: { limit: 1 }, pending: 3 });
    expect(await run(RELAXED, { reason: 'INVALID_FHIR', since: between })).toMatchObject({ examined: 2, redriven: 2 });
    expect(await run(RELAXED)).toMatchObject({ examined: 1, redriven: 1, stillQuarantined: 0, pending: 0 });
  });

  test('a record the database refuses on its own stays quarantined (UNSTORABLE attempt); the rest of its batch is re-driven', async () => {
    // No patient in the resource and a partition key with U+0000: the processor quarantined it as UNSTORABLE.
    const [bad] = await ingest([rec(observation('nul-o', 'Group/g1'), 'nul\u0000pk')]);
    const first = await quarantined(bad);
    expect(first).toMatchObject({ reason_code: 'UNSTORABLE', partition_key: 'nul\\u0000pk' });
    expect(first.partition_key_raw).toEqual(Buffer.from('nul\u0000pk'));
    const [good] = await ingest([rec(patient('nul-ok', { meta: TAG }), 'nul-ok')], strict);

    const summary = await run(RELAXED);
    expect(summary).toMatchObject({
      examined: 2,
      redriven: 1,
      stillQuarantined: 1,
      byReason: { UNSTORABLE: { stillQuarantined: 1 }, INVALID_FHIR: { redriven: 1 } },
    });
    expect(await quarantined(bad)).toMatchObject({
      redriven_at: null,
      redrive_outcome: 'UNSTORABLE',
      redrive_detail: expect.stringMatching(/^database refused the re-driven rows \(SQLSTATE 22\w{3}\)$/),
    });
    expect((await quarantined(good)).redrive_outcome).toBe('redriven');
    expect(await run(RELAXED)).toMatchObject({ examined: 0 });
  });

  test("a key race (the processor's writer path): history holds the content but current lost its row; the re-drive looks history up and audits a duplicate", async () => {
    const [quarantinedSeq] = await ingest([rec(patient('rd-kr', { meta: TAG }), 'rd-kr')], strict);
    await ingest([rec(patient('rd-kr', { meta: TAG }), 'rd-kr')]);
    // An operator removed the current row; history keeps its row (history is append-only).
    await db.query("DELETE FROM fhir_resource_current WHERE resource_id = 'rd-kr'");
    const summary = await run(RELAXED);
    expect(summary).toMatchObject({ examined: 1, redriven: 1, stillQuarantined: 0, entries: { duplicate: 1 } });
    expect(await quarantined(quarantinedSeq)).toMatchObject({ redrive_outcome: 'redriven' });
    expect((await auditAt(quarantinedSeq)).map((a) => [a.action, a.outcome])).toEqual([
      ['quarantine', 'INVALID_FHIR'],
      ['redrive', 'duplicate'],
    ]);
    expect((await db.query("SELECT count(*)::int AS n FROM fhir_resource_history WHERE resource_id = 'rd-kr'")).rows[0].n).toBe(1);
  });

  test('a last-resort row (partition key hex-encoded) is re-driven with its real partition key', async () => {
    await db.query("ALTER TABLE quarantined_record ADD CONSTRAINT test_refuse_evil CHECK (partition_key NOT LIKE 'evil%') NOT VALID");
    let numbers: string[];
    try {
      numbers = await ingest([rec(observation('hex-o', 'Group/g1', { meta: TAG }), 'evil-7')], strict);
    } finally {
      await db.query('ALTER TABLE quarantined_record DROP CONSTRAINT test_refuse_evil');
    }
    expect(await quarantined(numbers[0])).toMatchObject({
      reason_code: 'UNSTORABLE',
      partition_key: `hex:${Buffer.from('evil-7').toString('hex')}`,
      detail: expect.stringMatching(/partition key hex-encoded$/),
    });
    expect(await run(RELAXED)).toMatchObject({ redriven: 1 });
    expect(
      (await db.query("SELECT patient_id, patient_from_partition_key FROM fhir_resource_current WHERE resource_id = 'hex-o'")).rows[0],
    ).toEqual({ patient_id: 'evil-7', patient_from_partition_key: true });
  });

  test('the writer may set only the re-drive columns; what was received stays as received even for the owner; a re-driven row is final', async () => {
    const [n, x] = await ingest([rec(patient('guard-1', { meta: TAG }), 'guard-1'), { pk: 'guard-x', data: Buffer.from('x') }], strict);
    const writer = new Client(pg.settings({ role: 'fhir_writer' }));
    await writer.connect();
    try {
      await expect(writer.query("UPDATE quarantined_record SET payload = '\\x00' WHERE sequence_number = $1", [n])).rejects.toThrow(
        /permission denied/,
      );
      await expect(writer.query("UPDATE quarantined_record SET reason_code = 'X' WHERE sequence_number = $1", [n])).rejects.toThrow(
        /permission denied/,
      );
      await expect(writer.query('DELETE FROM quarantined_record WHERE sequence_number = $1', [n])).rejects.toThrow(/permission denied/);
    } finally {
      await writer.end();
    }
    const grants = (
      await db.query(`SELECT privilege_type, array_agg(column_name::text ORDER BY column_name) AS columns FROM information_schema.column_privileges
      WHERE grantee = 'fhir_writer' AND table_name = 'quarantined_record' AND privilege_type NOT IN ('SELECT', 'INSERT') GROUP BY 1`)
    ).rows;
    expect(grants).toEqual([
      {
        privilege_type: 'UPDATE',
        columns: ['redrive_actor', 'redrive_attempted_at', 'redrive_detail', 'redrive_outcome', 'redrive_validator', 'redriven_at'],
      },
    ]);
    expect(
      (
        await db.query(
          "SELECT has_table_privilege('fhir_writer', 'quarantined_record', 'UPDATE') AS u, has_table_privilege('fhir_writer', 'quarantined_record', 'DELETE') AS d",
        )
      ).rows[0],
    ).toEqual({ u: false, d: false });

    // On the other row: a failed UPDATE's row lock can outlive its error by a moment, and the re-drive skips locked rows.
    await expect(db.query("UPDATE quarantined_record SET payload = '\\x00' WHERE sequence_number = $1", [x])).rejects.toThrow(
      /keeps what was received/,
    );
    await expect(
      db.query("UPDATE quarantined_record SET received_at = now() - interval '1 day' WHERE sequence_number = $1", [x]),
    ).rejects.toThrow(/keeps what was received/);
    expect(await run(RELAXED)).toMatchObject({ redriven: 1 });
    await expect(db.query('UPDATE quarantined_record SET redriven_at = NULL WHERE sequence_number = $1', [n])).rejects.toThrow(
      /re-driven: its re-drive columns are final/,
    );
  });

  test("the processor's own login (fhir_processor, a member of fhir_writer and nothing else) can re-drive", async () => {
    await db.query("ALTER ROLE fhir_processor PASSWORD 'redrive-test-only'");
    const processorPool = new Pool({
      ...pg.settings({ role: 'fhir_writer' }),
      user: 'fhir_processor',
      password: 'redrive-test-only',
      max: 1,
    });
    try {
      const [n] = await ingest([rec(patient('login-1', { meta: TAG }), 'login-1'), { pk: 'login-x', data: Buffer.from('x') }], strict);
      const summary = await redrive(
        processorPool,
        { dryRun: false, batchSize: 10 },
        { actor: 'fhir_processor/redrive', streamName: 'redrive-test', validator: RELAXED },
      );
      expect(summary).toMatchObject({ examined: 2, redriven: 1, stillQuarantined: 1 });
      expect((await quarantined(n)).redrive_actor).toBe('fhir_processor/redrive');
    } finally {
      await processorPool.end();
      await db.query('ALTER ROLE fhir_processor PASSWORD NULL');
    }
  });

  test('the task command: a usage error is one line and exit 2; a run prints progress and one JSON summary line, with no PHI', async () => {
    await ingest(
      [
        rec(patient('cli-1', { meta: TAG, name: [{ family: 'Haddad', given: ['Isla'] }] }), 'cli-1'),
        rec(patient('cli-2', { meta: TAG }), 'cli-2'),
      ],
      strict,
    );
    const env = {
      PATH: process.env.PATH,
      STREAM_NAME: 'redrive-test',
      ...databaseEnv(pg),
      WORKER_ID: 'task-1',
      LOG_LEVEL: 'info',
    };
    const command = (args: string[]) =>
      spawnSync(process.execPath, [...TS_HOOK, 'lib/processor/tasks/redrive/main.ts', ...args], {
        cwd: join(__dirname, '..', '..'),
        env,
        encoding: 'utf8',
      });
    const usage = command(['--reason', 'BOGUS']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toBe(
      'redrive: --reason "BOGUS" is not a quarantine code: use one of TOO_LARGE, NOT_UTF8, NOT_JSON, NOT_A_RESOURCE, UNSUPPORTED_RESOURCE_TYPE, INVALID_FHIR, UNSTORABLE, KPL_MD5_MISMATCH, KPL_MALFORMED, CORRUPT_COMPRESSION, INFLATED_TOO_LARGE\n',
    );
    expect(usage.stdout).toBe('');

    const ok = command(['--batch-size', '1']);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const lines = ok.stdout.trim().split('\n');
    const progress = lines.slice(0, -1).map((l) => JSON.parse(l));
    expect(progress.map((p) => [p.msg, p.batches, p.redriven])).toEqual([
      ['redrive progress', 1, 1],
      ['redrive progress', 2, 2],
    ]);
    const { redrive: summary } = JSON.parse(lines[lines.length - 1]);
    expect(summary).toMatchObject({ examined: 2, redriven: 2, entries: { written: 2 }, validator: RELAXED.id });
    expect(ok.stdout).not.toMatch(/cli-1|cli-2|Haddad|Isla|1980-04-12/);
    expect((await db.query("SELECT DISTINCT redrive_actor FROM quarantined_record WHERE partition_key LIKE 'cli-%'")).rows).toEqual([
      { redrive_actor: 'task-1/redrive' },
    ]);
  });
});
