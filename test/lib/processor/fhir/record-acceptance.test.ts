/**
 * Which records the processor accepts, which it quarantines and why, and which patient each accepted
 * resource is filed under: the rules a producer and an operator reading the quarantine rely on.
 */
import { ValidationResult, ValidRecord, validateRecord } from '../../../../lib/processor/fhir/validate';

const MAX = 262_144;
const validate = (v: unknown): ValidationResult => validateRecord(Buffer.from(JSON.stringify(v)), MAX);
const ok = (r: ValidationResult): ValidRecord => {
  if (!r.ok) throw new Error(`expected a valid record, got ${r.reason}: ${r.detail}`);
  return r;
};
const observation = (subject: unknown, id = 'o1') => ({ resourceType: 'Observation', id, status: 'final', code: { text: 'x' }, subject });

describe('payloads that are JSON but not a resource', () => {
  test.each([
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"Patient"'],
    ['true', 'true'],
    ['an array of resources', '[{"resourceType":"Patient","id":"p"}]'],
    ['an object without resourceType', '{"id":"p"}'],
    ['an object whose resourceType is not a string', '{"resourceType":7,"id":"p"}'],
  ])('%s is quarantined NOT_A_RESOURCE', (_name, text) => {
    expect(validateRecord(Buffer.from(text), MAX)).toEqual({
      ok: false,
      reason: 'NOT_A_RESOURCE',
      detail: 'payload is not a JSON object with a string resourceType',
    });
  });

  test('a resourceType R4 does not define is quarantined as unsupported, saying so rather than listing the compartment', () => {
    expect(validateRecord(Buffer.from('{"resourceType":"Nope","id":"x"}'), MAX)).toEqual({
      ok: false,
      reason: 'UNSUPPORTED_RESOURCE_TYPE',
      detail: 'resourceType is not an R4 resource type',
    });
  });
});

describe('characters FHIR strings may not hold', () => {
  test.each([
    ['\\b', 'a backspace'],
    ['\\f', 'a form feed'],
    ['\\u0007', 'a bell'],
  ])('%s (%s) in a string is INVALID_FHIR, naming the element', (escape) => {
    const text = `{"resourceType":"Patient","id":"p1","name":[{"family":"a${escape}b"}]}`;
    expect(validateRecord(Buffer.from(text), MAX)).toEqual({
      ok: false,
      reason: 'INVALID_FHIR',
      detail: 'Patient.name[0].family control-character: contains a control character below U+0020 other than tab, CR, LF',
    });
  });
});

describe('payloads that are not UTF-8 JSON', () => {
  test('bytes that are not UTF-8 are quarantined NOT_UTF8, saying so', () => {
    expect(validateRecord(Buffer.from([0xff, 0xfe, 0x00, 0x41]), MAX)).toEqual({
      ok: false,
      reason: 'NOT_UTF8',
      detail: 'payload is not valid UTF-8',
    });
  });
});

describe('the record size limit', () => {
  const patient = Buffer.from(JSON.stringify({ resourceType: 'Patient', id: 'p1', name: [{ family: 'Example' }] }));

  test('a record of exactly the limit is accepted; one byte over is TOO_LARGE, naming both sizes', () => {
    expect(validateRecord(patient, patient.byteLength).ok).toBe(true);
    expect(validateRecord(patient, patient.byteLength - 1)).toEqual({
      ok: false,
      reason: 'TOO_LARGE',
      detail: `${patient.byteLength} bytes exceeds the ${patient.byteLength - 1}-byte limit`,
    });
  });
});

describe('Bundles that carry no records to store', () => {
  const entry = { fullUrl: 'http://h/fhir/Patient/a', resource: { resourceType: 'Patient', id: 'a' } };

  test.each(['batch-response', 'transaction-response', 'history', 'document', 'message'])(
    'a %s Bundle is quarantined, not unpacked',
    (type) => {
      expect(validate({ resourceType: 'Bundle', type, entry: [entry] })).toEqual({
        ok: false,
        reason: 'UNSUPPORTED_RESOURCE_TYPE',
        detail: `Bundle.type ${type}: only collection/batch/transaction/searchset bundles are unpacked into stored resources`,
      });
    },
  );

  test('a Bundle whose type R4 does not define is INVALID_FHIR at Bundle.type, not an unsupported type', () => {
    expect(validate({ resourceType: 'Bundle', type: 'nonsense', entry: [entry] })).toEqual({
      ok: false,
      reason: 'INVALID_FHIR',
      detail: 'Bundle.type code: code not in the required value set',
    });
  });

  test('an unpacked Bundle reports its type', () => {
    expect(ok(validate({ resourceType: 'Bundle', type: 'collection', entry: [entry] })).bundleType).toBe('collection');
  });
});

