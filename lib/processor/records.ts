import { canonicalText, contentHash } from './fhir/exact-json';
import { QuarantineReason, validateRecord, ValidationResult } from './fhir/validate';
import { decodeLimits, decodeRecord, SubPosition } from './ingest/decode';

export type { SubPosition };

/** What the processor needs of a Kinesis record (the SDK's _Record satisfies it). */
export interface StreamRecord {
  readonly SequenceNumber?: string;
  readonly PartitionKey?: string;
  readonly Data?: Uint8Array;
}

/**
 * Where a record was first read, when that is not the batch's own shard: a re-driven quarantine
 * row keeps its original stream position, and every audit event of its entries carries the note.
 */
export interface RecordOrigin {
  readonly streamName: string;
  readonly shardId: string;
  readonly note: string;
}

/** One resource to persist: a whole record, or one entry of a Bundle record. */
export interface ValidEntry {
  readonly sequenceNumber: string;
  /** The KPL user record it came from (see SubPosition). @default 0 */
  readonly subSequenceNumber?: number;
  /** The NDJSON line it came from (see SubPosition). @default 0 */
  readonly line?: number;
  /** Position within the record's Bundle (0 for a record holding one resource). */
  readonly entryIndex: number;
  readonly resourceType: string;
  readonly id: string;
  /** meta.versionId, when the resource has one (optional in R4). */
  readonly versionId?: string;
  /** meta.lastUpdated, when the resource has one (optional in R4). */
  readonly lastUpdated?: string;
  /** The patient the resource belongs to; the Kinesis partition key when none can be derived. */
  readonly patientId: string;
  /** True when patientId is the partition key because the resource names no patient. */
  readonly patientFromPartitionKey: boolean;
  /** The resource's JSON text (ValidResource.json); the database keys history by the SHA-256 of the text jsonb gives it. */
  readonly json: string;
  /** @default the batch's shard */
  readonly origin?: RecordOrigin;
}

/** What each entry of a batch does before the database is asked. */
export interface EntryPlan {
  /** Same resource and same content as an earlier entry of this batch: audited, not stored again. */
  readonly duplicateInBatch: boolean;
  /** The newest version of its resource in this batch: the one offered to the current table. */
  readonly candidate: boolean;
}

/** An entry with its place in the batch's plan: what the writer stores it as. */
export type PlannedEntry = ValidEntry & EntryPlan;

export interface QuarantineEntry {
  readonly sequenceNumber: string;
  /** The KPL user record quarantined on its own (see SubPosition). @default 0 */
  readonly subSequenceNumber?: number;
  /** The NDJSON line quarantined on its own (see SubPosition). @default 0 */
  readonly line?: number;
  /** The partition key exactly as received (a KPL user record's own). */
  readonly partitionKey: string;
  readonly reason: QuarantineReason;
  readonly detail: string;
  readonly payload: Buffer;
  /** @default the batch's shard */
  readonly origin?: RecordOrigin;
}

/** A record's position and raw form, kept so a record the database refuses can still be quarantined. */
export interface RecordRef {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly payload: Uint8Array;
  /** @default the batch's shard */
  readonly origin?: RecordOrigin;
  /**
   * Set for a re-driven quarantine row that held one part of a record (a KPL user record, an
   * NDJSON line): the part's position, which its payload alone no longer tells.
   * @default the payload is a whole Kinesis record
   */
  readonly part?: SubPosition;
}

/** A valid part of a record with nothing to store (an empty Bundle, an empty KPL aggregate): audited only. */
export interface EmptyPart extends Partial<SubPosition> {
  readonly sequenceNumber: string;
}

/** What one transaction writes: planned entries, quarantine rows, audited empty records, and the checkpoint. */
export interface BatchRows {
  readonly valid: readonly PlannedEntry[];
  readonly quarantined: readonly QuarantineEntry[];
  /** Valid records or parts with nothing to store (a Bundle without entries): audited only. */
  readonly emptyRecords: readonly EmptyPart[];
  /** Every input record in arrival order; bisection splits on these. */
  readonly records: readonly RecordRef[];
  /** Sequence number of the last record: the checkpoint after this batch. */
  readonly lastSequenceNumber: string;
}

/**
 * A classified batch with its complete plan. Every part of it the writer may send on its own (a
 * bisection half, the rest after a partly committed bisection) is planned again for its own
 * entries: a duplicate or an older version whose twin or successor is in the other half must be
 * stored by its own part.
 */
