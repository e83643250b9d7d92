import { QuarantineReason, validateRecord } from './fhir/validate';

/** What the processor needs of a Kinesis record (the SDK's _Record satisfies it). */
export interface StreamRecord {
  readonly SequenceNumber?: string;
  readonly PartitionKey?: string;
  readonly Data?: Uint8Array;
}

export interface ValidEntry {
  readonly sequenceNumber: string;
  readonly resourceType: string;
  readonly id: string;
  readonly versionId: string;
  readonly lastUpdated: string;
  readonly patientId: string;
  readonly json: string;
}

export interface QuarantineEntry {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly reason: QuarantineReason;
  readonly detail: string;
  readonly payload: Buffer;
}

export interface ClassifiedBatch {
  readonly valid: ValidEntry[];
  readonly quarantined: QuarantineEntry[];
  /** Sequence number of the last record: the checkpoint after this batch. */
  readonly lastSequenceNumber: string;
}

/** Splits a GetRecords batch into records to persist and records to quarantine. Pure. */
export function classify(records: readonly StreamRecord[], maxRecordBytes: number): ClassifiedBatch {
  const valid: ValidEntry[] = [];
  const quarantined: QuarantineEntry[] = [];
  for (const record of records) {
    const sequenceNumber = record.SequenceNumber!;
    const data = record.Data ?? new Uint8Array();
    const result = validateRecord(data, maxRecordBytes);
    if (result.ok) {
      valid.push({ sequenceNumber, resourceType: result.resourceType, id: result.id, versionId: result.versionId, lastUpdated: result.lastUpdated, patientId: result.patientId, json: result.json });
    } else {
      quarantined.push({ sequenceNumber, partitionKey: record.PartitionKey ?? '', reason: result.reason, detail: result.detail, payload: Buffer.from(data) });
    }
  }
  return { valid, quarantined, lastSequenceNumber: records[records.length - 1]?.SequenceNumber ?? '' };
}
