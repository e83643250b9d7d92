import { SUPPORTED_RESOURCE_TYPES } from '../../../../lib/processor/fhir/definitions';
import { MAX_DEPTH, validCalendarDate } from '../../../../lib/processor/fhir/structure';
import { hasRiskyEscape, ValidationResult, validateRecord } from '../../../../lib/processor/fhir/validate';
import { accepted } from '../../../helpers/fhir';
import { Json } from '../../../../scripts/shared/fhir-fuzz';

const MAX = 262_144;
const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));
const validate = (v: unknown): ValidationResult => validateRecord(bytes(v), MAX);
const ok = accepted;
const observation = (subject: unknown, extra: Json = {}): Json => ({
  resourceType: 'Observation',
  id: 'o1',
  status: 'final',
  code: { text: 'glucose' },
  subject,
  ...extra,
});

describe('validateRecord rules', () => {
  const patient: Json = { resourceType: 'Patient', id: 'p1', name: [{ family: 'Chalmers', given: ['Peter'] }], birthDate: '1974-12-25' };

  test('meta, meta.versionId and meta.lastUpdated are optional; when present they are returned', () => {
    expect(ok(validate(patient)).resources[0]).toMatchObject({
      resourceType: 'Patient',
      id: 'p1',
      versionId: undefined,
      lastUpdated: undefined,
      patientId: 'p1',
    });
    expect(ok(validate({ ...patient, meta: { profile: ['http://example.org/p'] } })).resources[0].versionId).toBeUndefined();
    expect(
      ok(validate({ ...patient, meta: { versionId: '12', lastUpdated: '2026-11-01T10:00:00.123+01:00' } })).resources[0],
    ).toMatchObject({ versionId: '12', lastUpdated: '2026-11-01T10:00:00.123+01:00' });
  });

  test('the JSON text \\u0000 (an escaped backslash) is valid and stored verbatim; a real NUL is UNSTORABLE', () => {
    const text = '{"resourceType":"Patient","id":"p1","name":[{"family":"C:\\\\u0000\\\\path"}]}';
    expect(text).toContain('\\\\u0000');
    const result = ok(validateRecord(Buffer.from(text), MAX));
    expect(result.resources[0].json).toBe(text);
    expect((JSON.parse(result.resources[0].json) as { name: { family: string }[] }).name[0].family).toBe('C:\\u0000\\path');
    const nul = validateRecord(Buffer.from('{"resourceType":"Patient","id":"p1","name":[{"family":"a\\u0000b"}]}'), MAX);
    expect(nul).toEqual({
      ok: false,
      reason: 'UNSTORABLE',
      detail: 'Patient.name[0].family nul: contains a NUL character (U+0000), which PostgreSQL jsonb cannot store',
    });
  });

  test('an unpaired surrogate escape is UNSTORABLE (jsonb refuses it); a paired one is fine', () => {
    expect(validateRecord(Buffer.from('{"resourceType":"Patient","id":"p1","name":[{"family":"a\\ud800b"}]}'), MAX)).toMatchObject({
      ok: false,
      reason: 'UNSTORABLE',
      detail: expect.stringContaining('Patient.name[0].family unpaired-surrogate'),
    });
    expect(validateRecord(Buffer.from('{"resourceType":"Patient","id":"p1","name":[{"family":"a\\ud83d\\ude00b"}]}'), MAX)).toMatchObject({
      ok: true,
    });
  });

  test.each([
    ['2023-02-28', true],
    ['2024-02-29', true],
    ['2000-02-29T00:00:00Z', true],
    ['2023-02', true],
    ['2023', true],
    ['2023-02-29', false],
    ['2023-02-30', false],
    ['1900-02-29', false],
    ['2023-04-31T10:00:00Z', false],
  ])('calendar date %s valid: %s', (value, valid) => {
    expect(validCalendarDate(value)).toBe(valid);
    expect(validate({ ...patient, birthDate: value.slice(0, 10) }).ok).toBe(valid);
  });

  test.each([
    ['a dateTime with a time but no zone', { effectiveDateTime: '2023-05-01T10:00:00' }, 'Observation.effectiveDateTime format'],
    ['a month with a zone', { effectiveDateTime: '2023-05Z' }, 'Observation.effectiveDateTime format'],
    ['valueBoolean "yes"', { valueBoolean: 'yes' }, 'Observation.valueBoolean type'],
    ['an integer beyond 32 bits', { valueInteger: 2 ** 31 }, 'Observation.valueInteger int32'],
    ['a decimal where an integer belongs', { valueInteger: 1.5 }, 'Observation.valueInteger format'],
    ['two choice values', { valueQuantity: { value: 1 }, valueString: 'x' }, 'Observation.valueString choice'],
    ['an empty array', { performer: [] }, 'Observation.performer empty'],
    ['an empty object', { code: {} }, 'Observation.code empty'],
    ['an empty string', { valueString: '' }, 'Observation.valueString empty'],
    ['a status outside its required value set', { status: 'done' }, 'Observation.status code'],
    ["Medplum's meta.project (not R4)", { meta: { project: 'x' } }, 'Observation.meta unknown-element'],
    ['a Reference.resource (Medplum-only)', { subject: { reference: 'Patient/1', resource: {} } }, 'Observation.subject unknown-element'],
    [
      'a contained resource of an unknown type',
      { contained: [{ resourceType: 'Nope', id: 'n' }] },
      'Observation.contained[0] resource-type',
    ],
    [
      'an invalid contained resource',
      { contained: [{ resourceType: 'Medication', id: 'm', batch: { expirationDate: '2023-13-01' } }] },
      'Observation.contained[0].batch.expirationDate format',
    ],
  ])('rejects %s, naming the path and rule', (_name, extra, detail) => {
    const result = validate(observation({ reference: 'Patient/1' }, extra as Json));
    expect(result).toEqual({
      ok: false,
      reason: 'INVALID_FHIR',
      detail: expect.stringMatching(new RegExp(`^${detail.replace(/[.[\]]/g, '\\$&')}:`)),
    });
  });

  test('base64Binary: alphabet characters in groups of 4, whitespace between groups allowed (R4 regex)', () => {
    const photo = (data: string) => validate({ ...patient, photo: [{ contentType: 'image/gif', data }] });
    expect(photo('R0lGODlh fgCR\nAPcA').ok).toBe(true);
    expect(photo('R0lG-Dlh')).toEqual({
      ok: false,
      reason: 'INVALID_FHIR',
      detail: 'Patient.photo[0].data format: not valid base64 (base64Binary)',
    });
    expect(photo('R0lGODl').ok).toBe(false);
  });

  test('a repeating primitive may hold null only where its _name array has an entry', () => {
    const ext = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier', valueCode: 'CL' }] };
    expect(validate({ ...patient, name: [{ family: 'X', given: ['A', null], _given: [null, ext] }] }).ok).toBe(true);
    expect(validate({ ...patient, name: [{ family: 'X', given: ['A', null] }] })).toEqual({
      ok: false,
      reason: 'INVALID_FHIR',
      detail: expect.stringMatching(/^Patient\.name\[0\]\.given\[1\] type:/),
    });
  });

  test('a required element missing is named', () => {
    const o = observation({ reference: 'Patient/1' });
    delete o.status;
    expect(validate(o)).toEqual({ ok: false, reason: 'INVALID_FHIR', detail: 'Observation required: missing required element status' });
    expect(
      validate({ resourceType: 'MedicationRequest', id: 'm', status: 'active', intent: 'order', subject: { reference: 'Patient/1' } }),
    ).toEqual({ ok: false, reason: 'INVALID_FHIR', detail: 'MedicationRequest required: missing required element medication[x]' });
  });

  test('a primitive given only by its extension (_occurrenceDateTime) satisfies the requirement', () => {
    const absent = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] };
    const immunization = {
      resourceType: 'Immunization',
      id: 'i1',
      status: 'completed',
      vaccineCode: { text: 'flu' },
      patient: { reference: 'Patient/1' },
      _occurrenceDateTime: absent,
    };
    expect(validate(immunization).ok).toBe(true);
  });

  test('a required-bound code given only by its extension (_status) does not meet the binding, as in HL7 case allergy', () => {
    const o = observation({ reference: 'Patient/1' });
    delete o.status;
    o._status = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] };
    expect(validate(o)).toEqual({
      ok: false,
      reason: 'INVALID_FHIR',
      detail: 'Observation._status code: no code: status has a required binding and only extensions',
    });
  });

  test(`nesting deeper than ${MAX_DEPTH} levels is rejected; ${MAX_DEPTH} is accepted`, () => {
    const nested = (levels: number) => {
      let ext: Json = { url: 'http://e/leaf', valueString: 'x' };
      for (let i = 1; i < levels; i++) ext = { url: 'http://e/n', extension: [ext] };
      return { ...patient, extension: [ext] };
    };
    // root object = 1, each extension level adds an array and an object: 31 levels reach 63, 32 reach 65
    expect(validate(nested(31)).ok).toBe(true);
    expect(validate(nested(32))).toMatchObject({
      ok: false,
      reason: 'INVALID_FHIR',
      detail: expect.stringMatching(/ depth: nesting deeper than 64 levels$/),
    });
  });

  test('a JSON syntax error is reported without quoting the payload', () => {
    expect(validateRecord(Buffer.from('{"name": "Secret Person", oops}'), MAX)).toEqual({
      ok: false,
      reason: 'NOT_JSON',
      detail: 'payload is not JSON (SyntaxError)',
    });
  });

  test.each([
    ['too large', Buffer.alloc(MAX + 1, 32), 'TOO_LARGE'],
    ['not UTF-8', Buffer.from([0xff, 0xfe, 0x00, 0x41]), 'NOT_UTF8'],
    ['an array', Buffer.from('[1,2,3]'), 'NOT_A_RESOURCE'],
    ['no resourceType', Buffer.from('{"id":"x"}'), 'NOT_A_RESOURCE'],
    ['an unknown resourceType', Buffer.from('{"resourceType":"Nope","id":"x"}'), 'UNSUPPORTED_RESOURCE_TYPE'],
    ['a type outside the compartment', Buffer.from('{"resourceType":"Medication","id":"x"}'), 'UNSUPPORTED_RESOURCE_TYPE'],
  ])('%s -> %s', (_name, data, reason) => {
    expect(validateRecord(data, MAX)).toMatchObject({ ok: false, reason });
  });

  test('supported types are the R4 Patient compartment plus Patient', () => {
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
      'CarePlan',
      'Claim',
      'ExplanationOfBenefit',
      'Provenance',
      'Group',
    ]) {
      expect(SUPPORTED_RESOURCE_TYPES).toContain(t);
    }
    for (const t of ['Organization', 'Practitioner', 'Medication', 'Device', 'Location', 'Bundle', 'Questionnaire'])
      expect(SUPPORTED_RESOURCE_TYPES).not.toContain(t);
    expect(SUPPORTED_RESOURCE_TYPES.size).toBe(67); // the compartment lists Patient itself (param link) among its 67 types
  });
});

