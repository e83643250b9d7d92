/**
 * JSON Schemas for the FHIR R4 resources the pipeline accepts, following the R4 specification
 * (hl7.org/fhir/R4) for the elements we rely on. Elements not listed are allowed and stored.
 */
const id = { type: 'string', pattern: '^[A-Za-z0-9\\-\\.]{1,64}$' } as const;
const instant = {
  type: 'string',
  pattern: '^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,9})?(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$',
} as const;
const dateTime = {
  type: 'string',
  pattern: '^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,9})?)?)?(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)?)?)?$',
} as const;
const date = { type: 'string', pattern: '^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$' } as const;
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
    items: { type: 'object', properties: { use: code, family: { type: 'string' }, given: { type: 'array', items: { type: 'string' } }, text: { type: 'string' } } },
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
