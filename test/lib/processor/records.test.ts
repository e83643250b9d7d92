import { storableText } from '../../../lib/processor/db/quarantine-key';
import { entriesParam } from '../../../lib/processor/db/write';
import {
  classify,
  compareSequence,
  compareVersionId,
  isNewer,
  planBatch,
  planEntries,
  RecordRef,
  subBatch,
  ValidEntry,
  withPlan,
} from '../../../lib/processor/records';
import { patientEntry } from '../../helpers/fhir';

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

const entry = (seq: string, id: string, json: string, extra: Partial<ValidEntry> = {}): ValidEntry =>
  patientEntry(seq, id, { json, ...extra });

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

  test('equal content is a duplicate whatever its formatting; a number written with another scale is not', () => {
    const entries = [
      entry('1', 'a', '{"resourceType":"Patient","id":"a","active":true,"x":[1.50]}'),
      entry('2', 'a', '{ "x" : [ 1.50 ], "active": true, "id": "a",\n "resourceType": "Patient" }'),
      entry('3', 'a', '{"resourceType":"Patient","id":"a","active":true,"x":[1.5]}'),
      entry('4', 'b', '{"resourceType":"Patient","id":"b","active":true,"x":[1.50]}'),
    ];
    expect(planEntries(entries).map((p) => p.duplicateInBatch)).toEqual([false, true, false, false]);
  });

  test('a resource met once in the batch is never parsed again (its content cannot repeat)', () => {
    // Not JSON: parsing it would throw, so a plan without a parse is all this can get.
    expect(planEntries([entry('1', 'a', 'not json'), entry('2', 'b', 'not json')])).toEqual([
      { duplicateInBatch: false, candidate: true },
      { duplicateInBatch: false, candidate: true },
    ]);
  });
});

describe('the persist parameter', () => {
  test('is one JSON array of positional entries, each resource spliced in unchanged', () => {
    const json = '{"resourceType":"Patient","id":"p1","name":[{"text":"a \\"q\\" \\\\u0000"}]}';
    const param = entriesParam(withPlan([entry('7', 'p1', json, { lastUpdated: '2026-11-01T00:00:00Z' }), entry('8', 'p1', json)]));
    // type, id, versionId, lastUpdated, patient, patient-from-partition-key, sequence, entry index, duplicate, candidate, resource
    // (the database hashes the resource itself: write.ts)
    expect(JSON.parse(param)).toEqual([
      ['Patient', 'p1', null, '2026-11-01T00:00:00Z', 'p1', false, '7', 0, false, true, JSON.parse(json)],
      ['Patient', 'p1', null, null, 'p1', false, '8', 0, true, false, JSON.parse(json)],
    ]);
    expect(param).toContain(`,${json}]`);
  });

  test('an entry with an origin of its own carries its stream, shard and note after the resource', () => {
    const json = '{"resourceType":"Patient","id":"p1"}';
    const origin = { streamName: 's-old', shardId: 'shardId-000000000007', note: 'from quarantine row 9 (INVALID_FHIR)' };
    const param = JSON.parse(entriesParam(withPlan([entry('7', 'p1', json, { origin })])));
    expect(param).toEqual([
      ['Patient', 'p1', null, null, 'p1', false, '7', 0, false, true, JSON.parse(json), 's-old', origin.shardId, origin.note],
    ]);
  });

  test('text PostgreSQL cannot hold is escaped and its bytes kept', () => {
    expect(storableText('plain')).toEqual({ text: 'plain', raw: null });
    expect(storableText('a\u0000b')).toEqual({ text: 'a\\u0000b', raw: Buffer.from('a\u0000b') });
  });
});

