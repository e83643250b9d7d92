import { readFileSync } from 'fs';
import { join } from 'path';
import { gzipSync, deflateSync } from 'zlib';
import { decodeLimits, INFLATE_FACTOR } from '../../../../lib/processor/ingest/decode';
import { classify, isNewer } from '../../../../lib/processor/records';
import { observation, patient, prng } from '../../../../scripts/shared/fhir-samples';
import { kplAggregate } from '../../../helpers/kpl';

const MAX = 1_048_576;
const fixtures = join(__dirname, '..', '..', '..', 'fixtures');
const at = new Date('2026-11-01T08:00:00Z');
const rand = prng(7);
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
/**
 * An Observation that names no patient (its subject is a Group; the R4 vital-signs profile requires a
 * subject): stored under its record's partition key.
 */
const orphan = (id: string) => ({ ...observation(id, 'x', 1, at, rand), subject: { reference: `Group/${id}` } });

/** 3 patients, 8 resources each: the Patient, 5 Observations naming it, 2 naming no one. */
const userRecords = [0, 1, 2].flatMap((p) => [
  { partitionKey: `pt-${p}`, data: json(patient(`pt-${p}`, 1, at, rand)) },
  ...[0, 1, 2, 3, 4].map((i) => ({ partitionKey: `pt-${p}`, data: json(observation(`o-${p}-${i}`, `pt-${p}`, 1, at, rand)) })),
  ...[0, 1].map((i) => ({ partitionKey: `pt-${p}`, data: json(orphan(`x-${p}-${i}`)) })),
]);

