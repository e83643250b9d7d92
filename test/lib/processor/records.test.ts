import { storableText } from '../../../lib/processor/db/quarantine-key';
import { entriesParam } from '../../../lib/processor/db/write';
import {
  classify,
  compareSequence,
  compareVersionId,
  contentHash,
  isNewer,
  planEntries,
  subBatch,
  ValidEntry,
  withPlan,
} from '../../../lib/processor/records';

const v = (seq: string, idx: number, lastUpdated?: string, versionId?: string) => ({
  sequenceNumber: seq,
  entryIndex: idx,
  lastUpdated,
  versionId,
});

describe('the version order (mirrors fhir_is_newer in the database)', () => {
  test.each([
    ['newer lastUpdated wins whatever the arrival', v('1', 0, '2026-11-02T00:00:00Z'), v('2', 0, '2026-11-01T00:00:00Z'), true],
    ['lastUpdated compares instants, not text', v('1', 0, '2026-11-01T01:00:00+02:00'), v('2', 0, '2026-11-01T00:30:00Z'), false],
    ['equal lastUpdated falls to versionId', v('1', 0, '2026-11-01T00:00:00Z', '10'), v('2', 0, '2026-11-01T00:00:00Z', '9'), true],
    ['versionId is numeric-aware', v('1', 0, undefined, '10'), v('2', 0, undefined, '9'), true],
    ['non-numeric versionIds compare as text', v('1', 0, undefined, 'b'), v('2', 0, undefined, 'a'), true],
    ['one side without lastUpdated: versionId decides', v('1', 0, '2020-01-01T00:00:00Z', '1'), v('2', 0, undefined, '2'), false],
    ['no common field: the later arrival wins', v('2', 0), v('10', 0, '2026-11-01T00:00:00Z'), false],
    ['sequence numbers compare as integers', v('10', 0), v('9', 0), true],
    ['same record: the later bundle entry wins', v('5', 2), v('5', 1), true],
    ['the same version is not newer than itself', v('5', 1, '2026-11-01T00:00:00Z', '1'), v('5', 1, '2026-11-01T00:00:00Z', '1'), false],
  ])('%s', (_name, n, c, expected) => {
    expect(isNewer(n, c)).toBe(expected);
  });

  test('helpers', () => {
    expect(compareSequence('49590338271490256608559692538361571095921575989136588898', '9')).toBeGreaterThan(0);
    expect(compareVersionId('007', '7')).toBe(0);
    expect(compareVersionId('2', '10')).toBeLessThan(0);
  });
});

const entry = (seq: string, id: string, json: string, extra: Partial<ValidEntry> = {}): ValidEntry => ({
  sequenceNumber: seq,
  entryIndex: 0,
  resourceType: 'Patient',
  id,
  patientId: id,
  patientFromPartitionKey: false,
  json,
  contentHash: contentHash(json),
  ...extra,
});

describe('planEntries', () => {
  test('marks later identical entries as duplicates and one candidate per resource', () => {
    const entries = [
      entry('1', 'a', '{"x":1}'),
      entry('2', 'a', '{"x":1}'),
      entry('3', 'a', '{"x":2}', { versionId: '1' }),
      entry('4', 'a', '{"x":3}', { versionId: '3' }),
      entry('5', 'a', '{"x":4}', { versionId: '2' }),
      entry('6', 'b', '{"y":1}'),
    ];
    expect(planEntries(entries)).toEqual([
      { duplicateInBatch: false, candidate: false },
      { duplicateInBatch: true, candidate: false },
      { duplicateInBatch: false, candidate: false },
      { duplicateInBatch: false, candidate: true },
      { duplicateInBatch: false, candidate: false },
      { duplicateInBatch: false, candidate: true },
    ]);
  });
});

describe('the persist parameter', () => {
  test('is one JSON array of positional entries, each resource spliced in unchanged', () => {
    const json = '{"resourceType":"Patient","id":"p1","name":[{"text":"a \\"q\\" \\\\u0000"}]}';
    const param = entriesParam(withPlan([entry('7', 'p1', json, { lastUpdated: '2026-11-01T00:00:00Z' }), entry('8', 'p1', json)]));
    // type, id, versionId, lastUpdated, patient, patient-from-partition-key, sequence, entry index, hash, duplicate, candidate, resource
    expect(JSON.parse(param)).toEqual([
      ['Patient', 'p1', null, '2026-11-01T00:00:00Z', 'p1', false, '7', 0, contentHash(json), false, true, JSON.parse(json)],
      ['Patient', 'p1', null, null, 'p1', false, '8', 0, contentHash(json), true, false, JSON.parse(json)],
    ]);
    expect(param).toContain(`,${json}]`);
  });

  test('text PostgreSQL cannot hold is escaped and its bytes kept', () => {
    expect(storableText('plain')).toEqual({ text: 'plain', raw: null });
    expect(storableText('a\u0000b')).toEqual({ text: 'a\\u0000b', raw: Buffer.from('a\u0000b') });
  });
});

describe('classify', () => {
  test('keeps the real partition key, every record in order, and uses the partition key when no patient is derivable', () => {
    const batch = classify(
      [
        { SequenceNumber: '1', PartitionKey: 'pk\u0000', Data: Buffer.from('not json') },
        { SequenceNumber: '2', PartitionKey: 'pk-2', Data: Buffer.from(JSON.stringify({ resourceType: 'Patient', id: 'p2' })) },
      ],
      262_144,
    );
    expect(batch.quarantined.map((q) => [q.sequenceNumber, q.partitionKey, q.reason])).toEqual([['1', 'pk\u0000', 'NOT_JSON']]);
    expect(batch.valid).toEqual([
      expect.objectContaining({
        sequenceNumber: '2',
        entryIndex: 0,
        id: 'p2',
        patientId: 'p2',
        patientFromPartitionKey: false,
        versionId: undefined,
      }),
    ]);
    expect(batch.records.map((r) => r.sequenceNumber)).toEqual(['1', '2']);
    expect(subBatch(batch, batch.records.slice(1))).toMatchObject({ quarantined: [], lastSequenceNumber: '2' });
  });
});
