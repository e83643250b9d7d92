import { createHash } from 'crypto';
import { deaggregate, isKplAggregated, KPL_MAGIC } from '../../../../lib/processor/ingest/kpl';
import { kplAggregate, referenceDeaggregate } from '../../../helpers/kpl';

const user = (partitionKey: string, text: string, explicitHashKey?: string) => ({
  partitionKey,
  data: Buffer.from(text),
  ...(explicitHashKey ? { explicitHashKey } : {}),
});

/** An aggregated record around a protobuf body we write by hand, with a correct MD5. */
const framed = (body: Buffer) => Buffer.concat([KPL_MAGIC, body, createHash('md5').update(body).digest()]);

describe('KPL aggregated records (made by aws-kinesis-agg, the reference library)', () => {
  test('yields every user record in order with its own partition key, as the reference de-aggregation does', () => {
    const records = Array.from({ length: 24 }, (_, i) =>
      user(`patient-${i % 3}`, `{"n":${i}}`, i % 5 === 0 ? String(10n ** 37n + BigInt(i)) : undefined),
    );
    const { data } = kplAggregate(records);
    const ours = deaggregate(data);
    expect(ours.kind).toBe('aggregated');
    const got = ours.kind === 'aggregated' ? ours.records.map((r) => [r.partitionKey, Buffer.from(r.data).toString()]) : [];
    expect(got).toEqual(records.map((r) => [r.partitionKey, r.data.toString()]));
    expect(got).toEqual(referenceDeaggregate(data).map((r) => [r.partitionKey, r.data.toString()]));
  });

  test('a record without the magic, or too short to hold a checksum, is not aggregated', () => {
    expect(deaggregate(Buffer.from('{"resourceType":"Patient"}'))).toEqual({ kind: 'plain' });
    expect(isKplAggregated(Buffer.concat([KPL_MAGIC, Buffer.alloc(15)]))).toBe(false);
    expect(isKplAggregated(Buffer.concat([KPL_MAGIC, Buffer.alloc(16)]))).toBe(true);
  });

  test('an MD5 trailer that does not match is reported as such', () => {
    const { data } = kplAggregate([user('p', '{"a":1}'), user('q', '{"b":2}')]);
    const flipped = Buffer.from(data);
    flipped[10] ^= 0x01;
    expect(deaggregate(flipped)).toEqual({ kind: 'invalid', reason: 'KPL_MD5_MISMATCH', detail: expect.stringContaining('MD5') });
    const cut = data.subarray(0, data.length - 1);
    expect(deaggregate(cut)).toMatchObject({ kind: 'invalid', reason: 'KPL_MD5_MISMATCH' });
  });

  test.each([
    [
      'a truncated protobuf (checksum recomputed over it)',
      (body: Buffer) => body.subarray(0, body.length - 3),
      /runs past the end|truncated varint/,
    ],
    [
      'a user record naming a partition key the table lacks',
      () => Buffer.from('0a01611a0408051a00', 'hex'),
      /partition key 5 of a table of 1/,
    ],
    ['a user record without data', () => Buffer.from('0a01611a020800', 'hex'), /lacks its required data/],
    ['a user record without a partition key index', () => Buffer.from('0a01611a021a00', 'hex'), /lacks its required partition_key_index/],
    ['a group wire type the format never uses', () => Buffer.from('0b', 'hex'), /wire type 3/],
    ['a partition key that is not UTF-8', () => Buffer.from('0a01ff', 'hex'), /not UTF-8/],
    ['a varint longer than ten bytes', () => Buffer.from('08ffffffffffffffffffff01', 'hex'), /varint/],
  ])('%s is malformed, named in the detail', (_name, makeBody, detail) => {
    const { data } = kplAggregate([user('p', '{"a":1}'), user('q', '{"b":2}')]);
    const body = makeBody(data.subarray(4, data.length - 16));
    const result = deaggregate(framed(body));
    expect(result).toMatchObject({ kind: 'invalid', reason: 'KPL_MALFORMED' });
    expect(result.kind === 'invalid' && result.detail).toMatch(detail);
  });

  test('unknown fields and tags are read past; an aggregate of no user records yields none', () => {
    // Field 1 "a"; field 4 (unknown, length-delimited), a fixed64 and a fixed32 field; record {pk 0, data "x", tag {key "k"}}.
    const body = Buffer.from('0a0161' + '2201ff' + '290000000000000000' + '3500000000' + '1a0a08001a017822030a016b', 'hex');
    const result = deaggregate(framed(body));
    expect(result.kind === 'aggregated' && result.records.map((r) => [r.partitionKey, Buffer.from(r.data).toString()])).toEqual([
      ['a', 'x'],
    ]);
    expect(deaggregate(framed(Buffer.alloc(0)))).toEqual({ kind: 'aggregated', records: [] });
  });
});
