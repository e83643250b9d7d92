/**
 * Structural rules of FHIR R4 that decide whether a record is stored or quarantined INVALID_FHIR: the
 * bounds of the integer types, primitive extensions (`_given`), the narrative, and the nesting limit.
 */
import { MAX_DEPTH } from '../../../../lib/processor/fhir/structure';
import { ValidationResult, validateRecord } from '../../../../lib/processor/fhir/validate';

const validate = (v: unknown): ValidationResult => validateRecord(Buffer.from(JSON.stringify(v)), 1_000_000);
const patient = { resourceType: 'Patient', id: 'p1' };
const invalid = (detail: string) => ({ ok: false, reason: 'INVALID_FHIR', detail });

describe('integer types', () => {
  const births = (n: number) => validate({ ...patient, multipleBirthInteger: n });
  const attachmentSize = (n: number) => validate({ ...patient, photo: [{ contentType: 'image/png', size: n }] });
  const dose = (n: number) =>
    validate({
      resourceType: 'Immunization',
      id: 'i1',
      status: 'completed',
      vaccineCode: { text: 'x' },
      patient: { reference: 'Patient/p1' },
      occurrenceDateTime: '2021-01-01',
      protocolApplied: [{ doseNumberPositiveInt: n }],
    });

  test('integer: the signed 32-bit range is accepted to its last value, and one beyond is refused', () => {
    expect(births(2147483647).ok).toBe(true);
    expect(births(-2147483648).ok).toBe(true);
    const beyond = invalid('Patient.multipleBirthInteger int32: integer beyond 32 bits (integer is a signed 32-bit integer)');
    expect(births(2147483648)).toEqual(beyond);
    expect(births(-2147483649)).toEqual(beyond);
  });

  test('integer: a fraction or a non-number is refused', () => {
    expect(births(1.5)).toEqual(invalid('Patient.multipleBirthInteger format: expected a whole number (integer)'));
    expect(validate({ ...patient, multipleBirthInteger: '2' })).toEqual(
      invalid('Patient.multipleBirthInteger type: expected a JSON number (integer)'),
    );
  });

  test('unsignedInt: 0 is accepted, a negative value is refused', () => {
    expect(attachmentSize(0).ok).toBe(true);
    expect(attachmentSize(-1)).toEqual(invalid('Patient.photo[0].size format: expected a number >= 0 (unsignedInt)'));
  });

  test('positiveInt: 1 is accepted, 0 and negative values are refused', () => {
    expect(dose(1).ok).toBe(true);
    const notPositive = invalid('Immunization.protocolApplied[0].doseNumberPositiveInt format: expected a number >= 1 (positiveInt)');
    expect(dose(0)).toEqual(notPositive);
    expect(dose(-3)).toEqual(notPositive);
  });

  test('decimal: any finite number, fractions included', () => {
    expect(
      validate({ ...patient, photo: [{ contentType: 'image/png', size: 1 }], extension: [{ url: 'http://e/x', valueDecimal: 0.1 }] }).ok,
    ).toBe(true);
  });

  test('boolean: a string is refused', () => {
    expect(validate({ ...patient, active: 'true' })).toEqual(invalid('Patient.active type: expected a JSON boolean (boolean)'));
  });
});

describe('primitive extensions of a repeating primitive (_given)', () => {
  const name = (extra: Record<string, unknown>) => validate({ ...patient, name: [{ family: 'X', given: ['A', 'B'], ...extra }] });
  const ext = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier', valueCode: 'CL' }] };

  test('an array of Elements or nulls aligned with the values is accepted', () => {
    expect(name({ _given: [null, ext] }).ok).toBe(true);
    expect(name({ _given: [ext, { id: 'g2' }] }).ok).toBe(true);
  });

  test('a single object instead of an array is refused', () => {
    expect(name({ _given: ext })).toEqual(invalid('Patient.name[0]._given cardinality: expected a non-empty array of Element or null'));
  });

  test('an empty array is refused', () => {
    expect(name({ _given: [] })).toEqual(invalid('Patient.name[0]._given cardinality: expected a non-empty array of Element or null'));
  });

  test('an item that is not an object is refused, naming its index', () => {
    expect(name({ _given: [null, 'CL'] })).toEqual(invalid('Patient.name[0]._given[1] type: expected a JSON object (Element) or null'));
    expect(name({ _given: [[ext], null] })).toEqual(invalid('Patient.name[0]._given[0] type: expected a JSON object (Element) or null'));
  });

  test('an item with an element Element does not define is refused, naming its index', () => {
    expect(name({ _given: [null, { valueCode: 'CL' }] })).toEqual(
      invalid('Patient.name[0]._given[1] unknown-element: an element not defined for Element in FHIR R4'),
    );
  });

  test('the extension of a single primitive (_birthDate) must be an object', () => {
    expect(validate({ ...patient, birthDate: '2000-01-01', _birthDate: ext }).ok).toBe(true);
    expect(validate({ ...patient, birthDate: '2000-01-01', _birthDate: [ext] })).toEqual(
      invalid('Patient._birthDate type: expected a JSON object (Element)'),
    );
  });

  test('_name for an element that is not a primitive is an unknown element', () => {
    expect(validate({ ...patient, _name: ext })).toEqual(invalid('Patient unknown-element: an element not defined for Patient in FHIR R4'));
  });
});

describe('the narrative', () => {
  const text = (div: string) => validate({ ...patient, text: { status: 'generated', div } });

  test('an XHTML <div> is accepted', () => {
    expect(text('<div xmlns="http://www.w3.org/1999/xhtml"><p>Example</p></div>').ok).toBe(true);
    expect(text('  <div>x</div>').ok).toBe(true);
  });

  test('any other root is refused', () => {
    const notDiv = invalid('Patient.text.div format: narrative must be an XHTML <div> (xhtml)');
    expect(text('<p>Example</p>')).toEqual(notDiv);
    expect(text('<divx>Example</divx>')).toEqual(notDiv);
    expect(text('Example')).toEqual(notDiv);
  });
});

describe('the nesting limit', () => {
  // Reference.identifier (Identifier) and Identifier.assigner (Reference) nest objects without arrays:
  // the root Observation is level 1, its subject level 2, and each further element one more.
  const nestedTo = (deepest: number) => {
    let node: Record<string, unknown> = deepest % 2 === 0 ? { display: 'leaf' } : { value: 'leaf' };
    for (let level = deepest - 1; level >= 2; level--) node = level % 2 === 0 ? { identifier: node } : { assigner: node };
    return { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: node };
  };

  test(`objects nested to level ${MAX_DEPTH} are accepted; one level more is refused`, () => {
    expect(validate(nestedTo(MAX_DEPTH)).ok).toBe(true);
    expect(validate(nestedTo(MAX_DEPTH + 1))).toMatchObject({
      ok: false,
      reason: 'INVALID_FHIR',
      detail: expect.stringMatching(/^Observation\.subject(\.identifier\.assigner)+\.identifier depth: nesting deeper than 64 levels$/),
    });
  });

  test(`an array whose items would sit at level ${MAX_DEPTH + 1} is refused at the array`, () => {
    // subject.identifier.assigner ... down to an Identifier at level 63, whose type.coding array would hold level 65 items.
    let node: Record<string, unknown> = { type: { coding: [{ code: 'x' }] } };
    for (let level = MAX_DEPTH - 2; level >= 2; level--) node = level % 2 === 0 ? { identifier: node } : { assigner: node };
    const record = { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: node };
    expect(validate(record)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/\.type\.coding depth: nesting deeper than 64 levels$/),
    });
  });
});