export interface ClassifiedBatch extends BatchRows {
  /** The two halves bisection commits separately (the first holds the extra record of an odd count). */
  halves(): [ClassifiedBatch, ClassifiedBatch];
  /** The records after `sequenceNumber` (already committed through it). */
  after(sequenceNumber: string): ClassifiedBatch;
}

/** The unplanned parts of a batch, in arrival order. */
export interface BatchParts {
  readonly valid: readonly ValidEntry[];
  readonly quarantined: readonly QuarantineEntry[];
  /** @default none */
  readonly emptyRecords?: readonly EmptyPart[];
  readonly records: readonly RecordRef[];
}

/** Validates one record's data; the processor's is validateRecord (the re-drive's tests pass others). */
export type RecordValidator = (data: Uint8Array, maxRecordBytes: number) => ValidationResult;

/** Splits a GetRecords batch into resources to persist and records to quarantine, and plans it. Pure. */
export function classify(
  records: readonly StreamRecord[],
  maxRecordBytes: number,
  validate: RecordValidator = validateRecord,
): ClassifiedBatch {
  return classifyRecords(
    records.map((r) => ({ sequenceNumber: r.SequenceNumber!, partitionKey: r.PartitionKey ?? '', payload: r.Data ?? new Uint8Array() })),
    maxRecordBytes,
    validate,
  );
}

/** classify() for records already in the processor's form (a re-drive's quarantine rows, each with its origin). Pure. */
export function classifyRecords(
  records: readonly RecordRef[],
  maxRecordBytes: number,
  validate: RecordValidator = validateRecord,
): ClassifiedBatch {
  const valid: ValidEntry[] = [];
  const quarantined: QuarantineEntry[] = [];
  const empty: EmptyPart[] = [];
  const limits = decodeLimits(maxRecordBytes);
  for (const { sequenceNumber, partitionKey, payload, origin, part } of records) {
    // A KPL aggregate, a compressed payload or NDJSON yields several parts, each validated on its own.
    for (const decoded of decodeRecord(payload, partitionKey, limits, validate)) {
      const { result } = decoded;
      const at = position(
        sequenceNumber,
        part ? { subSequenceNumber: part.subSequenceNumber, line: part.line || decoded.line } : decoded,
        origin,
      );
      if (!result.ok) {
        quarantined.push({
          ...at,
          partitionKey: decoded.partitionKey,
          reason: result.reason,
          detail: result.detail,
          payload: Buffer.from(decoded.payload),
        });
        continue;
      }
      if (result.resources.length === 0) empty.push(at);
      result.resources.forEach((r, entryIndex) => {
        // The producer contract: partition key = patient id. Used only when the resource names no patient.
        const fallback = r.patientId === null;
        valid.push({
          ...at,
          entryIndex,
          resourceType: r.resourceType,
          id: r.id,
          versionId: r.versionId,
          lastUpdated: r.lastUpdated,
          patientId: r.patientId ?? decoded.partitionKey,
          patientFromPartitionKey: fallback,
          json: r.json,
          // Stryker disable next-line ObjectLiteral: position() has already put the origin in `at`
          ...(origin ? { origin } : {}),
        });
      });
    }
  }
  return planBatch({ valid, quarantined, emptyRecords: empty, records });
}

/** A part's position; sub-positions of 0 (a whole plain record) are left out, as before aggregation existed. */
function position(sequenceNumber: string, at: SubPosition, origin: RecordOrigin | undefined) {
  return {
    sequenceNumber,
    ...(at.subSequenceNumber !== 0 ? { subSequenceNumber: at.subSequenceNumber } : {}),
    ...(at.line !== 0 ? { line: at.line } : {}),
    ...(origin ? { origin } : {}),
  };
}

/** The batch's plan: in-batch duplicates and the newest version of each resource, for it and each part of it. Pure. */
export function planBatch(parts: BatchParts): ClassifiedBatch {
  const { records } = parts;
  return {
    valid: withPlan(parts.valid),
    quarantined: parts.quarantined,
    emptyRecords: parts.emptyRecords ?? [],
    records,
    lastSequenceNumber: records[records.length - 1]?.sequenceNumber ?? '',
    halves: () => {
      const mid = Math.ceil(records.length / 2);
      return [subBatch(parts, records.slice(0, mid)), subBatch(parts, records.slice(mid))];
    },
    after: (sequenceNumber) =>
      subBatch(
        parts,
        records.filter((r) => compareSequence(r.sequenceNumber, sequenceNumber) > 0),
      ),
  };
}

