import type { ValidationResult, ValidRecord } from '../../lib/processor/fhir/validate';
import type { ValidEntry } from '../../lib/processor/records';
import { Json } from '../../scripts/shared/fhir-fuzz';

/** The smallest valid R4 Observation (o1, of patient p1), with `extra` elements added or replaced. */
export const observationOf = (extra: Json = {}): Json => ({
  resourceType: 'Observation',
  id: 'o1',
  status: 'final',
  code: { text: 'x' },
  subject: { reference: 'Patient/p1' },
  ...extra,
});

/** The stored record a test expects `result` to be; if it was quarantined, the error says why. */
export function accepted(result: ValidationResult): ValidRecord {
  if (!result.ok) throw new Error(`expected a valid record, got ${result.reason}: ${result.detail}`);
  return result;
}

/** The valid entry of Patient `id` read at `sequenceNumber` (its own patient); `extra` sets its JSON text (default: the bare Patient), position or version. */
export const patientEntry = (sequenceNumber: string, id: string, extra: Partial<ValidEntry> = {}): ValidEntry => ({
  sequenceNumber,
  entryIndex: 0,
  resourceType: 'Patient',
  id,
  patientId: id,
  patientFromPartitionKey: false,
  json: JSON.stringify({ resourceType: 'Patient', id }),
  ...extra,
});
