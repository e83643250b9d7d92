/**
 * The FHIR corpus (test/fixtures/fhir-corpus, see its SOURCES.md) and a seeded, deterministic
 * generator of invalid records made from it: each fuzz case takes a real resource, breaks exactly
 * one rule, and says which quarantine reason and which path the validator must report.
 */
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';

export const CORPUS_DIR = join(__dirname, '..', '..', 'test', 'fixtures', 'fhir-corpus');

export type Json = Record<string, unknown>;

export interface CorpusRecord {
  /** file (and line, for ndjson) it came from */
  readonly source: string;
  /** the record exactly as published */
  readonly data: Buffer;
}

/** Every record of a corpus folder: *.json files are one record each, *.ndjson one per line. */
export function loadCorpus(folder: 'hl7-r4' | 'synthea' | 'hl7-r4-rejected' | 'synthea-rejected'): CorpusRecord[] {
  const dir = join(CORPUS_DIR, folder);
  const out: CorpusRecord[] = [];
  for (const file of readdirSync(dir).sort()) {
    const text = readFileSync(join(dir, file));
    if (file.endsWith('.ndjson')) {
      text
        .toString('utf8')
        .split('\n')
        .forEach((line, i) => {
          if (line.trim()) out.push({ source: `${folder}/${file}:${i + 1}`, data: Buffer.from(line) });
        });
    } else if (file.endsWith('.json')) out.push({ source: `${folder}/${file}`, data: text });
  }
  return out;
}

/** Every accepted record of the corpus (HL7 R4 examples and Synthea). */
export function acceptedCorpus(): CorpusRecord[] {
  return [...loadCorpus('hl7-r4'), ...loadCorpus('synthea')];
}

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type FuzzClass =
  | 'impossible-date'
  | 'time-without-zone'
  | 'month-with-zone'
  | 'wrong-json-type'
  | 'int32-overflow'
  | 'empty-string'
  | 'empty-array'
  | 'empty-object'
  | 'two-choice-values'
  | 'control-character'
  | 'excessive-nesting'
  | 'real-nul'
  | 'unknown-element'
  | 'missing-required'
  | 'code-not-in-value-set'
  | 'unsupported-type'
  | 'unsupported-bundle-type'
  | 'not-json'
  | 'not-utf8'
  | 'not-a-resource'
  | 'too-large';

export interface FuzzCase {
  readonly name: string;
  readonly fuzzClass: FuzzClass;
  readonly data: Buffer;
  readonly reason: 'TOO_LARGE' | 'NOT_UTF8' | 'NOT_JSON' | 'NOT_A_RESOURCE' | 'UNSUPPORTED_RESOURCE_TYPE' | 'INVALID_FHIR' | 'UNSTORABLE';
  /** The detail must start with this path (null: the reason has no path). */
  readonly path: string | null;
  /** The rule the detail must name (null: not checked). */
  readonly rule: string | null;
}

/** Largest record the fuzz cases are meant for (the processor's default limit). */
export const FUZZ_MAX_BYTES = 262_144;

const SECRET = 'Zq7SecretValue';
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

interface Mutation {
  readonly fuzzClass: FuzzClass;
  readonly types: readonly string[];
  readonly reason: FuzzCase['reason'];
  readonly rule: string;
  /** Mutates the resource; returns the failing path below the resource type (e.g. `.birthDate`). */
  readonly apply: (r: Json, rand: () => number) => string;
}

const pick = <T>(items: readonly T[], rand: () => number): T => items[Math.floor(rand() * items.length)];
const deleteChoice = (r: Json, base: string) => {
  for (const k of Object.keys(r))
    if (k.startsWith(base) && /^[A-Z]/.test(k.slice(base.length))) {
      delete r[k];
      delete r[`_${k}`];
    }
};
const setFamily = (r: Json, value: string) => {
  r.name = [{ family: value, given: ['Ann'] }];
  delete r._name;
  return '.name[0].family';
};