/** The sub-batch holding only the given records (in arrival order), planned on its own. */
export function subBatch(batch: BatchParts, records: readonly RecordRef[]): ClassifiedBatch {
  const keep = new Set(records.map((r) => r.sequenceNumber));
  return planBatch({
    valid: batch.valid.filter((v) => keep.has(v.sequenceNumber)),
    quarantined: batch.quarantined.filter((q) => keep.has(q.sequenceNumber)),
    emptyRecords: batch.emptyRecords?.filter((e) => keep.has(e.sequenceNumber)),
    records,
  });
}

/** Kinesis sequence numbers are decimal strings of up to 128 digits: compare as integers. */
export function compareSequence(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Numeric-aware versionId order: both all digits compare as numbers, otherwise by code point. */
export function compareVersionId(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = BigInt(a),
      y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The ordering fields of one version of a resource. */
export type VersionOrder = Pick<ValidEntry, 'lastUpdated' | 'versionId' | 'sequenceNumber' | 'subSequenceNumber' | 'line' | 'entryIndex'>;

/**
 * Does version `n` replace version `c`? Newer meta.lastUpdated when both have one, then a
 * numeric-aware meta.versionId when both have one, then arrival order (Kinesis sequence number,
 * KPL sub-sequence number, NDJSON line, then Bundle entry index). The database applies the same
 * rule (fhir_is_newer).
 */
export function isNewer(n: VersionOrder, c: VersionOrder): boolean {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: Date.parse(undefined) is NaN, which the next check passes over as this one does
  if (n.lastUpdated !== undefined && c.lastUpdated !== undefined) {
    const x = Date.parse(n.lastUpdated),
      y = Date.parse(c.lastUpdated);
    if (!Number.isNaN(x) && !Number.isNaN(y) && x !== y) return x > y;
  }
  // Stryker disable next-line ConditionalExpression,LogicalOperator: compareVersionId orders undefined equal to anything (both < and > are false), which falls through as this check does
  if (n.versionId !== undefined && c.versionId !== undefined) {
    const cmp = compareVersionId(n.versionId, c.versionId);
    if (cmp !== 0) return cmp > 0;
  }
  const seq = compareSequence(n.sequenceNumber, c.sequenceNumber);
  if (seq !== 0) return seq > 0;
  const sub = (n.subSequenceNumber ?? 0) - (c.subSequenceNumber ?? 0);
  if (sub !== 0) return sub > 0;
  const line = (n.line ?? 0) - (c.line ?? 0);
  return line !== 0 ? line > 0 : n.entryIndex > c.entryIndex;
}

/**
 * Per entry (same order): in-batch duplicates and the newest version of each resource. Pure.
 * Content is compared by the hash of its canonical text, as the database keys history
 * (write.ts), and only for a resource that occurs more than once in the batch: the others cannot
 * be duplicates, and most batches have no resource twice.
 */
export function planEntries(entries: readonly ValidEntry[]): EntryPlan[] {
  const occurrences = new Map<string, number>();
  for (const e of entries) {
    const key = `${e.resourceType}/${e.id}`;
    occurrences.set(key, (occurrences.get(key) ?? 0) + 1);
  }
  const seen = new Set<string>();
  const newest = new Map<string, number>();
  const dup = entries.map((e) => {
    const resource = `${e.resourceType}/${e.id}`;
    if (occurrences.get(resource) === 1) return false;
    const key = `${resource}/${contentHash(canonicalText(e.json))}`;
    if (seen.has(key)) return true;
    seen.add(key);
    return false;
  });
  entries.forEach((e, i) => {
    if (dup[i]) return;
    const key = `${e.resourceType}/${e.id}`;
    const best = newest.get(key);
    if (best === undefined || isNewer(e, entries[best])) newest.set(key, i);
  });
  const winners = new Set(newest.values());
  return entries.map((_, i) => ({ duplicateInBatch: dup[i], candidate: winners.has(i) }));
}

/** The entries (same order) with their plan. Pure. */
export function withPlan(entries: readonly ValidEntry[]): PlannedEntry[] {
  const plan = planEntries(entries);
  return entries.map((e, i) => ({ ...e, ...plan[i] }));
}
