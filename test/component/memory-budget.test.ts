import { Client } from 'pg';
import type { SampleRecord } from '../../scripts/shared/fhir-samples';
import { counts, putRecords, startStack, TestStack, waitFor } from './harness';

jest.setTimeout(120_000);

/** A valid Patient of about `bytes` bytes (a long family name). */
const bigPatient = (i: number, bytes: number): SampleRecord => ({
  partitionKey: `mem-${i}`,
  data: Buffer.from(JSON.stringify({ resourceType: 'Patient', id: `mem-${i}`, name: [{ family: 'A'.repeat(bytes) }] })),
  expect: { kind: 'valid', key: `Patient/mem-${i}` },
});

describe('the processor on the smallest memory budget, against kinesalite and PostgreSQL', () => {
  let stack: TestStack;
  let db: Client;
  const stream = 'hipaa-fhir-records-memory';

  beforeAll(async () => {
    stack = await startStack();
    db = stack.db;
    await stack.createStream(stream, 3);
  });
  afterAll(() => stack?.stop());

  test('with every fetch larger than the budget (each runs alone), every record of every shard is stored once, and the budget ends empty', async () => {
    // MAX_IN_FLIGHT_BYTES 1 MiB; each call's worst case is 2,000 x 1 MiB capped at 10 MiB, and the records
    // alone add up to 9 MB: only ever one batch in the process, shards taking turns.
    const processor = await stack.startProcessor(stream, { config: { maxInFlightBytes: 1_048_576 } });
    const records = Array.from({ length: 30 }, (_, i) => bigPatient(i, 300_000));
    await putRecords(stack.kinesis.client, stream, records);
    const done = await waitFor('all records stored', async () => {
      const c = await counts(db);
      return c.history >= records.length ? c : undefined;
    });
    expect(done).toEqual({ history: 30, current: 30, quarantined: 0, audit: 30 });
    const ids = (await db.query('SELECT resource_id FROM fhir_resource_current ORDER BY 1')).rows.map((r) => r.resource_id);
    expect(ids).toEqual(records.map((r) => r.expect.kind === 'valid' && r.expect.key.slice('Patient/'.length)).sort());
    expect(processor.memory.capacity).toBe(1_048_576);
    // Each grant went to a fetch alone: the most ever held is one worst case (10 MiB), never two.
    expect(processor.memory.peak).toBe(10_485_760);
    await processor.shutdown();
    expect([processor.memory.used, processor.memory.waiting]).toEqual([0, 0]);
  });
});
