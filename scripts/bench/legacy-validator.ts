// The processor's validator before issue 10 (git show 4ff23ff:lib/processor/fhir/validate.ts + schemas.ts),
// kept verbatim (imports adjusted) only as the baseline of scripts/bench/validator.ts. Not used at run time.
/**
 * JSON Schemas for the FHIR R4 resources the pipeline accepts, following the R4 specification
 * (hl7.org/fhir/R4) for the elements we rely on. Elements not listed are allowed and stored.
 */
const id = { type: 'string', pattern: '^[A-Za-z0-9\\-\\.]{1,64}$' } as const;
const instant = {
  type: 'string',
  pattern:
    '^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,9})?(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$',
} as const;
const dateTime = {
  type: 'string',
  pattern:
    '^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,9})?)?)?(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)?)?)?$',
} as const;
const date = {
  type: 'string',
  pattern: '^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$',
} as const;
const uri = { type: 'string', pattern: '^\\S*$', minLength: 1 } as const;
const code = { type: 'string', pattern: '^[^\\s]+( [^\\s]+)*$' } as const;

const coding = {
  type: 'object',
  properties: { system: uri, version: { type: 'string' }, code, display: { type: 'string' }, userSelected: { type: 'boolean' } },
} as const;
const codeableConcept = {
  type: 'object',
  properties: { coding: { type: 'array', items: coding }, text: { type: 'string' } },
  anyOf: [{ required: ['coding'] }, { required: ['text'] }],
} as const;
const patientReference = {
  type: 'object',
  required: ['reference'],
  properties: { reference: { type: 'string', pattern: '^Patient/[A-Za-z0-9\\-\\.]{1,64}$' }, display: { type: 'string' } },
} as const;
const period = { type: 'object', properties: { start: dateTime, end: dateTime } } as const;
const meta = {
  type: 'object',
  required: ['versionId', 'lastUpdated'],
  properties: { versionId: id, lastUpdated: instant, profile: { type: 'array', items: uri } },
} as const;

function resource(resourceType: string, required: string[], properties: Record<string, unknown>) {
  return {
    $id: `fhir-r4-${resourceType}`,
    type: 'object',
    required: ['resourceType', 'id', 'meta', ...required],
    properties: { resourceType: { const: resourceType }, id, meta, ...properties },
  };
}

export const PATIENT_SCHEMA = resource('Patient', [], {
  identifier: { type: 'array', items: { type: 'object', properties: { system: uri, value: { type: 'string' } } } },
  active: { type: 'boolean' },
  name: {
    type: 'array',
    items: {
      type: 'object',
      properties: { use: code, family: { type: 'string' }, given: { type: 'array', items: { type: 'string' } }, text: { type: 'string' } },
    },
  },
  gender: { enum: ['male', 'female', 'other', 'unknown'] },
  birthDate: date,
  deceasedBoolean: { type: 'boolean' },
  deceasedDateTime: dateTime,
});

export const OBSERVATION_SCHEMA = resource('Observation', ['status', 'code', 'subject'], {
  status: { enum: ['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error', 'unknown'] },
  category: { type: 'array', items: codeableConcept },
  code: codeableConcept,
  subject: patientReference,
  effectiveDateTime: dateTime,
  issued: instant,
  valueQuantity: { type: 'object', properties: { value: { type: 'number' }, unit: { type: 'string' }, system: uri, code } },
  valueString: { type: 'string' },
  valueCodeableConcept: codeableConcept,
});

export const ENCOUNTER_SCHEMA = resource('Encounter', ['status', 'class', 'subject'], {
  status: { enum: ['planned', 'arrived', 'triaged', 'in-progress', 'onleave', 'finished', 'cancelled', 'entered-in-error', 'unknown'] },
  class: coding,
  type: { type: 'array', items: codeableConcept },
  subject: patientReference,
  period,
});

export const SCHEMAS = { Patient: PATIENT_SCHEMA, Observation: OBSERVATION_SCHEMA, Encounter: ENCOUNTER_SCHEMA } as const;
export type SupportedResourceType = keyof typeof SCHEMAS;
export const SUPPORTED_RESOURCE_TYPES = Object.keys(SCHEMAS) as SupportedResourceType[];
import Ajv, { ValidateFunction } from 'ajv';

/** Why a record was quarantined. Stable codes: dashboards and runbooks key on them. */
export type QuarantineReason =
  | 'TOO_LARGE'
  | 'NOT_UTF8'
  | 'NOT_JSON'
  | 'NOT_A_RESOURCE'
  | 'UNSUPPORTED_RESOURCE_TYPE'
  | 'INVALID_FHIR'
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
const validators = Object.fromEntries(SUPPORTED_RESOURCE_TYPES.map((type) => [type, ajv.compile(SCHEMAS[type])])) as Record<
  SupportedResourceType,
  ValidateFunction
>;

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
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    typeof (value as { resourceType?: unknown }).resourceType !== 'string'
  ) {
    return invalid('NOT_A_RESOURCE', 'payload is not a JSON object with a resourceType');
  }
  const resourceType = (value as { resourceType: string }).resourceType;
  if (!(SUPPORTED_RESOURCE_TYPES as string[]).includes(resourceType)) {
    return invalid('UNSUPPORTED_RESOURCE_TYPE', `resourceType must be one of ${SUPPORTED_RESOURCE_TYPES.join(', ')}`);
  }
  const validate = validators[resourceType as SupportedResourceType];
  if (!validate(value)) {
    const error = validate.errors![0];
    return invalid(
      'INVALID_FHIR',
      `${resourceType}${error.instancePath || ''} ${error.keyword}: ${error.message ?? 'invalid'}`.slice(0, 500),
    );
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
