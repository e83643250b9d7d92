import Ajv, { ValidateFunction } from 'ajv';
import { SCHEMAS, SUPPORTED_RESOURCE_TYPES, SupportedResourceType } from './schemas';

/** Why a record was quarantined. Stable codes: dashboards and runbooks key on them. */
export type QuarantineReason =
  | 'TOO_LARGE' | 'NOT_UTF8' | 'NOT_JSON' | 'NOT_A_RESOURCE' | 'UNSUPPORTED_RESOURCE_TYPE' | 'INVALID_FHIR'
  /** Valid FHIR that PostgreSQL cannot store (jsonb refuses \u0000), or a row the database rejected. */
  | 'UNSTORABLE';

export interface ValidResource {
  readonly ok: true;
  readonly resourceType: SupportedResourceType;
  readonly id: string;
  readonly versionId: string;
  readonly lastUpdated: string;
  readonly patientId: string;
  /** The resource as received (canonical JSON text), stored as jsonb. */
  readonly json: string;
}

export interface InvalidRecord {
  readonly ok: false;
  readonly reason: QuarantineReason;
  /** Which rule failed, by JSON path and schema keyword; never a value from the record. */
  readonly detail: string;
}

export type ValidationResult = ValidResource | InvalidRecord;

// strictRequired off: anyOf branches name properties declared on the parent object.
const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false, verbose: false });
const validators = Object.fromEntries(
  SUPPORTED_RESOURCE_TYPES.map((type) => [type, ajv.compile(SCHEMAS[type])]),
) as Record<SupportedResourceType, ValidateFunction>;

const decoder = new TextDecoder('utf-8', { fatal: true });

function invalid(reason: QuarantineReason, detail: string): InvalidRecord {
  return { ok: false, reason, detail };
}

/** Validates one Kinesis record's data as a FHIR R4 resource. Pure: no I/O. */
export function validateRecord(data: Uint8Array, maxBytes: number): ValidationResult {
  if (data.byteLength > maxBytes) return invalid('TOO_LARGE', `${data.byteLength} bytes exceeds the ${maxBytes}-byte limit`);
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    return invalid('NOT_UTF8', 'payload is not valid UTF-8');
  }
  if (text.includes('\\u0000')) return invalid('UNSTORABLE', 'contains an escaped NUL character (\\u0000), which jsonb cannot store');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // SyntaxError messages quote the offending token, which may be PHI: report only the kind.
    return invalid('NOT_JSON', `payload is not JSON (${(e as Error).name})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { resourceType?: unknown }).resourceType !== 'string') {
    return invalid('NOT_A_RESOURCE', 'payload is not a JSON object with a resourceType');
  }
  const resourceType = (value as { resourceType: string }).resourceType;
  if (!(SUPPORTED_RESOURCE_TYPES as string[]).includes(resourceType)) {
    return invalid('UNSUPPORTED_RESOURCE_TYPE', `resourceType must be one of ${SUPPORTED_RESOURCE_TYPES.join(', ')}`);
  }
  const validate = validators[resourceType as SupportedResourceType];
  if (!validate(value)) {
    const error = validate.errors![0];
    return invalid('INVALID_FHIR', `${resourceType}${error.instancePath || ''} ${error.keyword}: ${error.message ?? 'invalid'}`.slice(0, 500));
  }
  const resource = value as { id: string; meta: { versionId: string; lastUpdated: string }; subject?: { reference: string } };
  const patientId = resourceType === 'Patient' ? resource.id : resource.subject!.reference.slice('Patient/'.length);
  return {
    ok: true,
    resourceType: resourceType as SupportedResourceType,
    id: resource.id,
    versionId: resource.meta.versionId,
    lastUpdated: resource.meta.lastUpdated,
    patientId,
    json: text,
  };
}