describe('records as producers send them: KPL aggregates, gzip/zlib, NDJSON', () => {
  test('a KPL aggregate of 24 resources for 3 partition keys: 24 entries, each with its own partition key and sub-sequence number', () => {
    const interleaved = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((i) => [userRecords[i], userRecords[8 + i], userRecords[16 + i]]);
    const { partitionKey, data } = kplAggregate(interleaved);
    const batch = classify([{ SequenceNumber: '100', PartitionKey: partitionKey, Data: data }], MAX);
    expect(batch.quarantined).toEqual([]);
    expect(batch.valid).toHaveLength(24);
    expect(batch.valid.map((e) => [e.subSequenceNumber ?? 0, e.entryIndex, e.id, e.patientId, e.patientFromPartitionKey])).toEqual(
      interleaved.map((u, i) => {
        const r = JSON.parse(u.data.toString()) as { id: string };
        return [i, 0, r.id, u.partitionKey, r.id.startsWith('x-')];
      }),
    );
    expect(new Set(batch.valid.map((e) => e.sequenceNumber))).toEqual(new Set(['100']));
    expect(batch.records).toHaveLength(1);
  });

  test('one bad user record is quarantined on its own, with its partition key, position and bytes', () => {
    const bad = { partitionKey: 'pt-bad', data: Buffer.from('{"resourceType":"Observation"') };
    const { data } = kplAggregate([userRecords[0], bad, userRecords[1]]);
    const batch = classify([{ SequenceNumber: '7', PartitionKey: 'outer', Data: data }], MAX);
    expect(batch.valid.map((e) => [e.id, e.subSequenceNumber ?? 0])).toEqual([
      ['pt-0', 0],
      ['o-0-0', 2],
    ]);
    expect(batch.quarantined).toEqual([
      {
        sequenceNumber: '7',
        subSequenceNumber: 1,
        partitionKey: 'pt-bad',
        reason: 'NOT_JSON',
        detail: 'payload is not JSON (SyntaxError)',
        payload: bad.data,
      },
    ]);
  });

  test('an aggregate whose MD5 does not match is quarantined whole, with a reason naming the MD5', () => {
    const { data } = kplAggregate(userRecords.slice(0, 3));
    data[20] ^= 0x20;
    const batch = classify([{ SequenceNumber: '8', PartitionKey: 'outer', Data: data }], MAX);
    expect(batch.valid).toEqual([]);
    expect(batch.quarantined).toEqual([
      {
        sequenceNumber: '8',
        partitionKey: 'outer',
        reason: 'KPL_MD5_MISMATCH',
        detail: expect.stringMatching(/MD5 trailer does not match/),
        payload: data,
      },
    ]);
  });

  test('KPL of gzip and zlib user records, and gzip of NDJSON (FHIR bulk data), are each stored resource by resource', () => {
    const ndjson = readFileSync(join(fixtures, 'fhir-corpus', 'synthea', 'Patient.ndjson'));
    const lines = ndjson.toString().trimEnd().split('\n');
    const { data } = kplAggregate([
      { partitionKey: 'pt-0', data: gzipSync(userRecords[0].data) },
      { partitionKey: 'pt-1', data: deflateSync(userRecords[8].data) },
      { partitionKey: 'bulk', data: gzipSync(ndjson) },
    ]);
    const batch = classify([{ SequenceNumber: '9', PartitionKey: 'outer', Data: data }], MAX);
    expect(batch.quarantined).toEqual([]);
    expect(batch.valid.map((e) => [e.subSequenceNumber ?? 0, e.line ?? 0, e.id])).toEqual([
      [0, 0, 'pt-0'],
      [1, 0, 'pt-1'],
      ...lines.map((l, i) => [2, i + 1, (JSON.parse(l) as { id: string }).id]),
    ]);
  });

  test('NDJSON: one document per line (blank lines skipped, CRLF accepted); a bad line is quarantined alone with its line number', () => {
    const [a, b] = [userRecords[0].data, userRecords[1].data];
    const payload = Buffer.concat([
      a,
      Buffer.from('\r\n\n'),
      Buffer.from('{"resourceType":"Observation","id":'),
      Buffer.from('\n'),
      b,
      Buffer.from('\n'),
    ]);
    const batch = classify([{ SequenceNumber: '10', PartitionKey: 'pt-0', Data: payload }], MAX);
    expect(batch.valid.map((e) => [e.line, e.id])).toEqual([
      [1, 'pt-0'],
      [4, 'o-0-0'],
    ]);
    expect(batch.quarantined).toEqual([
      {
        sequenceNumber: '10',
        line: 3,
        partitionKey: 'pt-0',
        reason: 'NOT_JSON',
        detail: 'payload is not JSON (SyntaxError)',
        payload: Buffer.from('{"resourceType":"Observation","id":'),
      },
    ]);
  });

  test('a broken pretty-printed document is one broken record, not NDJSON; one JSON value with a newline is not NDJSON either', () => {
    const pretty = Buffer.from(JSON.stringify(JSON.parse(userRecords[0].data.toString()), null, 2).slice(0, -3));
    expect(classify([{ SequenceNumber: '1', PartitionKey: 'k', Data: pretty }], MAX).quarantined).toMatchObject([
      { reason: 'NOT_JSON', payload: pretty },
    ]);
    const single = Buffer.concat([userRecords[0].data, Buffer.from('\n')]);
    expect(classify([{ SequenceNumber: '1', PartitionKey: 'k', Data: single }], MAX).valid).toMatchObject([{ id: 'pt-0', entryIndex: 0 }]);
    expect(classify([{ SequenceNumber: '1', PartitionKey: 'k', Data: single }], MAX).valid[0].line).toBeUndefined();
  });

  test('compressed data that cannot be read, or inflates past the bound, is quarantined as received with the real cause', () => {
    const bomb = gzipSync(Buffer.alloc(MAX * INFLATE_FACTOR + 1, 0x20));
    const truncated = gzipSync(userRecords[0].data).subarray(0, 20);
    const batch = classify(
      [
        { SequenceNumber: '1', PartitionKey: 'k', Data: bomb },
        { SequenceNumber: '2', PartitionKey: 'k', Data: truncated },
      ],
      MAX,
    );
    expect(batch.quarantined.map((q) => [q.reason, q.detail, q.payload.equals(q.sequenceNumber === '1' ? bomb : truncated)])).toEqual([
      ['INFLATED_TOO_LARGE', `gzip payload inflates past the ${MAX * INFLATE_FACTOR}-byte limit (a zip bomb, or a record to split)`, true],
      ['CORRUPT_COMPRESSION', 'gzip payload cannot be inflated (Z_BUF_ERROR: unexpected end of file)', true],
    ]);
    // Inflated, a record may exceed MAX_RECORD_BYTES (that is what compression is for), up to the bound.
    const big = gzipSync(
      Buffer.from(
        JSON.stringify({
          ...JSON.parse(userRecords[0].data.toString()),
          text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'a'.repeat(2 * MAX)}</div>` },
        }),
      ),
    );
    expect(classify([{ SequenceNumber: '3', PartitionKey: 'k', Data: big }], MAX)).toMatchObject({
      quarantined: [],
      valid: [{ id: 'pt-0' }],
    });
  });

  test('a record over MAX_RECORD_BYTES is TOO_LARGE before anything is decoded; the 748 KB HL7 example fits the 1 MiB default', () => {
    const gingival = readFileSync(join(fixtures, 'fhir-large', 'diagnosticreport-example-gingival-mass.json'));
    expect(gingival.length).toBe(747_947);
    expect(classify([{ SequenceNumber: '1', PartitionKey: 'pt-9', Data: gingival }], MAX)).toMatchObject({
      quarantined: [],
      valid: [{ resourceType: 'DiagnosticReport', id: 'gingival-mass', patientId: 'pt-9', patientFromPartitionKey: true }],
    });
    const { data } = kplAggregate([{ partitionKey: 'p', data: Buffer.alloc(300_000, 0x20) }]);
    expect(classify([{ SequenceNumber: '1', PartitionKey: 'p', Data: data }], 262_144).quarantined).toEqual([
      expect.objectContaining({ reason: 'TOO_LARGE', detail: `${data.length} bytes exceeds the 262144-byte limit`, payload: data }),
    ]);
    expect(decodeLimits(MAX)).toEqual({ maxRecordBytes: MAX, maxInflatedBytes: MAX * INFLATE_FACTOR });
  });

  test('arrival order inside one Kinesis record: sub-sequence number, then line, then Bundle entry', () => {
    const o = (sub: number | undefined, line: number | undefined, idx: number) => ({
      sequenceNumber: '5',
      subSequenceNumber: sub,
      line,
      entryIndex: idx,
    });
    expect(isNewer(o(1, 0, 0), o(0, 9, 9))).toBe(true);
    expect(isNewer(o(0, 2, 0), o(0, 1, 9))).toBe(true);
    expect(isNewer(o(undefined, undefined, 1), o(0, 0, 0))).toBe(true);
    expect(isNewer(o(0, 1, 0), o(1, 0, 0))).toBe(false);
    expect(isNewer({ ...o(0, 0, 0), sequenceNumber: '6' }, o(9, 9, 9))).toBe(true);
  });
});