describe('patient id from the Patient compartment', () => {
  test.each([
    ['relative', { reference: 'Patient/p-7' }, 'p-7'],
    ['absolute URL', { reference: 'https://fhir.example.org/r4/Patient/p-7' }, 'p-7'],
    ['version-specific', { reference: 'Patient/p-7/_history/3' }, 'p-7'],
    ['absolute and version-specific', { reference: 'http://h/fhir/Patient/p-7/_history/3' }, 'p-7'],
    ['identifier only', { identifier: { system: 'urn:oid:1.2.3', value: '123' } }, null],
    ['contained', { reference: '#pat' }, null],
    ['a Group', { reference: 'Group/g1' }, null],
    ['conditional', { reference: 'Patient?identifier=urn:oid:1.2.3|123' }, null],
    ['urn:uuid outside a bundle', { reference: 'urn:uuid:5d0c3e56-2a4b-4bb7-9e4d-1c7a9c6f8e11' }, null],
  ])('%s reference -> %s', (_name, subject, expected) => {
    const extra = _name === 'contained' ? { contained: [{ resourceType: 'Patient', id: 'pat' }] } : {};
    expect(ok(validate(observation(subject, extra))).resources[0].patientId).toBe(expected);
  });

  test('the compartment order decides: a Group subject with a Patient performer belongs to that patient', () => {
    expect(
      ok(validate(observation({ reference: 'Group/g1' }, { performer: [{ reference: 'Practitioner/d' }, { reference: 'Patient/p9' }] })))
        .resources[0].patientId,
    ).toBe('p9');
  });

  test('paths through repeating backbone elements are followed (Appointment.participant.actor)', () => {
    const appointment = {
      resourceType: 'Appointment',
      id: 'a1',
      status: 'booked',
      start: '2023-05-01T10:00:00Z',
      end: '2023-05-01T10:30:00Z',
      participant: [
        { actor: { reference: 'Practitioner/d' }, status: 'accepted' },
        { actor: { reference: 'Patient/p3' }, status: 'accepted' },
      ],
    };
    expect(ok(validate(appointment)).resources[0].patientId).toBe('p3');
  });

  test('in a bundle, urn:uuid resolves to the Patient entry; entries without an id take their fullUrl uuid', () => {
    const patientUuid = '0a6c6e0e-6f5b-4a4e-9a51-9f4f3d7f5c21';
    const obsUuid = '7b2d8f0e-1c3a-4e5b-8d9f-0a1b2c3d4e5f';
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: `urn:uuid:${patientUuid}`,
          resource: { resourceType: 'Patient', name: [{ family: 'X' }] },
          request: { method: 'POST', url: 'Patient' },
        },
        {
          fullUrl: `urn:uuid:${obsUuid}`,
          resource: observation({ reference: `urn:uuid:${patientUuid}` }, { id: undefined }),
          request: { method: 'POST', url: 'Observation' },
        },
        {
          fullUrl: 'urn:uuid:11111111-2222-4333-8444-555555555555',
          resource: observation({ reference: 'urn:uuid:99999999-2222-4333-8444-555555555555' }, { id: 'o3' }),
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    };
    const result = ok(validate(bundle));
    expect(result.resources.map((r) => [r.resourceType, r.id, r.patientId])).toEqual([
      ['Patient', patientUuid, patientUuid],
      ['Observation', obsUuid, patientUuid],
      ['Observation', 'o3', null],
    ]);
    expect(JSON.parse(result.resources[1].json)).toEqual(bundle.entry[1].resource);
  });

  test('bundles: searchset/collection/batch unpack; history is unsupported; an entry without an id is invalid with its index', () => {
    const entry = (id: string) => ({ fullUrl: `http://h/fhir/Patient/${id}`, resource: { resourceType: 'Patient', id } });
    // bdl-3: a batch's entries carry their request; the others' must not.
    const batchEntry = (id: string) => ({ ...entry(id), request: { method: 'PUT', url: `Patient/${id}` } });
    for (const type of ['searchset', 'collection', 'batch']) {
      const entries = type === 'batch' ? [batchEntry('a'), batchEntry('b')] : [entry('a'), entry('b')];
      expect(ok(validate({ resourceType: 'Bundle', type, entry: entries })).resources.map((r) => r.id)).toEqual(['a', 'b']);
    }
    expect(validate({ resourceType: 'Bundle', type: 'history', entry: [entry('a')] })).toMatchObject({
      ok: false,
      reason: 'UNSUPPORTED_RESOURCE_TYPE',
      detail: expect.stringContaining('Bundle.type history'),
    });
    expect(
      validate({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [entry('a'), { fullUrl: 'http://h/x', resource: { resourceType: 'Patient' } }],
      }),
    ).toEqual({ ok: false, reason: 'INVALID_FHIR', detail: expect.stringContaining('Bundle.entry[1].resource.id required') });
    expect(ok(validate({ resourceType: 'Bundle', type: 'collection' })).resources).toEqual([]);
  });
});

describe('the escapes that make the per-string character scan necessary', () => {
  test.each([
    ['no escape', '{"a": "plain"}', false],
    ['harmless escapes', '{"a": "q\\"t\\n\\t\\r\\/"}', false],
    ['an escaped backslash before u', '{"a": "C:\\\\u0000"}', false],
    ['two escaped backslashes before b', '{"a": "\\\\\\\\b"}', false],
    ['\\u', '{"a": "\\u0000"}', true],
    ['\\b', '{"a": "x\\by"}', true],
    ['\\f', '{"a": "x\\fy"}', true],
    ['\\u after an escaped backslash', '{"a": "\\\\\\u001f"}', true],
    ['a backslash escape at the very end of a string', '{"a": "x\\\\"}', false],
  ])('%s', (_name, text, risky) => {
    expect(hasRiskyEscape(text)).toBe(risky);
  });
});
