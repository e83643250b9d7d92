/**
 * From one Kinesis record to the documents it carries, as producers really send them: a KPL
 * aggregated record becomes its user records (each with its own partition key and sub-sequence
 * number), a gzip or zlib payload is inflated (bounded), and NDJSON (FHIR bulk data's format)
 * becomes one document per line. Each document is then validated on its own. Pure: no I/O.
 */
import type { QuarantineReason, ValidationResult } from '../fhir/validate';
import { compressionOf, inflate } from './compression';
import { deaggregate } from './kpl';

/** Where a document sits inside its Kinesis record. */
export interface SubPosition {
  /** The user record's index in a KPL aggregated record (0 for a record that is not aggregated, as the KCL numbers it). */
  readonly subSequenceNumber: number;
  /** The 1-based NDJSON line; 0 when the payload is one document. */
  readonly line: number;
}

/** One document of a record and its validation, or a part of the record that could not be read. */
export interface DecodedPart extends SubPosition {
  /** The user record's own partition key (the Kinesis record's when not aggregated). */
  readonly partitionKey: string;
  /** What is kept when this part is quarantined: the user record as received, or the NDJSON line. */
  readonly payload: Uint8Array;
  readonly result: ValidationResult;
}

export interface DecodeLimits {
  /** The largest Kinesis record accepted (MAX_RECORD_BYTES). */
  readonly maxRecordBytes: number;
  /** The largest payload a compressed user record may inflate to. */
  readonly maxInflatedBytes: number;
}

/** How many times MAX_RECORD_BYTES a compressed payload may inflate to (FHIR JSON compresses about 10:1). */
export const INFLATE_FACTOR = 16;

/** The processor's limits for a MAX_RECORD_BYTES. */
export const decodeLimits = (maxRecordBytes: number): DecodeLimits => ({
  maxRecordBytes,
  maxInflatedBytes: maxRecordBytes * INFLATE_FACTOR,
});

type Validate = (data: Uint8Array, maxBytes: number) => ValidationResult;

const failed = (reason: QuarantineReason, detail: string): ValidationResult => ({ ok: false, reason, detail });

/** Every part of one Kinesis record, in order. */
export function decodeRecord(payload: Uint8Array, partitionKey: string, limits: DecodeLimits, validate: Validate): DecodedPart[] {
  const whole = { subSequenceNumber: 0, line: 0, partitionKey, payload };
  if (payload.byteLength > limits.maxRecordBytes)
    return [{ ...whole, result: failed('TOO_LARGE', `${payload.byteLength} bytes exceeds the ${limits.maxRecordBytes}-byte limit`) }];
  const kpl = deaggregate(payload);
  if (kpl.kind === 'plain') return decodeUserRecord(payload, whole, limits, validate);
  if (kpl.kind === 'invalid') return [{ ...whole, result: failed(kpl.reason, kpl.detail) }];
  // An aggregate of no user records is valid and stores nothing; it is still audited once.
  if (kpl.records.length === 0) return [{ ...whole, result: { ok: true, resources: [] } }];
  return kpl.records.flatMap((r, subSequenceNumber) =>
    decodeUserRecord(r.data, { subSequenceNumber, line: 0, partitionKey: r.partitionKey, payload: r.data }, limits, validate),
  );
}

function decodeUserRecord(data: Uint8Array, at: Omit<DecodedPart, 'result'>, limits: DecodeLimits, validate: Validate): DecodedPart[] {
  const compression = compressionOf(data);
  let text = data;
  let max = limits.maxRecordBytes;
  if (compression) {
    const inflated = inflate(data, compression, limits.maxInflatedBytes);
    if (!inflated.ok) return [{ ...at, result: failed(inflated.reason, inflated.detail) }];
    text = inflated.data;
    max = limits.maxInflatedBytes;
  }
  const result = validate(text, max);
  if (result.ok || (result.reason !== 'NOT_JSON' && result.reason !== 'NOT_UTF8')) return [{ ...at, result }];
  return ndjsonLines(text, at, max, validate) ?? [{ ...at, result }];
}

const NEWLINE = 0x0a;
const isBlank = (line: Uint8Array) => line.every((b) => b === 0x20 || b === 0x09 || b === 0x0d);

/**
 * The payload as NDJSON: one document per line, blank lines skipped. Undefined unless it has two
 * documents or more and its first line is JSON on its own (else it is one broken document).
 */
function ndjsonLines(data: Uint8Array, at: Omit<DecodedPart, 'result'>, max: number, validate: Validate): DecodedPart[] | undefined {
  const lines: Array<{ line: number; bytes: Uint8Array }> = [];
  let start = 0;
  for (let n = 1; start <= data.byteLength; n++) {
    let end = data.indexOf(NEWLINE, start);
    if (end < 0) end = data.byteLength;
    const bytes = data.subarray(start, end);
    if (!isBlank(bytes)) lines.push({ line: n, bytes });
    start = end + 1;
  }
  if (lines.length < 2) return undefined;
  const first = validate(lines[0].bytes, max);
  if (!first.ok && (first.reason === 'NOT_JSON' || first.reason === 'NOT_UTF8')) return undefined;
  return lines.map(({ line, bytes }, i) => ({ ...at, line, payload: bytes, result: i === 0 ? first : validate(bytes, max) }));
}
