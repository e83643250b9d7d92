/**
 * Which version of a resource a batch makes current, and where its checkpoint lands, as the processor
 * sees a real GetRecords batch: records in arrival order with same-length Kinesis sequence numbers.
 */
import { classify, classifyRecords, isNewer, StreamRecord } from '../../../lib/processor/records';
import { kplAggregate } from '../../helpers/kpl';

const MAX = 262_144;
// Real Kinesis sequence numbers: 56 digits, every one of a shard's the same length.
const SEQ = (n: number) => `4959033827149025660855969253836157109592157598913658${String(8890 + n)}`;

const record = (n: number, resource: object, partitionKey = 'pk-patient'): StreamRecord => ({
  SequenceNumber: SEQ(n),
  PartitionKey: partitionKey,
  Data: Buffer.from(JSON.stringify(resource)),
});

const observation = (value: number, meta?: { versionId?: string; lastUpdated?: string }) => ({
  resourceType: 'Observation',
  id: 'obs-1',
  ...(meta ? { meta } : {}),
  status: 'final',
  code: { text: 'glucose' },
  subject: { reference: 'Patient/p1' },
  valueQuantity: { value },
});

/** The value of the version the batch offers to the current table, for each resource id. */
const current = (records: StreamRecord[]) =>
  classify(records, MAX)
    .valid.filter((e) => e.candidate)
    .map((e) => [e.id, (JSON.parse(e.json) as { valueQuantity?: { value: number } }).valueQuantity?.value]);

describe('the version a batch makes current', () => {
  test('two versions with the same versionId: the later arrival wins', () => {
    expect(current([record(1, observation(1, { versionId: '3' })), record(2, observation(2, { versionId: '3' }))])).toEqual([['obs-1', 2]]);
  });

  test('two versions with the same lastUpdated and versionId: the later arrival wins', () => {
    const meta = { versionId: '7', lastUpdated: '2026-11-01T00:00:00Z' };
    expect(current([record(1, observation(1, meta)), record(2, observation(2, meta))])).toEqual([['obs-1', 2]]);
  });

  test('a numeric and a non-numeric versionId compare as text, without failing the batch', () => {
    // '2' < 'v1' by code point: v1 is the newer, whatever the arrival order.
    expect(current([record(1, observation(1, { versionId: 'v1' })), record(2, observation(2, { versionId: '2' }))])).toEqual([
      ['obs-1', 1],
    ]);
    expect(current([record(1, observation(1, { versionId: '2' })), record(2, observation(2, { versionId: 'v1' }))])).toEqual([
      ['obs-1', 2],
    ]);
  });

  test('the same non-numeric versionId twice: the later arrival wins', () => {
    expect(current([record(1, observation(1, { versionId: 'v2' })), record(2, observation(2, { versionId: 'v2' }))])).toEqual([
      ['obs-1', 2],
    ]);
  });

  test('a versionId that only starts with digits is not numeric, and does not fail the batch', () => {
    // '10' < '2a' by code point.
    expect(current([record(1, observation(1, { versionId: '2a' })), record(2, observation(2, { versionId: '10' }))])).toEqual([
      ['obs-1', 1],
    ]);
    expect(current([record(1, observation(1, { versionId: '10' })), record(2, observation(2, { versionId: '2a' }))])).toEqual([
      ['obs-1', 2],
    ]);
  });

  test('numeric versionIds compare as numbers, beyond double precision', () => {
    const big = '90071992547409930';
    const bigger = '90071992547409931';
    expect(current([record(1, observation(1, { versionId: bigger })), record(2, observation(2, { versionId: big }))])).toEqual([
      ['obs-1', 1],
    ]);
    expect(current([record(1, observation(1, { versionId: '10' })), record(2, observation(2, { versionId: '9' }))])).toEqual([
      ['obs-1', 1],
    ]);
  });

  test('without versionIds, the later of two same-length sequence numbers wins, whatever the Bundle entry index', () => {
    const earlier = { sequenceNumber: SEQ(1), entryIndex: 5 };
    const later = { sequenceNumber: SEQ(2), entryIndex: 0 };
    expect(isNewer(later, earlier)).toBe(true);
    expect(isNewer(earlier, later)).toBe(false);
  });

  test('an equal versionId falls to arrival order, not to the entry index', () => {
    const earlier = { sequenceNumber: SEQ(1), entryIndex: 5, versionId: '4' };
    const later = { sequenceNumber: SEQ(2), entryIndex: 0, versionId: '4' };
    expect(isNewer(later, earlier)).toBe(true);
    expect(isNewer(earlier, later)).toBe(false);
    const earlierText = { ...earlier, versionId: 'v4' };
    const laterText = { ...later, versionId: 'v4' };
    expect(isNewer(laterText, earlierText)).toBe(true);
    expect(isNewer(earlierText, laterText)).toBe(false);
  });

  test('within one Kinesis record, the later KPL user record wins, then the later NDJSON line, then the later Bundle entry', () => {
    const at = (subSequenceNumber: number, line: number, entryIndex: number) => ({
      sequenceNumber: SEQ(1),
      subSequenceNumber,
      line,
      entryIndex,
    });
    expect([isNewer(at(2, 1, 0), at(1, 9, 9)), isNewer(at(1, 9, 9), at(2, 1, 0))]).toEqual([true, false]);
    expect([isNewer(at(1, 2, 0), at(1, 1, 9)), isNewer(at(1, 1, 9), at(1, 2, 0))]).toEqual([true, false]);
    expect([isNewer(at(1, 1, 3), at(1, 1, 2)), isNewer(at(1, 1, 2), at(1, 1, 3))]).toEqual([true, false]);
    // A whole record's parts are numbered 0 and left out.
    expect(isNewer({ sequenceNumber: SEQ(1), subSequenceNumber: 1, entryIndex: 0 }, { sequenceNumber: SEQ(1), entryIndex: 4 })).toBe(true);
    expect(isNewer({ sequenceNumber: SEQ(1), line: 1, entryIndex: 0 }, { sequenceNumber: SEQ(1), entryIndex: 4 })).toBe(true);
  });

  test('a lastUpdated that cannot be read as an instant is passed over for the versionId', () => {
    const readable = { sequenceNumber: SEQ(2), entryIndex: 0, lastUpdated: '2026-11-01T00:00:00Z', versionId: '1' };
    const unreadable = { sequenceNumber: SEQ(1), entryIndex: 0, lastUpdated: 'not an instant', versionId: '2' };
    expect(isNewer(unreadable, readable)).toBe(true);
    expect(isNewer(readable, unreadable)).toBe(false);
  });
});

