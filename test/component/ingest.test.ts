import { readFileSync } from 'fs';
import { join } from 'path';
import { Client } from 'pg';
import { gzipSync } from 'zlib';
import { observation, patient, prng } from '../../scripts/shared/fhir-samples';
import { kplAggregate } from '../helpers/kpl';
import { LocalKinesis, putRecords, startStack, TestStack, waitFor } from './harness';

jest.setTimeout(120_000);

const fixtures = join(__dirname, '..', 'fixtures');
const at = new Date('2026-11-01T08:00:00Z');
const rand = prng(11);
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const record = (partitionKey: string, data: Buffer) => ({ partitionKey, data, expect: { kind: 'valid', key: '' } as const });

describe('records as real producers send them, through the real processor (kinesalite + PostgreSQL)', () => {
  let stack: TestStack;
  let kinesis: LocalKinesis;
  let db: Client;
  const stream = 'hipaa-fhir-records-ingest';

  beforeAll(async () => {
    stack = await startStack();
    ({ kinesis, db } = stack);
    await stack.createStream(stream, 1);
    await stack.startProcessor(stream);
  });
  afterAll(() => stack?.stop());

  test('KPL aggregates, gzip NDJSON and a 748 KB record are stored resource by resource; the rest quarantined with the real cause', async () => {
    // 24 resources for 3 partition keys in one KPL record; 6 of them name no patient.
    const users = [0, 1, 2].flatMap((p) => [
      { partitionKey: `kp-${p}`, data: json(patient(`kp-${p}`, 1, at, rand)) },
      ...[0, 1, 2, 3, 4, 5, 6].map((i) => {
        const o = observation(`ko-${p}-${i}`, `kp-${p}`, 1, at, rand);
        // Names no patient (a Group subject; the R4 vital-signs profile requires a subject): the partition key's patient.
        if (i >= 5) o.subject = { reference: `Group/ko-${p}-${i}` };
        return { partitionKey: `kp-${p}`, data: json(o) };
      }),
    ]);
    const kpl = kplAggregate(users);
    const corrupt = kplAggregate(users.slice(0, 2));
    corrupt.data[12] ^= 0x01;
    const ndjson = readFileSync(join(fixtures, 'fhir-corpus', 'synthea', 'Immunization.ndjson'));
    const lines = ndjson.toString().trimEnd().split('\n').length;
    const gingival = readFileSync(join(fixtures, 'fhir-large', 'diagnosticreport-example-gingival-mass.json'));
    const bomb = gzipSync(Buffer.alloc(17 * 1024 * 1024, 0x20));
    await putRecords(kinesis.client, stream, [
      record(kpl.partitionKey, kpl.data),
      record('outer', corrupt.data),
      record('bulk', gzipSync(ndjson)),
      record('pt-ging', gingival),
      record('bomb', bomb),
    ]);
    const expected = 24 + lines + 1;
    await waitFor('every part handled', async () => {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event');
      return rows[0].n >= expected + 2 ? rows : undefined;
    });

    const history = await db.query<{
      resource_id: string;
      patient_id: string;
      patient_from_partition_key: boolean;
      sub_sequence_number: number;
      line_number: number;
    }>(
      'SELECT resource_id, patient_id, patient_from_partition_key, sub_sequence_number, line_number FROM fhir_resource_history ORDER BY sequence_number, sub_sequence_number, line_number',
    );
    expect(history.rows).toHaveLength(expected);
    const kplRows = history.rows.filter((r) => r.resource_id.startsWith('k'));
    expect(kplRows.map((r) => [r.sub_sequence_number, r.resource_id, r.patient_id, r.patient_from_partition_key])).toEqual(
      users.map((u, i) => {
        const id = (JSON.parse(u.data.toString()) as { id: string }).id;
        return [i, id, u.partitionKey, /^ko-\d-[56]$/.test(id)];
      }),
    );
    const bulkRows = history.rows.filter((r) => r.patient_id !== 'pt-ging' && !r.resource_id.startsWith('k'));
    expect(bulkRows.map((r) => r.line_number)).toEqual(Array.from({ length: lines }, (_, i) => i + 1));
    expect(history.rows.find((r) => r.resource_id === 'gingival-mass')).toMatchObject({
      patient_id: 'pt-ging',
      patient_from_partition_key: true,
    });

    // One audit event per stored resource, with its position; one per quarantined record, with its reason.
    const audit = await db.query('SELECT action, outcome, count(*)::int AS n FROM audit_event GROUP BY 1, 2 ORDER BY 1, 2');
    expect(audit.rows).toEqual([
      { action: 'persist', outcome: 'written', n: expected },
      { action: 'quarantine', outcome: 'INFLATED_TOO_LARGE', n: 1 },
      { action: 'quarantine', outcome: 'KPL_MD5_MISMATCH', n: 1 },
    ]);
    const subs = await db.query("SELECT sub_sequence_number AS s FROM audit_event WHERE resource_id LIKE 'k%' ORDER BY id");
    expect(subs.rows.map((r) => r.s)).toEqual(users.map((_, i) => i));

    const quarantined = await db.query('SELECT partition_key, reason_code, detail, payload FROM quarantined_record ORDER BY id');
    expect(
      quarantined.rows.map((r) => [
        r.partition_key,
        r.reason_code,
        r.detail,
        Buffer.compare(r.payload, r.partition_key === 'bomb' ? bomb : corrupt.data),
      ]),
    ).toEqual([
      ['outer', 'KPL_MD5_MISMATCH', expect.stringContaining('MD5 trailer does not match'), 0],
      ['bomb', 'INFLATED_TOO_LARGE', `gzip payload inflates past the ${16 * 1_048_576}-byte limit (a zip bomb, or a record to split)`, 0],
    ]);
    // The position is what was received: not even the owner may change it.
    await expect(db.query("UPDATE quarantined_record SET sub_sequence_number = 1 WHERE partition_key = 'bomb'")).rejects.toThrow(
      'quarantined_record keeps what was received: only the re-drive columns may change',
    );
  });
});
