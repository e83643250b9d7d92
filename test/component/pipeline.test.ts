import { Client } from 'pg';
import { validateRecord } from '../../lib/processor/fhir/validate';
import { invalidSamples, patient, prng, validSamples } from '../../scripts/shared/fhir-samples';
import { capturingLogger, counts, LocalKinesis, LocalPostgres, putRecords, startStack, TestStack, waitFor } from './harness';

jest.setTimeout(120_000);

describe('processor against embedded PostgreSQL and kinesalite', () => {
  let stack: TestStack;
  let pg: LocalPostgres;
  let kinesis: LocalKinesis;
  let db: Client;
  const { logger, lines: logLines } = capturingLogger('test-worker');
  const stream = 'hipaa-fhir-records-test';

  beforeAll(async () => {
    stack = await startStack();
    ({ pg, kinesis, db } = stack);
    await stack.createStream(stream, 2);
    await stack.startProcessor(stream, { logger });
  });
  afterAll(() => stack?.stop());

  test('valid records are persisted once with history, current and audit; invalid ones are quarantined with the right reason', async () => {
    const valid = validSamples(600, { runId: 'e2e', patients: 60 });
    // Only the kinds today's validator rejects (meta became optional, so some old kinds are valid FHIR now).
    const invalid = invalidSamples(9, prng(7)).filter((s) => !validateRecord(s.data, 262_144).ok);
    expect(invalid.length).toBeGreaterThanOrEqual(6);
    await putRecords(kinesis.client, stream, [...valid, ...invalid]);
    await waitFor('all records handled', async () => {
      const c = await counts(db);
      return c.history >= 600 && c.quarantined >= invalid.length ? c : undefined;
    });
    const c = await counts(db);
    expect(c).toEqual({ history: 600, current: 600, quarantined: invalid.length, audit: 600 + invalid.length });

    const reasons = (await db.query('SELECT reason_code, count(*)::int AS n FROM quarantined_record GROUP BY 1 ORDER BY 1')).rows;
    const expected = new Map<string, number>();
    for (const s of invalid) if (s.expect.kind === 'invalid') expected.set(s.expect.reason, (expected.get(s.expect.reason) ?? 0) + 1);
    expect(Object.fromEntries(reasons.map((r) => [r.reason_code, r.n]))).toEqual(Object.fromEntries(expected));

    // The raw payload is kept, byte for byte, with its stream position.
    const q = (await db.query("SELECT shard_id, sequence_number, payload, detail FROM quarantined_record WHERE reason_code = 'NOT_UTF8'"))
      .rows[0];
    expect(Buffer.compare(q.payload, invalid.find((s) => s.expect.kind === 'invalid' && s.expect.reason === 'NOT_UTF8')!.data)).toBe(0);
    expect(q.shard_id).toMatch(/^shardId-/);
    expect(q.sequence_number).toMatch(/^\d+$/);

    const audit = (await db.query('SELECT action, outcome, count(*)::int AS n FROM audit_event GROUP BY 1, 2 ORDER BY 1, 2')).rows;
    expect(audit).toEqual(expect.arrayContaining([{ action: 'persist', outcome: 'written', n: 600 }]));
    const auditRow = (await db.query("SELECT * FROM audit_event WHERE resource_id = 'e2e-p0'")).rows[0];
    expect(auditRow).toMatchObject({
      actor: 'test-worker',
      action: 'persist',
      outcome: 'written',
      resource_type: 'Patient',
      version_id: '1',
      stream_name: stream,
    });

    const checkpoints = (await db.query('SELECT count(*)::int AS n FROM shard_checkpoint WHERE stream_name = $1', [stream])).rows[0].n;
    expect(checkpoints).toBe(2);
  });

  test('a replayed record is stored once and audited as a duplicate', async () => {
    const before = await counts(db);
    const replay = validSamples(50, { runId: 'e2e', patients: 60 }).slice(0, 50);
    await putRecords(kinesis.client, stream, replay);
    await waitFor('duplicates audited', async () => {
      const n = (await db.query("SELECT count(*)::int AS n FROM audit_event WHERE outcome = 'duplicate'")).rows[0].n;
      return n >= 50 ? n : undefined;
    });
    const after = await counts(db);
    expect(after.history).toBe(before.history);
    expect(after.current).toBe(before.current);
  });

  test('a stale version arriving after a newer one never replaces it; both stay in history', async () => {
    const rand = prng(3);
    const v2 = patient('stale-p1', 2, new Date('2026-11-02T10:00:00Z'), rand);
    const v1 = patient('stale-p1', 1, new Date('2026-11-01T10:00:00Z'), rand);
    v2.name[0].family = 'Newer';
    v1.name[0].family = 'Older';
    const rec = (r: object) => ({
      partitionKey: 'stale-p1',
      data: Buffer.from(JSON.stringify(r)),
      expect: { kind: 'valid' as const, key: '' },
    });
    await putRecords(kinesis.client, stream, [rec(v2)]);
    await waitFor('v2 current', async () =>
      (await db.query("SELECT 1 FROM fhir_resource_current WHERE resource_id = 'stale-p1'")).rowCount ? true : undefined,
    );
    await putRecords(kinesis.client, stream, [rec(v1)]);
    await waitFor('v1 in history', async () =>
      (await db.query("SELECT 1 FROM fhir_resource_history WHERE resource_id = 'stale-p1' AND version_id = '1'")).rowCount
        ? true
        : undefined,
    );
    const current = (
      await db.query(
        "SELECT version_id, resource->'name'->0->>'family' AS family FROM fhir_resource_current WHERE resource_id = 'stale-p1'",
      )
    ).rows[0];
    expect(current).toEqual({ version_id: '2', family: 'Newer' });
    const outcome = (await db.query("SELECT outcome FROM audit_event WHERE resource_id = 'stale-p1' AND version_id = '1'")).rows[0].outcome;
    expect(outcome).toBe('stale-version-history-only');
  });

  test('the role the service works as cannot change or remove audit rows or history', async () => {
    const writer = new Client(pg.settings({ role: 'fhir_writer' }));
    await writer.connect();
    try {
      expect((await writer.query('SELECT current_user AS u')).rows[0].u).toBe('fhir_writer');
      await expect(writer.query("UPDATE audit_event SET outcome = 'x'")).rejects.toThrow(/permission denied/);
      await expect(writer.query('DELETE FROM audit_event')).rejects.toThrow(/permission denied/);
      await expect(writer.query('TRUNCATE audit_event')).rejects.toThrow(/permission denied/);
      await expect(writer.query('DELETE FROM fhir_resource_history')).rejects.toThrow(/permission denied/);
      await writer.query(
        "INSERT INTO audit_event (actor, action, outcome, stream_name, shard_id, sequence_number) VALUES ('t', 'read', 'ok', 's', 'x', '0')",
      );
    } finally {
      await writer.end();
    }
    // Even the owner cannot rewrite audit history: the trigger refuses.
    await expect(db.query("UPDATE audit_event SET outcome = 'x' WHERE id = 1")).rejects.toThrow(/append-only/);
  });

  test('structured logs carry no PHI and no secrets', async () => {
    expect(logLines.length).toBeGreaterThan(5);
    for (const line of logLines) expect(() => JSON.parse(line)).not.toThrow();
    const all = logLines.join('\n');
    const phi = (
      await db.query(
        "SELECT DISTINCT resource->'name'->0->>'family' AS f, resource->'identifier'->0->>'value' AS mrn, resource->>'birthDate' AS dob FROM fhir_resource_current WHERE resource_type = 'Patient'",
      )
    ).rows;
    expect(phi.length).toBeGreaterThan(10);
    for (const row of phi) {
      expect(all).not.toContain(row.f);
      expect(all).not.toContain(row.mrn);
      expect(all).not.toContain(row.dob);
    }
    expect(all).not.toContain(pg.password);
    expect(all).toContain('"msg":"batch committed"');
  });
});