describe('the checkpoint a batch moves to', () => {
  test('is the last record of the batch, valid or quarantined', () => {
    expect(classify([record(1, observation(1)), record(2, observation(2))], MAX).lastSequenceNumber).toBe(SEQ(2));
    const endsQuarantined = classify(
      [record(1, observation(1)), { SequenceNumber: SEQ(2), PartitionKey: 'pk', Data: Buffer.from('{') }],
      MAX,
    );
    expect(endsQuarantined.quarantined.map((q) => q.reason)).toEqual(['NOT_JSON']);
    expect(endsQuarantined.lastSequenceNumber).toBe(SEQ(2));
  });

  test('an empty batch has no checkpoint to move to', () => {
    expect(classify([], MAX).lastSequenceNumber).toBe('');
  });

  test('each half of a bisected batch, and the rest after a partial commit, checkpoints at its own last record', () => {
    const batch = classify(
      [1, 2, 3].map((n) => record(n, observation(n))),
      MAX,
    );
    const [first, rest] = batch.halves();
    expect([first.lastSequenceNumber, rest.lastSequenceNumber]).toEqual([SEQ(2), SEQ(3)]);
    expect(batch.after(SEQ(1)).records.map((r) => r.sequenceNumber)).toEqual([SEQ(2), SEQ(3)]);
    expect(batch.after(SEQ(3)).lastSequenceNumber).toBe('');
  });

  test('an empty record is audited by the half of a bisected batch that holds it, not by both', () => {
    const batch = classify([record(1, observation(1)), record(2, { resourceType: 'Bundle', type: 'collection' })], MAX);
    const [first, rest] = batch.halves();
    expect([first.emptyRecords, rest.emptyRecords]).toEqual([[], [{ sequenceNumber: SEQ(2) }]]);
  });
});

