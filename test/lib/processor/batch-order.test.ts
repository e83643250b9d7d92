/**
 * Which version of a resource a batch makes current, and where its checkpoint lands, as the processor
 * sees a real GetRecords batch: records in arrival order with same-length Kinesis sequence numbers.
 */
import { classify, isNewer, StreamRecord } from '../../../lib/processor/records';

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
});