describe('classify', () => {
  test('keeps the real partition key, every record in order, and uses the partition key when no patient is derivable', () => {
    // A Group is no patient: the Observation names none, so the producer's partition key is its patient.
    const groupObservation = {
      resourceType: 'Observation',
      id: 'o2',
      status: 'final',
      code: { text: 'x' },
      subject: { reference: 'Group/7' },
    };
    const batch = classify(
      [
        { SequenceNumber: '1', PartitionKey: 'pk\u0000', Data: Buffer.from('not json') },
        { SequenceNumber: '2', PartitionKey: 'pk-2', Data: Buffer.from(JSON.stringify(groupObservation)) },
        { SequenceNumber: '3', PartitionKey: 'pk-3', Data: Buffer.from(JSON.stringify({ resourceType: 'Patient', id: 'p3' })) },
      ],
      262_144,
    );
    expect(batch.quarantined.map((q) => [q.sequenceNumber, q.partitionKey, q.reason])).toEqual([['1', 'pk\u0000', 'NOT_JSON']]);
    expect(batch.valid).toEqual([
      expect.objectContaining({
        sequenceNumber: '2',
        entryIndex: 0,
        id: 'o2',
        patientId: 'pk-2',
        patientFromPartitionKey: true,
        versionId: undefined,
      }),
      expect.objectContaining({ sequenceNumber: '3', entryIndex: 0, id: 'p3', patientId: 'p3', patientFromPartitionKey: false }),
    ]);
    expect(batch.records.map((r) => r.sequenceNumber)).toEqual(['1', '2', '3']);
    // A part of the batch holds only its own records' entries and quarantine rows.
    const seqs = (b: ReturnType<typeof subBatch>) => [
      b.valid.map((e) => e.sequenceNumber),
      b.quarantined.map((q) => q.sequenceNumber),
      b.lastSequenceNumber,
    ];
    expect(seqs(subBatch(batch, batch.records.slice(0, 1)))).toEqual([[], ['1'], '1']);
    expect(seqs(subBatch(batch, batch.records.slice(1, 2)))).toEqual([['2'], [], '2']);
  });
});

const ref = (seq: string): RecordRef => ({ sequenceNumber: seq, partitionKey: `pk-${seq}`, payload: Buffer.from(seq) });

describe('the batch plan (classify returns it; every part of a batch is planned on its own)', () => {
  const v1 = entry('1', 'a', '{"v":1}', { versionId: '1' });
  const dup = entry('2', 'a', '{"v":1}', { versionId: '1' });
  const v3 = entry('3', 'a', '{"v":3}', { versionId: '3' });
  const other = entry('4', 'b', '{"b":1}');
  // Planned inside each test, so mutation testing can tell which tests reach the planning code.
  const plannedBatch = () =>
    planBatch({
      valid: [v1, dup, v3, other],
      quarantined: [],
      emptyRecords: [{ sequenceNumber: '4' }],
      records: ['1', '2', '3', '4'].map(ref),
    });

  const plan = (b: { valid: readonly { sequenceNumber: string; duplicateInBatch: boolean; candidate: boolean }[] }) =>
    b.valid.map((e) => [e.sequenceNumber, e.duplicateInBatch, e.candidate]);

  test('the whole batch: later identical content is a duplicate, the newest version is the candidate', () => {
    const batch = plannedBatch();
    expect(plan(batch)).toEqual([
      ['1', false, false],
      ['2', true, false],
      ['3', false, true],
      ['4', false, true],
    ]);
    expect(batch.lastSequenceNumber).toBe('4');
  });

  test('halves: an entry whose twin or successor went to the other half is stored by its own half', () => {
    const [first, rest] = plannedBatch().halves();
    // Version 1 is the newest its half holds: it goes to current, in case the other half is refused.
    expect(plan(first)).toEqual([
      ['1', false, true],
      ['2', true, false],
    ]);
    expect(plan(rest)).toEqual([
      ['3', false, true],
      ['4', false, true],
    ]);
    const [one, two] = first.halves();
    expect([plan(one), plan(two)]).toEqual([[['1', false, true]], [['2', false, true]]]);
    expect([first.lastSequenceNumber, rest.lastSequenceNumber, rest.emptyRecords]).toEqual(['2', '4', [{ sequenceNumber: '4' }]]);
  });

  test('after: the records past a committed sequence number (compared as integers), planned again', () => {
    const tail = planBatch({
      valid: [entry('9', 'a', '{"v":1}'), entry('10', 'a', '{"v":1}')],
      quarantined: [],
      records: [ref('9'), ref('10')],
    });
    expect(plan(tail.after('9'))).toEqual([['10', false, true]]);
    expect(tail.after('10').records).toEqual([]);
    // Parts given no empty records audit none, whole or after.
    expect([tail.emptyRecords, tail.after('9').emptyRecords]).toEqual([[], []]);
  });
});