describe('what each record of a batch becomes', () => {
  test('a valid Bundle without entries stores nothing and is audited as an empty record', () => {
    const batch = classify([record(1, { resourceType: 'Bundle', type: 'collection' }), record(2, observation(1))], MAX);
    expect(batch.emptyRecords).toEqual([{ sequenceNumber: SEQ(1) }]);
    expect(batch.valid.map((e) => e.sequenceNumber)).toEqual([SEQ(2)]);
    expect(batch.quarantined).toEqual([]);
  });

  test('a record without a partition key or data is quarantined with an empty key and payload', () => {
    const batch = classify([{ SequenceNumber: SEQ(1) }], MAX);
    expect(batch.quarantined).toEqual([
      {
        sequenceNumber: SEQ(1),
        partitionKey: '',
        reason: 'NOT_JSON',
        detail: 'payload is not JSON (SyntaxError)',
        payload: Buffer.alloc(0),
      },
    ]);
  });

  test('each KPL user record and NDJSON line of a record carries its position; a whole record carries none', () => {
    const user = (value: number) => ({ partitionKey: 'pk-patient', data: Buffer.from(JSON.stringify(observation(value))) });
    const kpl = kplAggregate([user(1), user(2)]);
    const ndjson = [observation(3), observation(4)].map((o) => JSON.stringify(o)).join('\n');
    const batch = classify(
      [
        { SequenceNumber: SEQ(1), PartitionKey: kpl.partitionKey, Data: kpl.data },
        { SequenceNumber: SEQ(2), PartitionKey: 'pk-patient', Data: Buffer.from(ndjson) },
        record(3, observation(5)),
      ],
      MAX,
    );
    const positions = batch.valid.map(({ sequenceNumber, subSequenceNumber, line }) => ({ sequenceNumber, subSequenceNumber, line }));
    expect(positions).toEqual([
      { sequenceNumber: SEQ(1) },
      { sequenceNumber: SEQ(1), subSequenceNumber: 1 },
      { sequenceNumber: SEQ(2), line: 1 },
      { sequenceNumber: SEQ(2), line: 2 },
      { sequenceNumber: SEQ(3) },
    ]);
    expect(batch.valid.map((e) => ['subSequenceNumber' in e, 'line' in e])).toEqual([
      [false, false],
      [true, false],
      [false, true],
      [false, true],
      [false, false],
    ]);
    // The last of them is the version made current.
    expect(batch.valid.map((e) => e.candidate)).toEqual([false, false, false, false, true]);
  });

  test('a re-driven part of a record keeps the position its quarantine row recorded', () => {
    const ndjson = Buffer.from([observation(1), observation(2)].map((o) => JSON.stringify(o)).join('\n'));
    const batch = classifyRecords(
      [
        // A KPL user record quarantined whole that now reads as NDJSON: its lines are numbered within it.
        { sequenceNumber: SEQ(1), partitionKey: 'p1', payload: ndjson, part: { subSequenceNumber: 3, line: 0 } },
        // One NDJSON line quarantined on its own: its payload is that line alone.
        {
          sequenceNumber: SEQ(2),
          partitionKey: 'p1',
          payload: Buffer.from(JSON.stringify(observation(3))),
          part: { subSequenceNumber: 0, line: 4 },
        },
      ],
      MAX,
    );
    expect(batch.valid.map(({ sequenceNumber, subSequenceNumber, line }) => ({ sequenceNumber, subSequenceNumber, line }))).toEqual([
      { sequenceNumber: SEQ(1), subSequenceNumber: 3, line: 1 },
      { sequenceNumber: SEQ(1), subSequenceNumber: 3, line: 2 },
      { sequenceNumber: SEQ(2), line: 4 },
    ]);
  });

  test('a re-driven record keeps its original position on each entry and quarantine row; a stream record carries none', () => {
    const origin = { streamName: 'old-stream', shardId: 'shardId-000000000003', note: 'from quarantine row 12 (INVALID_FHIR)' };
    const redriven = classifyRecords(
      [
        { sequenceNumber: SEQ(1), partitionKey: 'p1', payload: Buffer.from(JSON.stringify(observation(1))), origin },
        { sequenceNumber: SEQ(2), partitionKey: 'p1', payload: Buffer.from('{'), origin },
      ],
      MAX,
    );
    expect(redriven.valid.map((e) => e.origin)).toEqual([origin]);
    expect(redriven.quarantined.map((q) => q.origin)).toEqual([origin]);
    const fromStream = classify([record(1, observation(1)), { SequenceNumber: SEQ(2), PartitionKey: 'p', Data: Buffer.from('{') }], MAX);
    expect(fromStream.valid.every((e) => !('origin' in e))).toBe(true);
    expect(fromStream.quarantined.every((q) => !('origin' in q))).toBe(true);
  });

  test('each entry carries its resource and its patient as the writer stores them', () => {
    const meta = { versionId: '4', lastUpdated: '2026-11-01T00:00:00Z' };
    const [entry] = classify([record(1, observation(7, meta))], MAX).valid;
    expect(entry).toEqual({
      sequenceNumber: SEQ(1),
      entryIndex: 0,
      resourceType: 'Observation',
      id: 'obs-1',
      versionId: '4',
      lastUpdated: '2026-11-01T00:00:00Z',
      patientId: 'p1',
      patientFromPartitionKey: false,
      json: JSON.stringify(observation(7, meta)),
      duplicateInBatch: false,
      candidate: true,
    });
  });

  test('the same content sent twice is one duplicate; a different resource with the same content is not', () => {
    const patient = (id: string) => ({ resourceType: 'Patient', id });
    const batch = classify(
      [
        record(1, patient('a')),
        record(2, patient('a')),
        record(3, { ...observation(1), id: 'obs-2' }),
        record(4, { ...observation(1), id: 'obs-3' }),
      ],
      MAX,
    );
    expect(batch.valid.map((e) => [e.id, e.duplicateInBatch, e.candidate])).toEqual([
      ['a', false, true],
      ['a', true, false],
      ['obs-2', false, true],
      ['obs-3', false, true],
    ]);
  });
});
