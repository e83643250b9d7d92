/**
 * validateRecord over real FHIR R4 (the HL7 examples and Synthea records, accepted or rejected as a whole) and over
 * fuzzed invalid records: what every record becomes. The rules one by one are in validate.test.ts.
 */
import { RESOURCE_TYPES } from '../../../../lib/processor/fhir/definitions';
import { ValidationResult, validateRecord } from '../../../../lib/processor/fhir/validate';
import { accepted } from '../../../helpers/fhir';
import {
  acceptedCorpus,
  FuzzClass,
  fuzzCases,
  FUZZ_MAX_BYTES,
  Json,
  keys,
  loadCorpus,
  stringValues,
  transactionBundle,
} from '../../../../scripts/shared/fhir-fuzz';

const MAX = 262_144;
const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));
const validate = (v: unknown): ValidationResult => validateRecord(bytes(v), MAX);
const ok = accepted;

describe('the corpus of real FHIR R4 (HL7 examples, Synthea)', () => {
  const corpus = acceptedCorpus();

  test('holds HL7 examples and Synthea records of many Patient-compartment types', () => {
    const types = new Set(corpus.map((c) => JSON.parse(c.data.toString('utf8')).resourceType as string));
    expect(corpus.length).toBeGreaterThan(1250);
    for (const t of [
      'Patient',
      'Observation',
      'Encounter',
      'Condition',
      'Procedure',
      'MedicationRequest',
      'AllergyIntolerance',
      'Immunization',
      'DiagnosticReport',
      'DocumentReference',
      'Bundle',
    ])
      expect(types).toContain(t);
  });

  test('every record is accepted, every Bundle unpacks into its entries, every resource has an id', () => {
    const rejected: string[] = [];
    let resources = 0;
    for (const record of corpus) {
      const result = validateRecord(record.data, 1_000_000);
      if (!result.ok) {
        rejected.push(`${record.source}: ${result.reason} ${result.detail}`);
        continue;
      }
      const parsed = JSON.parse(record.data.toString('utf8')) as Json;
      if (parsed.resourceType === 'Bundle') {
        const entries = parsed.entry as Json[];
        expect(result.bundleType).toBe(parsed.type);
        expect(result.resources.map((r) => r.resourceType)).toEqual(entries.map((e) => (e.resource as Json).resourceType));
        // Each entry's canonical text (jsonb's text form of it): the same JSON value.
        expect(result.resources.map((r) => JSON.parse(r.json) as Json)).toEqual(entries.map((e) => e.resource));
      } else {
        expect(result.resources).toHaveLength(1);
        expect(result.bundleType).toBeUndefined();
        expect(result.resources[0]).toMatchObject({ resourceType: parsed.resourceType, id: parsed.id, json: record.data.toString('utf8') });
      }
      for (const r of result.resources) expect(r.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
      resources += result.resources.length;
    }
    expect(rejected).toEqual([]);
    expect(resources).toBeGreaterThan(corpus.length);
  });

  test('every Synthea record names its patient, as its reference says', () => {
    for (const record of loadCorpus('synthea')) {
      const parsed = JSON.parse(record.data.toString('utf8')) as Json;
      const [resource] = ok(validateRecord(record.data, MAX)).resources;
      const expected =
        parsed.resourceType === 'Patient'
          ? parsed.id
          : ((parsed.subject ?? parsed.patient) as { reference: string }).reference.replace('Patient/', '');
      expect(resource.patientId).toBe(expected);
    }
  });

  test('a Synthea-style transaction bundle of one patient unpacks in order, urn:uuid references resolved', () => {
    const synthea = loadCorpus('synthea').map((c) => JSON.parse(c.data.toString('utf8')) as Json);
    const patient = synthea.find((r) => r.resourceType === 'Patient')!;
    const own = synthea.filter((r) => r.resourceType !== 'Patient' && JSON.stringify(r).includes(`"Patient/${patient.id}"`));
    expect(own.length).toBeGreaterThan(10);
    const bundle = transactionBundle([patient, ...own]);
    expect(JSON.stringify(bundle)).not.toContain(`"Patient/${patient.id}"`); // all rewritten to urn:uuid
    const result = ok(validate(bundle));
    expect(result.bundleType).toBe('transaction');
    expect(result.resources.map((r) => r.id)).toEqual([patient.id, ...own.map((r) => r.id)]);
    expect(new Set(result.resources.map((r) => r.patientId))).toEqual(new Set([patient.id]));
  });

  test.each([
    ['bundle-example.json', 'UNSUPPORTED_RESOURCE_TYPE', 'Bundle.entry[1].resource: Medication is not in the R4 Patient compartment'],
    ['bundle-transaction.json', 'UNSUPPORTED_RESOURCE_TYPE', 'Bundle.entry[5].resource: an entry without a resource'],
    ['bundle-response.json', 'UNSUPPORTED_RESOURCE_TYPE', 'Bundle.type transaction-response'],
    ['document-example-dischargesummary.json', 'UNSUPPORTED_RESOURCE_TYPE', 'Bundle.type document'],
    ['message-request-link.json', 'UNSUPPORTED_RESOURCE_TYPE', 'Bundle.type message'],
    ['organization-example-f001-burgers.json', 'UNSUPPORTED_RESOURCE_TYPE', 'Organization is not in the R4 Patient compartment'],
    ['location-example.json', 'UNSUPPORTED_RESOURCE_TYPE', 'Location is not in the R4 Patient compartment'],
    ['json-edge-cases.json', 'INVALID_FHIR', 'Patient.id required'],
  ])('HL7 example %s is quarantined as %s', (file, reason, detail) => {
    const record = loadCorpus('hl7-r4-rejected').find((c) => c.source.endsWith(`/${file}`))!;
    expect(validateRecord(record.data, MAX)).toEqual({ ok: false, reason, detail: expect.stringContaining(detail) });
  });

  test('Synthea records outside the Patient compartment (Device, Organization, Practitioner, ...) are quarantined as unsupported', () => {
    const records = loadCorpus('synthea-rejected');
    expect(records.length).toBeGreaterThanOrEqual(10);
    for (const record of records)
      expect(validateRecord(record.data, MAX)).toMatchObject({ ok: false, reason: 'UNSUPPORTED_RESOURCE_TYPE' });
  });
});

describe('fuzzed invalid records', () => {
  const cases = fuzzCases(20261123);

  test('cover every class the issue names', () => {
    const classes = new Set(cases.map((c) => c.fuzzClass));
    const expected: FuzzClass[] = [
      'impossible-date',
      'time-without-zone',
      'month-with-zone',
      'wrong-json-type',
      'int32-overflow',
      'empty-string',
      'empty-array',
      'empty-object',
      'two-choice-values',
      'control-character',
      'excessive-nesting',
      'real-nul',
      'unknown-element',
      'missing-required',
      'code-not-in-value-set',
      'unsupported-type',
      'unsupported-bundle-type',
      'not-json',
      'not-utf8',
      'not-a-resource',
      'too-large',
    ];
    expect([...classes].sort()).toEqual([...expected].sort());
    expect(cases.length).toBeGreaterThan(200);
    expect(cases.filter((c) => c.path?.startsWith('Bundle.entry[')).length).toBeGreaterThan(50);
  });

  test('the generator is deterministic for a seed', () => {
    expect(fuzzCases(7).map((c) => c.data.toString('base64'))).toEqual(fuzzCases(7).map((c) => c.data.toString('base64')));
  });

  test('each is quarantined with its reason, a detail naming the path and rule, and no value or unknown key from the record', () => {
    const wrong: string[] = [];
    for (const c of cases) {
      const result = validateRecord(c.data, FUZZ_MAX_BYTES);
      if (result.ok) {
        wrong.push(`${c.name}: accepted`);
        continue;
      }
      if (result.reason !== c.reason) wrong.push(`${c.name}: ${result.reason} (expected ${c.reason}) ${result.detail}`);
      if (c.path !== null && !result.detail.startsWith(c.path))
        wrong.push(`${c.name}: detail "${result.detail}" does not start with ${c.path}`);
      if (c.rule !== null && !result.detail.includes(` ${c.rule}:`))
        wrong.push(`${c.name}: detail "${result.detail}" does not name rule ${c.rule}`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(c.data.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      const definitionNames = new Set([...RESOURCE_TYPES, 'transaction', 'document']);
      // Values of 8+ characters (shorter ones, like "text" or "other", also occur in the validator's own words).
      const content = [...stringValues(parsed), ...keys(parsed).filter((k) => k.includes('Secret'))].filter(
        (v) => v.length >= 8 && !definitionNames.has(v),
      );
      const leaked = content.filter((v) => result.detail.includes(v));
      if (leaked.length > 0) wrong.push(`${c.name}: detail quotes record content`);
      expect(result.detail).not.toContain('Zq7Secret');
    }
    expect(wrong).toEqual([]);
  });
});
