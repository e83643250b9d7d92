import { Client } from 'pg';
import { validateRecord } from '../../lib/processor/fhir/validate';
import { acceptedCorpus, FUZZ_MAX_BYTES, fuzzCases, Json, transactionBundle } from '../../scripts/shared/fhir-fuzz';
import { putRecords, startStack, TestStack, waitFor } from './harness';

jest.setTimeout(180_000);

/**
 * Data no one here wrote, end to end: every HL7 R4 example and Synthea record of the corpus is
 * stored, and every fuzzed invalid record is quarantined exactly once with its reason.
 */
describe('the corpus through the real processor into PostgreSQL', () => {
  let stack: TestStack;
  let db: Client;
  const stream = 'hipaa-fhir-records-corpus';

  const corpus = acceptedCorpus();
  // One Synthea-style transaction bundle too: a patient and the resources that point at it.
  const synthea = corpus.filter((r) => r.source.startsWith('synthea/')).map((r) => JSON.parse(r.data.toString('utf8')) as Json);
  const patient = synthea.find((r) => r.resourceType === 'Patient')!;
  const related = synthea.filter((r) => JSON.stringify(r).includes(`Patient/${patient.id as string}`)).slice(0, 20);
  // New ids, so the bundle's copies are stored beside the originals; references become urn:uuid: fullUrls.
  const renamed = related.map(
    (r) =>
      JSON.parse(
        JSON.stringify({ ...r, id: `${r.id as string}-b` })
          .split(`"Patient/${patient.id as string}"`)
          .join(`"Patient/${patient.id as string}-b"`),
      ) as Json,
  );
  const bundle = Buffer.from(JSON.stringify(transactionBundle([{ ...patient, id: `${patient.id as string}-b` }, ...renamed])));
  const valid = [...corpus.map((r) => r.data), bundle];
  const fuzz = fuzzCases(20261123, 4);

  beforeAll(async () => {
    stack = await startStack();
    db = stack.db;
    await stack.createStream(stream, 4);
    // The fuzz cases are made for this limit (a TOO_LARGE case is just over it).
    await stack.startProcessor(stream, { config: { maxRecordBytes: FUZZ_MAX_BYTES } });
  });
  afterAll(() => stack?.stop());

  test('every corpus resource is stored and every fuzzed record quarantined once, with its reason', async () => {
    const expected = valid.map((data) => validateRecord(data, FUZZ_MAX_BYTES));
    const notAccepted = expected.filter((r) => !r.ok).length;
    expect(notAccepted).toBe(0);
    const resources = expected.flatMap((r) => (r.ok ? r.resources : []));
    expect(related.length).toBeGreaterThan(3);

    const records = [
      ...valid.map((data, i) => ({ partitionKey: `corpus-${i % 32}`, data, expect: { kind: 'valid' as const } })),
      ...fuzz.map((c, i) => ({ partitionKey: `fuzz-${i}`, data: c.data, expect: { kind: 'invalid' as const, reason: c.reason } })),
    ];
    await putRecords(stack.kinesis.client, stream, records as never);
    await waitFor(
      'every record handled',
      async () => {
        const { rows } = await db.query(`SELECT (SELECT count(*) FROM audit_event WHERE action = 'persist')::int AS persisted,
        (SELECT count(*) FROM quarantined_record)::int AS quarantined`);
        return rows[0].persisted >= resources.length && rows[0].quarantined >= fuzz.length ? rows[0] : undefined;
      },
      150_000,
    );

    // One persist event per resource (Bundle entries included), and every (type, id) is in history.
    const persisted = (await db.query("SELECT count(*)::int AS n FROM audit_event WHERE action = 'persist'")).rows[0].n;
    expect(persisted).toBe(resources.length);
    const stored = new Set(
      (await db.query('SELECT DISTINCT resource_type, resource_id FROM fhir_resource_history')).rows.map(
        (r) => `${r.resource_type}/${r.resource_id}`,
      ),
    );
    const missing = resources.filter((r) => !stored.has(`${r.resourceType}/${r.id}`)).map((r) => `${r.resourceType}/${r.id}`);
    expect(missing).toEqual([]);
    // Bundle entries are stored as their own rows, linked to the patient of the bundle's Patient entry.
    const bundled = (
      await db.query(
        'SELECT count(*)::int AS n, count(DISTINCT patient_id)::int AS patients FROM fhir_resource_history WHERE resource_id LIKE $1',
        ['%-b'],
      )
    ).rows[0];
    expect(bundled).toEqual({ n: related.length + 1, patients: 1 });
    const linked = (await db.query('SELECT DISTINCT patient_id FROM fhir_resource_history WHERE resource_id LIKE $1', ['%-b'])).rows[0]
      .patient_id;
    expect(linked).toBe(`${patient.id as string}-b`);

    // Every fuzzed record: quarantined exactly once, with the reason the fuzzer expects.
    const quarantined = (
      await db.query(
        'SELECT partition_key, reason_code, count(*) OVER (PARTITION BY stream_name, shard_id, sequence_number)::int AS copies FROM quarantined_record',
      )
    ).rows;
    expect(quarantined).toHaveLength(fuzz.length);
    expect(quarantined.filter((q) => q.copies !== 1)).toEqual([]);
    const byKey = new Map(quarantined.map((q) => [q.partition_key as string, q.reason_code as string]));
    const wrong = fuzz.map((c, i) => [c.name, c.reason, byKey.get(`fuzz-${i}`)]).filter(([, want, got]) => want !== got);
    expect(wrong).toEqual([]);
  });
});