const MUTATIONS: readonly Mutation[] = [
  {
    fuzzClass: 'impossible-date',
    types: ['Patient'],
    reason: 'INVALID_FHIR',
    rule: 'calendar',
    apply: (r, rand) => {
      r.birthDate = pick(['2023-02-30', '2023-02-29', '2021-04-31', '1900-02-29'], rand);
      delete r._birthDate;
      return '.birthDate';
    },
  },
  {
    fuzzClass: 'impossible-date',
    types: ['Observation'],
    reason: 'INVALID_FHIR',
    rule: 'calendar',
    apply: (r, rand) => {
      r.issued = pick(['2023-02-29T10:00:00Z', '2023-06-31T00:00:00+01:00'], rand);
      return '.issued';
    },
  },
  {
    fuzzClass: 'impossible-date',
    types: ['Condition'],
    reason: 'INVALID_FHIR',
    rule: 'calendar',
    apply: (r) => {
      r.recordedDate = '2023-02-30T08:00:00Z';
      return '.recordedDate';
    },
  },
  {
    fuzzClass: 'time-without-zone',
    types: ['Encounter'],
    reason: 'INVALID_FHIR',
    rule: 'format',
    apply: (r, rand) => {
      r.period = { start: pick(['2023-05-01T10:00:00', '2023-05-01T10:00:00.123'], rand) };
      return '.period.start';
    },
  },
  {
    fuzzClass: 'time-without-zone',
    types: ['Observation'],
    reason: 'INVALID_FHIR',
    rule: 'format',
    apply: (r) => {
      deleteChoice(r, 'effective');
      r.effectiveDateTime = '2023-05-01T10:00';
      return '.effectiveDateTime';
    },
  },
  {
    fuzzClass: 'month-with-zone',
    types: ['Observation', 'Condition'],
    reason: 'INVALID_FHIR',
    rule: 'format',
    apply: (r) => {
      deleteChoice(r, r.resourceType === 'Observation' ? 'effective' : 'onset');
      const k = r.resourceType === 'Observation' ? 'effectiveDateTime' : 'onsetDateTime';
      r[k] = '2023-05Z';
      return `.${k}`;
    },
  },
  {
    fuzzClass: 'wrong-json-type',
    types: ['Patient'],
    reason: 'INVALID_FHIR',
    rule: 'cardinality',
    apply: (r) => {
      r.address = 'x';
      return '.address';
    },
  },
  {
    fuzzClass: 'wrong-json-type',
    types: ['Observation'],
    reason: 'INVALID_FHIR',
    rule: 'type',
    apply: (r) => {
      deleteChoice(r, 'value');
      r.valueBoolean = 'yes';
      return '.valueBoolean';
    },
  },
  {
    fuzzClass: 'wrong-json-type',
    types: ['Patient'],
    reason: 'INVALID_FHIR',
    rule: 'type',
    apply: (r) => {
      r.active = 'true';
      return '.active';
    },
  },
  {
    fuzzClass: 'wrong-json-type',
    types: ['Encounter'],
    reason: 'INVALID_FHIR',
    rule: 'type',
    apply: (r) => {
      r.class = 'AMB';
      return '.class';
    },
  },
  {
    fuzzClass: 'int32-overflow',
    types: ['Observation'],
    reason: 'INVALID_FHIR',
    rule: 'int32',
    apply: (r, rand) => {
      deleteChoice(r, 'value');
      r.valueInteger = pick([2147483648, -2147483649, 9007199254740991], rand);
      return '.valueInteger';
    },
  },
  {
    fuzzClass: 'int32-overflow',
    types: ['Patient'],
    reason: 'INVALID_FHIR',
    rule: 'int32',
    apply: (r) => {
      deleteChoice(r, 'multipleBirth');
      r.multipleBirthInteger = 4294967296;
      return '.multipleBirthInteger';
    },
  },
  { fuzzClass: 'empty-string', types: ['Patient'], reason: 'INVALID_FHIR', rule: 'empty', apply: (r) => setFamily(r, '') },
  {
    fuzzClass: 'empty-string',
    types: ['Observation', 'Condition', 'Encounter'],
    reason: 'INVALID_FHIR',
    rule: 'empty',
    apply: (r) => {
      r.id = '';
      return '.id';
    },
  },
  {
    fuzzClass: 'empty-array',
    types: ['Patient', 'Observation', 'Encounter', 'Condition'],
    reason: 'INVALID_FHIR',
    rule: 'empty',
    apply: (r) => {
      r.identifier = [];
      return '.identifier';
    },
  },
  {
    fuzzClass: 'empty-object',
    types: ['Patient'],
    reason: 'INVALID_FHIR',
    rule: 'empty',
    apply: (r) => {
      r.maritalStatus = {};
      return '.maritalStatus';
    },
  },
  {
    fuzzClass: 'empty-object',
    types: ['Observation', 'Condition', 'Encounter'],
    reason: 'INVALID_FHIR',
    rule: 'empty',
    apply: (r) => {
      r.meta = {};
      return '.meta';
    },
  },
  {
    fuzzClass: 'two-choice-values',
    types: ['Observation'],
    reason: 'INVALID_FHIR',
    rule: 'choice',
    apply: (r) => {
      deleteChoice(r, 'value');
      r.valueQuantity = { value: 7.2, unit: 'mmol/L' };
      r.valueString = SECRET;
      return '.valueString';
    },
  },
  {
    fuzzClass: 'two-choice-values',
    types: ['Patient'],
    reason: 'INVALID_FHIR',
    rule: 'choice',
    apply: (r) => {
      deleteChoice(r, 'deceased');
      r.deceasedBoolean = true;
      r.deceasedDateTime = '2020-01-01';
      return '.deceasedDateTime';
    },
  },
  {
    fuzzClass: 'control-character',
    types: ['Patient'],
    reason: 'INVALID_FHIR',
    rule: 'control-character',
    apply: (r, rand) => setFamily(r, `${SECRET}${pick(['\u0007', '\u001b', '\b', '\f', '\u000b'], rand)}x`),
  },
  { fuzzClass: 'real-nul', types: ['Patient'], reason: 'UNSTORABLE', rule: 'nul', apply: (r) => setFamily(r, `${SECRET}\u0000x`) },
  {
    fuzzClass: 'real-nul',
    types: ['Observation'],
    reason: 'UNSTORABLE',
    rule: 'nul',
    apply: (r) => {
      r.note = [{ text: `line one\u0000${SECRET}` }];
      return '.note[0].text';
    },
  },
  {
    fuzzClass: 'excessive-nesting',
    types: ['Patient', 'Observation'],
    reason: 'INVALID_FHIR',
    rule: 'depth',
    apply: (r, rand) => {
      let ext: Json = { url: 'http://example.org/leaf', valueString: SECRET };
      const levels = 40 + Math.floor(rand() * 20);
      for (let i = 0; i < levels; i++) ext = { url: `http://example.org/level${i}`, extension: [ext] };
      r.extension = [ext];
      return '.extension[0]';
    },
  },
  {
    fuzzClass: 'unknown-element',
    types: ['Patient', 'Observation', 'Encounter', 'Condition'],
    reason: 'INVALID_FHIR',
    rule: 'unknown-element',
    apply: (r) => {
      r[`${SECRET}Field`] = 'x';
      return '';
    },
  },
  {
    fuzzClass: 'missing-required',
    types: ['Observation', 'Encounter', 'Condition'],
    reason: 'INVALID_FHIR',
    rule: 'required',
    apply: (r) => {
      const k = r.resourceType === 'Condition' ? 'subject' : 'status';
      delete r[k];
      delete r[`_${k}`];
      return '';
    },
  },
  {
    fuzzClass: 'code-not-in-value-set',
    types: ['Patient'],
    reason: 'INVALID_FHIR',
    rule: 'code',
    apply: (r) => {
      r.gender = SECRET;
      delete r._gender;
      return '.gender';
    },
  },
];

