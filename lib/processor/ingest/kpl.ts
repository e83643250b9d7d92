/**
 * The Kinesis Producer Library's aggregated record format
 * (awslabs/amazon-kinesis-producer, aggregation-format.md): the magic bytes F3 89 9A C2, one
 * protobuf `AggregatedRecord`, then the MD5 of that protobuf. Decoded here by hand (three small
 * messages) so the processor image needs no protobuf runtime.
 *
 *   message AggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2; repeated Record records = 3; }
 *   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2; required bytes data = 3; repeated Tag tags = 4; }
 */
import { createHash } from 'crypto';

export const KPL_MAGIC = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
const MD5_BYTES = 16;

/** One user record of an aggregated record, in aggregate order (its index is the sub-sequence number). */
export interface KplUserRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

export type KplResult =
  | { readonly kind: 'plain' }
  | { readonly kind: 'aggregated'; readonly records: readonly KplUserRecord[] }
  | { readonly kind: 'invalid'; readonly reason: 'KPL_MD5_MISMATCH' | 'KPL_MALFORMED'; readonly detail: string };

/** Starts with the KPL magic and has room for a checksum: the KCL treats it as aggregated from here on. */
export function isKplAggregated(data: Uint8Array): boolean {
  return data.byteLength >= KPL_MAGIC.length + MD5_BYTES && KPL_MAGIC.every((b, i) => data[i] === b);
}

class Malformed extends Error {}

/** A protobuf reader over one message's bytes: only what the three messages above use. */
class Reader {
  pos: number;
  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    private readonly end = buf.byteLength,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.end) throw new Malformed('truncated varint');
      const b = this.buf[this.pos++];
      // Past 2^53 a value cannot be an index into a table held in one record: refuse rather than round.
      if (shift > 49 && (b & 0x7f) > 0) throw new Malformed('varint beyond 2^53');
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new Malformed('varint longer than 10 bytes');
  }

  bytes(): Uint8Array {
    const length = this.varint();
    if (length > this.end - this.pos) throw new Malformed('length-delimited field runs past the end');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.bytes();
    else if (wireType === 1 || wireType === 5) {
      const n = wireType === 1 ? 8 : 4;
      if (n > this.end - this.pos) throw new Malformed('fixed-width field runs past the end');
      this.pos += n;
    } else throw new Malformed(`wire type ${wireType} is not used by the aggregated format`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Malformed(`${what} is not UTF-8`);
  }
}

/**
 * Decodes an aggregated record as the KCL does, with one difference: a checksum mismatch is
 * reported (the KCL passes such a record on as if it were not aggregated, and here it could only
 * be quarantined as unreadable). The explicit hash keys are read past: they chose the shard and
 * carry nothing for the record.
 */
export function deaggregate(data: Uint8Array): KplResult {
  if (!isKplAggregated(data)) return { kind: 'plain' };
  const end = data.byteLength - MD5_BYTES;
  const body = data.subarray(KPL_MAGIC.length, end);
  const md5 = createHash('md5').update(body).digest();
  if (!md5.equals(data.subarray(end))) {
    return {
      kind: 'invalid',
      reason: 'KPL_MD5_MISMATCH',
      detail: 'KPL aggregated record: the MD5 trailer does not match its protobuf body (corrupted or truncated in transit)',
    };
  }
  try {
    return { kind: 'aggregated', records: parse(data, KPL_MAGIC.length, end) };
  } catch (error) {
    if (!(error instanceof Malformed)) throw error;
    return { kind: 'invalid', reason: 'KPL_MALFORMED', detail: `KPL aggregated record: protobuf is malformed (${error.message})` };
  }
}

function parse(buf: Uint8Array, start: number, end: number): KplUserRecord[] {
  const keys: string[] = [];
  const raw: Array<{ keyIndex: number; data: Uint8Array }> = [];
  const r = new Reader(buf, start, end);
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8),
      wire = tag % 8;
    if (field === 1 && wire === 2) keys.push(text(r.bytes(), 'a partition key'));
    else if (field === 3 && wire === 2) {
      const record = r.bytes();
      raw.push(parseRecord(record, raw.length));
    } else r.skip(wire);
  }
  return raw.map(({ keyIndex, data }, i) => {
    if (keyIndex >= keys.length) throw new Malformed(`user record ${i} names partition key ${keyIndex} of a table of ${keys.length}`);
    return { partitionKey: keys[keyIndex], data };
  });
}

function parseRecord(bytes: Uint8Array, index: number): { keyIndex: number; data: Uint8Array } {
  const r = new Reader(bytes);
  let keyIndex: number | undefined;
  let data: Uint8Array | undefined;
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8),
      wire = tag % 8;
    if (field === 1 && wire === 0) keyIndex = r.varint();
    else if (field === 3 && wire === 2) data = r.bytes();
    else r.skip(wire);
  }
  if (keyIndex === undefined || data === undefined)
    throw new Malformed(`user record ${index} lacks its required ${keyIndex === undefined ? 'partition_key_index' : 'data'}`);
  return { keyIndex, data };
}
