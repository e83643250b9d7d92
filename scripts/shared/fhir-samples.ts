/**
 * Realistic synthetic FHIR R4 records (no real person's data) and the invalid kinds the
 * processor must quarantine. Deterministic for a given seed.
 */
import { gzipSync } from 'zlib';

export interface SampleRecord {
  readonly partitionKey: string;
  readonly data: Buffer;
  /** Expected outcome: a persisted resource key, or a quarantine reason. */
  readonly expect: { readonly kind: 'valid'; readonly key: string } | { readonly kind: 'invalid'; readonly reason: string };
}

const GIVEN = ['Amara', 'Ben', 'Chloe', 'Dev', 'Elif', 'Finn', 'Grace', 'Hamza', 'Isla', 'Jonah', 'Keira', 'Luca'];
const FAMILY = ['Okafor', 'Smith', 'Novak', 'Patel', 'Yilmaz', 'Murphy', 'Kowalski', 'Haddad', 'Evans', 'Silva'];
const LOINC = [
  { code: '8867-4', display: 'Heart rate', unit: '/min', low: 50, high: 120 },
  { code: '8310-5', display: 'Body temperature', unit: 'Cel', low: 35.5, high: 39.5 },
  { code: '2339-0', display: 'Glucose [Mass/volume] in Blood', unit: 'mg/dL', low: 70, high: 180 },
  { code: '29463-7', display: 'Body weight', unit: 'kg', low: 3, high: 140 },
];

export function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)];

function meta(version: number, at: Date) {
  return { versionId: String(version), lastUpdated: at.toISOString() };
}

export function patient(id: string, version: number, at: Date, rand: () => number) {
  return {
    resourceType: 'Patient',
    id,
    meta: meta(version, at),
    identifier: [{ system: 'https://example.org/fhir/mrn', value: `MRN-${id}` }],
    active: true,
    name: [{ use: 'official', family: pick(rand, FAMILY), given: [pick(rand, GIVEN)] }],
    gender: pick(rand, ['male', 'female', 'other', 'unknown']),
    birthDate: `${1940 + Math.floor(rand() * 80)}-0${1 + Math.floor(rand() * 9)}-1${Math.floor(rand() * 9)}`,
  };
}

export function observation(id: string, patientId: string, version: number, at: Date, rand: () => number) {
  const test = pick(rand, LOINC);
  return {
    resourceType: 'Observation',
    id,
    meta: meta(version, at),
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: test.code, display: test.display }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: at.toISOString(),
    valueQuantity: {
      value: Math.round((test.low + rand() * (test.high - test.low)) * 10) / 10,
      unit: test.unit,
      system: 'http://unitsofmeasure.org',
      code: test.unit,
    },
  };
}

export function encounter(id: string, patientId: string, version: number, at: Date) {
  return {
    resourceType: 'Encounter',
    id,
    meta: meta(version, at),
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
    subject: { reference: `Patient/${patientId}` },
    period: { start: at.toISOString(), end: new Date(at.getTime() + 1_800_000).toISOString() },
  };
}

function valid(resource: { resourceType: string; id: string; meta: { versionId: string } }, patientId: string): SampleRecord {
  return {
    partitionKey: patientId,
    data: Buffer.from(JSON.stringify(resource)),
    expect: { kind: 'valid', key: `${resource.resourceType}/${resource.id}/${resource.meta.versionId}` },
  };
}

const MIB_OF_ZEROS_GZIPPED = gzipSync(Buffer.alloc(1_048_576));

/** The invalid kinds, one of each, with the reason code the processor must give. */
export function invalidSamples(n: number, rand: () => number, runId = 'x'): SampleRecord[] {
  const base = new Date('2026-11-01T09:00:00Z');
  const key = (name: string) => `${runId}-${name}`;
  const kinds: Array<() => SampleRecord> = [
    () => ({
      partitionKey: key('bad'),
      data: Buffer.from('{"resourceType": "Patient", "id": '),
      expect: { kind: 'invalid', reason: 'NOT_JSON' },
    }),
    () => ({ partitionKey: key('bad'), data: Buffer.from([0xff, 0xfe, 0x00, 0x41]), expect: { kind: 'invalid', reason: 'NOT_UTF8' } }),
    () => ({ partitionKey: key('bad'), data: Buffer.from('[1,2,3]'), expect: { kind: 'invalid', reason: 'NOT_A_RESOURCE' } }),
    () => ({
      partitionKey: key('bad'),
      data: Buffer.from(JSON.stringify({ resourceType: 'Medication', id: 'm1', meta: meta(1, base) })),
      expect: { kind: 'invalid', reason: 'UNSUPPORTED_RESOURCE_TYPE' },
    }),
    // An impossible calendar date (R4 dates are real dates).
    () => {
      const p = patient('p-baddate', 1, base, rand) as Record<string, unknown>;
      p.birthDate = '2023-02-30';
      return { partitionKey: key('baddate'), data: Buffer.from(JSON.stringify(p)), expect: { kind: 'invalid', reason: 'INVALID_FHIR' } };
    },
    // Two values of one choice element (value[x]) at once.
    () => {
      const o = observation('o-twovalues', 'p1', 1, base, rand) as Record<string, unknown>;
      o.valueString = 'also a string';
      return { partitionKey: key('p1'), data: Buffer.from(JSON.stringify(o)), expect: { kind: 'invalid', reason: 'INVALID_FHIR' } };
    },
    () => {
      const e = encounter('e-nostatus', 'p1', 1, base) as Record<string, unknown>;
      delete e.status;
      return { partitionKey: key('p1'), data: Buffer.from(JSON.stringify(e)), expect: { kind: 'invalid', reason: 'INVALID_FHIR' } };
    },
    // No stream delivers a record over the processor's limit (it is never lower than the stream's): the
    // oversized record a producer can send is compressed. 161 gzip members of 1 MiB each inflate past
    // the bound of any allowed MAX_RECORD_BYTES (16 x 10 MiB) from about 170 KB.
    () => ({
      partitionKey: key('big'),
      data: Buffer.concat(Array(161).fill(MIB_OF_ZEROS_GZIPPED)),
      expect: { kind: 'invalid', reason: 'INFLATED_TOO_LARGE' },
    }),
    () => {
      const p = patient('p-nul', 1, base, rand);
      p.name[0].family = 'Nul\u0000Byte';
      return { partitionKey: key('nul'), data: Buffer.from(JSON.stringify(p)), expect: { kind: 'invalid', reason: 'UNSTORABLE' } };
    },
  ];
  return Array.from({ length: n }, (_, i) => kinds[i % kinds.length]());
}

/**
 * `count` valid records across `patients` patients: each patient's record, then observations
 * and encounters referring to it. Ids include `runId` so runs never collide.
 */
export function validSamples(count: number, options: { seed?: number; patients?: number; runId?: string } = {}): SampleRecord[] {
  const rand = prng(options.seed ?? 42);
  const runId = options.runId ?? 'r';
  const patients = Math.max(1, Math.min(options.patients ?? Math.ceil(count / 10), count));
  const start = Date.parse('2026-11-01T08:00:00Z');
  const out: SampleRecord[] = [];
  for (let i = 0; i < count; i++) {
    const p = i % patients;
    const patientId = `${runId}-p${p}`;
    const at = new Date(start + i * 1000);
    if (i < patients) out.push(valid(patient(patientId, 1, at, rand), patientId));
    else if (rand() < 0.7) out.push(valid(observation(`${runId}-o${i}`, patientId, 1, at, rand), patientId));
    else out.push(valid(encounter(`${runId}-e${i}`, patientId, 1, at), patientId));
  }
  return out;
}