/** A Synthea-style transaction bundle (fullUrl urn:uuid, references rewritten to the entries' fullUrls). */
export function transactionBundle(resources: readonly Json[]): Json {
  const ids = new Set(resources.map((r) => `${r.resourceType}/${r.id}`));
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (typeof v !== 'object' || v === null) return v;
    const out: Json = {};
    for (const [k, x] of Object.entries(v))
      out[k] = k === 'reference' && typeof x === 'string' && ids.has(x) ? `urn:uuid:${x.split('/')[1]}` : rewrite(x);
    return out;
  };
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((r) => ({ fullUrl: `urn:uuid:${r.id}`, resource: rewrite(r), request: { method: 'POST', url: r.resourceType } })),
  };
}

/**
 * `perMutation` cases for each mutation (each from a different, seeded choice of corpus resource),
 * a third of them wrapped as an entry of a transaction bundle, plus the reasons that have no path.
 */
export function fuzzCases(seed: number, perMutation = 8): FuzzCase[] {
  const rand = prng(seed);
  const byType = new Map<string, Json[]>();
  for (const record of acceptedCorpus()) {
    const r = JSON.parse(record.data.toString('utf8')) as Json;
    if (r.resourceType === 'Bundle') continue;
    if (!byType.has(r.resourceType as string)) byType.set(r.resourceType as string, []);
    byType.get(r.resourceType as string)!.push(r);
  }
  const cases: FuzzCase[] = [];
  MUTATIONS.forEach((m, mi) => {
    for (let i = 0; i < perMutation; i++) {
      const type = pick(m.types, rand);
      const base = clone(pick(byType.get(type)!, rand));
      const below = m.apply(base, rand);
      if (i % 3 === 2) {
        const patient = clone(pick(byType.get('Patient')!, rand));
        const entries = [patient, base];
        const index = entries.length - 1;
        const bundle = transactionBundle(entries);
        cases.push({
          name: `${m.fuzzClass}#${mi}.${i} ${type} in Bundle.entry[${index}]`,
          fuzzClass: m.fuzzClass,
          data: Buffer.from(JSON.stringify(bundle)),
          reason: m.reason,
          path: `Bundle.entry[${index}].resource${below}`,
          rule: m.rule,
        });
      } else {
        cases.push({
          name: `${m.fuzzClass}#${mi}.${i} ${type}`,
          fuzzClass: m.fuzzClass,
          data: Buffer.from(JSON.stringify(base)),
          reason: m.reason,
          path: `${type}${below}`,
          rule: m.rule,
        });
      }
    }
  });
  const patient = () => clone(pick(byType.get('Patient')!, rand));
  cases.push(
    {
      name: 'unsupported Organization',
      fuzzClass: 'unsupported-type',
      data: Buffer.from(JSON.stringify({ resourceType: 'Organization', id: 'o1', name: SECRET })),
      reason: 'UNSUPPORTED_RESOURCE_TYPE',
      path: null,
      rule: null,
    },
    {
      name: 'unsupported entry in a bundle',
      fuzzClass: 'unsupported-type',
      data: Buffer.from(JSON.stringify(transactionBundle([patient(), { resourceType: 'Practitioner', id: 'pr1' }]))),
      reason: 'UNSUPPORTED_RESOURCE_TYPE',
      path: 'Bundle.entry[1].resource',
      rule: null,
    },
    {
      name: 'document bundle',
      fuzzClass: 'unsupported-bundle-type',
      data: Buffer.from(JSON.stringify({ ...transactionBundle([patient()]), type: 'document' })),
      reason: 'UNSUPPORTED_RESOURCE_TYPE',
      path: 'Bundle.type',
      rule: null,
    },
    {
      name: 'truncated JSON',
      fuzzClass: 'not-json',
      data: Buffer.from(JSON.stringify(patient()).slice(0, -7)),
      reason: 'NOT_JSON',
      path: null,
      rule: null,
    },
    {
      name: 'latin-1 bytes',
      fuzzClass: 'not-utf8',
      data: Buffer.concat([
        Buffer.from('{"resourceType":"Patient","id":"p","name":[{"family":"M'),
        Buffer.from([0xfc]),
        Buffer.from('ller"}]}'),
      ]),
      reason: 'NOT_UTF8',
      path: null,
      rule: null,
    },
    {
      name: 'array of resources',
      fuzzClass: 'not-a-resource',
      data: Buffer.from(JSON.stringify([patient()])),
      reason: 'NOT_A_RESOURCE',
      path: null,
      rule: null,
    },
    {
      name: 'too large',
      fuzzClass: 'too-large',
      data: Buffer.from(
        JSON.stringify({
          ...patient(),
          text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(FUZZ_MAX_BYTES)}</div>` },
        }),
      ),
      reason: 'TOO_LARGE',
      path: null,
      rule: null,
    },
  );
  return cases;
}

/** Every string value in a JSON value (for "the detail quotes nothing from the record"). */
export function stringValues(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => stringValues(x, out));
  else if (typeof v === 'object' && v !== null) Object.values(v).forEach((x) => stringValues(x, out));
  return out;
}

/** Every object key in a JSON value (an unknown key is record content too). */
export function keys(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) v.forEach((x) => keys(x, out));
  else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      keys(x, out);
    }
  return out;
}
