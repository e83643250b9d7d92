import { readdirSync, readFileSync } from 'fs';
import { join, relative } from 'path';
import { hexQuarantineKey, originalPartitionKey } from '../../../../lib/processor/db/quarantine-key';
import { entriesParam } from '../../../../lib/processor/db/write';
import { contentHash, planBatch, RecordRef, ValidEntry, withPlan } from '../../../../lib/processor/records';

const PROCESSOR = join(__dirname, '../../../../lib/processor');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

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
const ref = (seq: string): RecordRef => ({ sequenceNumber: seq, partitionKey: `pk-${seq}`, payload: Buffer.from(seq) });

describe('one write path', () => {
  test('only db/write.ts writes resources: the stream batch and the re-drive share its statement', () => {
    const writers = sources(PROCESSOR)
      .filter((file) => /INSERT INTO fhir_resource_(history|current)|UPDATE fhir_resource_current/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(PROCESSOR, file));
    expect(writers).toEqual(['db/write.ts']);
  });

  test('an entry with an origin of its own carries its stream, shard and note after the resource', () => {
    const json = '{"resourceType":"Patient","id":"p1"}';
    const origin = { streamName: 's-old', shardId: 'shardId-000000000007', note: 'from quarantine row 9 (INVALID_FHIR)' };
    const param = JSON.parse(entriesParam(withPlan([entry('7', 'p1', json, { origin })])));
    expect(param).toEqual([
      [
        'Patient',
        'p1',
        null,
        null,
        'p1',
        false,
        '7',
        0,
        contentHash(json),
        false,
        true,
        JSON.parse(json),
        's-old',
        origin.shardId,
        origin.note,
      ],
    ]);
  });

  test('the last-resort partition key is read back as the key the record arrived with', () => {
    const key = hexQuarantineKey('évil\u0000-7', '23514');
    expect(key.partitionKey).toMatch(/^hex:[0-9a-f]+$/);
    expect(
      originalPartitionKey({ partition_key: key.partitionKey, partition_key_raw: null, reason_code: 'UNSTORABLE', detail: key.detail }),
    ).toBe('évil\u0000-7');
  });
});

describe('the batch plan (classify returns it; every part of a batch is planned on its own)', () => {
  const v1 = entry('1', 'a', '{"v":1}', { versionId: '1' });
  const dup = entry('2', 'a', '{"v":1}', { versionId: '1' });
  const v3 = entry('3', 'a', '{"v":3}', { versionId: '3' });
  const other = entry('4', 'b', '{"b":1}');
  const batch = planBatch({ valid: [v1, dup, v3, other], quarantined: [], emptyRecords: ['4'], records: ['1', '2', '3', '4'].map(ref) });

  const plan = (b: { valid: readonly { sequenceNumber: string; duplicateInBatch: boolean; candidate: boolean }[] }) =>
    b.valid.map((e) => [e.sequenceNumber, e.duplicateInBatch, e.candidate]);

  test('the whole batch: later identical content is a duplicate, the newest version is the candidate', () => {
    expect(plan(batch)).toEqual([
      ['1', false, false],
      ['2', true, false],
      ['3', false, true],
      ['4', false, true],
    ]);
    expect(batch.lastSequenceNumber).toBe('4');
  });

  test('halves: an entry whose twin or successor went to the other half is stored by its own half', () => {
    const [first, rest] = batch.halves();
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
    expect([first.lastSequenceNumber, rest.lastSequenceNumber, rest.emptyRecords]).toEqual(['2', '4', ['4']]);
  });

  test('after: the records past a committed sequence number (compared as integers), planned again', () => {
    const tail = planBatch({
      valid: [entry('9', 'a', '{"v":1}'), entry('10', 'a', '{"v":1}')],
      quarantined: [],
      records: [ref('9'), ref('10')],
    });
    expect(plan(tail.after('9'))).toEqual([['10', false, true]]);
    expect(tail.after('10').records).toEqual([]);
  });
});