describe('the patient of a resource in a Bundle', () => {
  const encounterUrl = 'urn:uuid:0f4e2b5c-6d7a-4b8c-9d0e-1f2a3b4c5d6e';
  const patientUrl = 'urn:uuid:1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
  const encounter = { resourceType: 'Encounter', id: 'e1', status: 'finished', class: { code: 'AMB' }, subject: { reference: patientUrl } };

  test('an Observation whose subject is an Encounter entry of the Bundle names no patient; one pointing at the Patient entry does', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { fullUrl: patientUrl, resource: { resourceType: 'Patient', id: 'p-42' } },
        { fullUrl: encounterUrl, resource: encounter },
        { fullUrl: 'urn:uuid:2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e', resource: observation({ reference: encounterUrl }, 'o-enc') },
        { fullUrl: 'urn:uuid:3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f', resource: observation({ reference: patientUrl }, 'o-pat') },
      ],
    };
    expect(ok(validate(bundle)).resources.map((r) => [r.id, r.patientId])).toEqual([
      ['p-42', 'p-42'],
      ['e1', 'p-42'],
      ['o-enc', null],
      ['o-pat', 'p-42'],
    ]);
  });

  test('a Patient entry without an id takes the uuid of its fullUrl, and its references resolve to it', () => {
    const uuid = '4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a';
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: `urn:uuid:${uuid}`,
          resource: { resourceType: 'Patient', name: [{ family: 'X' }] },
          request: { method: 'POST', url: 'Patient' },
        },
        {
          fullUrl: 'http://h/fhir/Observation/o9',
          resource: observation({ reference: `urn:uuid:${uuid}` }, 'o9'),
          request: { method: 'PUT', url: 'Observation/o9' },
        },
      ],
    };
    expect(ok(validate(bundle)).resources.map((r) => [r.id, r.patientId])).toEqual([
      [uuid, uuid],
      ['o9', uuid],
    ]);
  });

  test('an entry without an id whose fullUrl is not a urn:uuid is INVALID_FHIR, naming the entry', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ fullUrl: 'urn:uuid:not-a-uuid', resource: { ...observation({ reference: 'Patient/p' }), id: undefined } }],
    };
    expect(validate(bundle)).toEqual({
      ok: false,
      reason: 'INVALID_FHIR',
      detail:
        'Bundle.entry[0].resource.id required: no id and no urn:uuid fullUrl to take one from (a deliberate divergence from R4, which allows none)',
    });
  });

  test('an entry without an id takes one only from a fullUrl that is exactly urn:uuid:<uuid>', () => {
    const uuid = '4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a';
    const withFullUrl = (fullUrl: string) =>
      validate({ resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl, resource: { resourceType: 'Patient' } }] });
    expect(ok(withFullUrl(`urn:uuid:${uuid.toUpperCase()}`)).resources.map((r) => r.id)).toEqual([uuid.toUpperCase()]);
    for (const fullUrl of [`urn:uuid:${uuid}0`, `xurn:uuid:${uuid}`, `http://h/fhir/Patient/${uuid}`])
      expect(withFullUrl(fullUrl)).toMatchObject({
        ok: false,
        reason: 'INVALID_FHIR',
        detail: expect.stringMatching(/^Bundle\.entry\[0\]\.resource\.id required:/),
      });
  });

  test('an entry without a resource (a DELETE) is quarantined as unsupported, naming the entry', () => {
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: 'Patient/p1' } }] };
    expect(validate(bundle)).toEqual({
      ok: false,
      reason: 'UNSUPPORTED_RESOURCE_TYPE',
      detail: 'Bundle.entry[0].resource: an entry without a resource (e.g. a DELETE) has nothing to store',
    });
  });
});

describe('resources outside the Patient compartment', () => {
  test('a standalone Organization is quarantined as unsupported, naming what is supported', () => {
    expect(validate({ resourceType: 'Organization', id: 'org1', name: 'Clinic' })).toEqual({
      ok: false,
      reason: 'UNSUPPORTED_RESOURCE_TYPE',
      detail: expect.stringMatching(
        /^Organization is not in the R4 Patient compartment; supported: .*Bundles of type collection\/batch\/transaction\/searchset$/,
      ),
    });
  });

  test('a Bundle entry of such a type is quarantined, naming the entry', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ fullUrl: 'http://h/fhir/Organization/org1', resource: { resourceType: 'Organization', id: 'org1' } }],
    };
    expect(validate(bundle)).toEqual({
      ok: false,
      reason: 'UNSUPPORTED_RESOURCE_TYPE',
      detail: 'Bundle.entry[0].resource: Organization is not in the R4 Patient compartment',
    });
  });

  test('a resource without an id is INVALID_FHIR', () => {
    expect(validate({ resourceType: 'Patient', name: [{ family: 'X' }] })).toEqual({
      ok: false,
      reason: 'INVALID_FHIR',
      detail: 'Patient.id required: a stored resource needs an id (a deliberate divergence from R4, which allows none)',
    });
  });
});

describe('the patient of a standalone resource', () => {
  test('references that are not objects or whose reference is not a string name no patient', () => {
    expect(ok(validate(observation({ display: 'someone' }))).resources[0].patientId).toBeNull();
    const bundleOnly = { reference: 'urn:uuid:5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b' };
    expect(ok(validate(observation(bundleOnly))).resources[0].patientId).toBeNull();
  });

  test('a Patient id longer than 64 characters in a reference names no patient', () => {
    expect(ok(validate(observation({ reference: `Patient/${'a'.repeat(65)}` }))).resources[0].patientId).toBeNull();
    expect(ok(validate(observation({ reference: `Patient/${'a'.repeat(64)}` }))).resources[0].patientId).toBe('a'.repeat(64));
  });

  test('a reference that only ends in Patient/<id> after another segment (xPatient/1) names no patient', () => {
    expect(ok(validate(observation({ reference: 'xPatient/1' }))).resources[0].patientId).toBeNull();
  });

  test('a reference with more after the Patient id, or a version longer than 64 characters, names no patient', () => {
    expect(ok(validate(observation({ reference: 'Patient/p1/extra' }))).resources[0].patientId).toBeNull();
    expect(ok(validate(observation({ reference: `Patient/p1/_history/${'1'.repeat(65)}` }))).resources[0].patientId).toBeNull();
    expect(ok(validate(observation({ reference: `Patient/p1/_history/${'1'.repeat(64)}` }))).resources[0].patientId).toBe('p1');
  });

  test('a local reference (#...) names no patient, even one that reads like a Patient reference', () => {
    expect(ok(validate(observation({ reference: '#x/Patient/p1' }))).resources[0].patientId).toBeNull();
  });
});
