/**
 * Structural rules of FHIR R4 that decide whether a record is stored or quarantined INVALID_FHIR: the
 * elements a resource may hold and their JSON shapes, the bounds of the number types, primitive extensions
 * (`_given`), the characters a string may hold, the narrative, contained resources, and the nesting limit.
 */
import { MAX_DEPTH } from '../../../../lib/processor/fhir/structure';
import { ValidationResult, validateRecord } from '../../../../lib/processor/fhir/validate';
import { observationOf } from '../../../helpers/fhir';

const validate = (v: unknown): ValidationResult => validateRecord(Buffer.from(JSON.stringify(v)), 1_000_000);
const patient = { resourceType: 'Patient', id: 'p1' };
const invalid = (detail: string) => ({ ok: false, reason: 'INVALID_FHIR', detail });
const observation = observationOf;
const ext = { extension: [{ url: 'http://e/x', valueString: 'y' }] };

describe('the elements a resource holds, and their JSON shapes', () => {
  test('resourceType belongs to a resource: inside a datatype it is an element CodeableConcept does not define', () => {
    expect(validate(observation({ code: { resourceType: 'Patient', text: 'x' } }))).toEqual(
      invalid('Observation.code unknown-element: an element not defined for CodeableConcept in FHIR R4'),
    );
  });

  test("only a leading underscore before a primitive's name names its extension", () => {
    const unknown = invalid('Patient unknown-element: an element not defined for Patient in FHIR R4');
    expect(validate({ ...patient, xbirthDate: ext })).toEqual(unknown);
    expect(validate({ ...patient, _nonsense: ext })).toEqual(unknown);
  });

  test('an object, an array or a single value where R4 expects another is refused, naming the element', () => {
    expect(validate(observation({ code: 'x' }))).toEqual(invalid('Observation.code type: expected a JSON object (CodeableConcept)'));
    expect(validate(observation({ code: null }))).toEqual(invalid('Observation.code type: expected a JSON object (CodeableConcept)'));
    expect(validate({ ...patient, name: [[{ family: 'x' }]] })).toEqual(
      invalid('Patient.name[0] type: expected a JSON object (HumanName)'),
    );
    expect(validate({ ...patient, birthDate: '2000-01-01', _birthDate: null })).toEqual(
      invalid('Patient._birthDate type: expected a JSON object (Element)'),
    );
    expect(validate({ resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'http://h/x', resource: null }] })).toEqual(
      invalid('Bundle.entry[0].resource type: expected a JSON object (a resource)'),
    );
    expect(validate({ ...patient, name: { family: 'x' } })).toEqual(invalid('Patient.name cardinality: expected an array (name repeats)'));
    expect(validate({ ...patient, gender: ['male'] })).toEqual(
      invalid('Patient.gender cardinality: expected a single value, not an array (gender does not repeat)'),
    );
    expect(validate(observation({ contained: ['x'] }))).toEqual(
      invalid('Observation.contained[0] type: expected a JSON object (a resource)'),
    );
    expect(validate(observation({ contained: [{ resourceType: 7, id: 'c' }] }))).toEqual(
      invalid('Observation.contained[0] resource-type: resourceType is missing or not an R4 resource type'),
    );
  });

  test('one value per choice element, however many choice elements the resource holds', () => {
    expect(validate(observation({ effectiveDateTime: '2020-01-01', valueString: 'a', valueInteger: 1 }))).toEqual(
      invalid('Observation.valueInteger choice: more than one value for the choice element value[x]'),
    );
  });

  test("an element holding only an id is refused (ele-1), unless it is a primitive's Element beside its value", () => {
    expect(validate(observation({ code: { id: 'c' } }))).toEqual(
      invalid('Observation.code ele-1: an element with only an id (it needs a value or children)'),
    );
    expect(validate({ ...patient, birthDate: '2000-01-01', _birthDate: { id: 'b' } }).ok).toBe(true);
    expect(validate({ ...patient, _birthDate: { id: 'b' } })).toEqual(
      invalid('Patient._birthDate ele-1: an element with only an id (it needs a value or children)'),
    );
    expect(validate({ ...patient, name: [{ family: 'X', _given: [{ id: 'g' }] }] })).toEqual(
      invalid('Patient.name[0]._given[0] ele-1: an element with only an id (it needs a value or children)'),
    );
  });

  test('an extension on Resource.id is refused, on a contained resource too; on an element id it is not that rule', () => {
    expect(validate({ ...patient, _id: ext })).toEqual(invalid('Patient id-extension: extensions are not allowed on Resource.id'));
    expect(validate(observation({ contained: [{ resourceType: 'Patient', id: 'c', _id: ext }], focus: [{ reference: '#c' }] }))).toEqual(
      invalid('Observation.contained[0] id-extension: extensions are not allowed on Resource.id'),
    );
    expect(validate({ ...patient, name: [{ id: 'n', _id: ext, family: 'X' }] }).ok).toBe(true);
  });
});

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

  test('a number JSON can write but no double can hold (1e400) is refused, integer or decimal', () => {
    expect(validateRecord(Buffer.from('{"resourceType":"Patient","id":"p1","multipleBirthInteger":1e400}'), 1_000_000)).toEqual(
      invalid('Patient.multipleBirthInteger format: number out of range (integer)'),
    );
    const decimal = '{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"valueQuantity":{"value":-1e400}}';
    expect(validateRecord(Buffer.from(decimal), 1_000_000)).toEqual(
      invalid('Observation.valueQuantity.value format: number out of range (decimal)'),
    );
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

  test('extensions alone, without the values, are accepted', () => {
    expect(validate({ ...patient, name: [{ family: 'X', _given: [ext] }] }).ok).toBe(true);
  });

  test('an index with neither a value nor an extension is refused', () => {
    const empty = (at: number) => invalid(`Patient.name[0]._given[${at}] empty: neither a value nor an extension at this index of given`);
    expect(validate({ ...patient, name: [{ family: 'X', _given: [null] }] })).toEqual(empty(0));
    expect(validate({ ...patient, name: [{ family: 'X', given: ['A', null], _given: [null, null] }] })).toEqual(empty(1));
  });

  test('values and extensions of different lengths are refused, whichever comes first', () => {
    const mismatch = invalid('Patient.name[0]._given cardinality: given and _given must be arrays of the same length');
    expect(name({ _given: [ext] })).toEqual(mismatch);
    const extensionsFirst =
      '{"resourceType":"Patient","id":"p1","name":[{"_given":[{"extension":[{"url":"http://e/x","valueString":"y"}]}],"given":"A"}]}';
    expect(validateRecord(Buffer.from(extensionsFirst), 1_000_000)).toEqual(mismatch);
  });

  test('a null in a repeating element that is not a primitive is refused, even beside an array named after it', () => {
    expect(validate({ ...patient, name: [null], _name: [ext] })).toEqual(
      invalid('Patient.name[0] type: null is only allowed where _name has an entry'),
    );
  });

  test('a repeating code with a required binding (Timing.repeat.dayOfWeek) needs a code at every index, not an extension alone', () => {
    const dosage = (repeat: Record<string, unknown>) =>
      validate({
        resourceType: 'MedicationRequest',
        id: 'm1',
        status: 'active',
        intent: 'order',
        medicationCodeableConcept: { text: 'x' },
        subject: { reference: 'Patient/p1' },
        dosageInstruction: [{ timing: { repeat } }],
      });
    expect(dosage({ dayOfWeek: ['mon', 'tue'], _dayOfWeek: [null, ext] }).ok).toBe(true);
    expect(dosage({ dayOfWeek: ['mon', null], _dayOfWeek: [null, ext] })).toEqual(
      invalid(
        'MedicationRequest.dosageInstruction[0].timing.repeat._dayOfWeek[1] code: no code: dayOfWeek has a required binding and only extensions',
      ),
    );
  });

  test('_name for an element that is not a primitive is an unknown element', () => {
    expect(validate({ ...patient, _name: ext })).toEqual(invalid('Patient unknown-element: an element not defined for Patient in FHIR R4'));
  });
});

describe('the characters a string may hold', () => {
  const family = (escaped: string) =>
    validateRecord(Buffer.from(`{"resourceType":"Patient","id":"p1","name":[{"family":"${escaped}"}]}`), 1_000_000);
  const unstorable = (rule: string, message: string) => ({
    ok: false,
    reason: 'UNSTORABLE',
    detail: `Patient.name[0].family ${rule}: ${message}`,
  });

  test('tab, line feed and carriage return are allowed', () => {
    expect(family('a\\tb\\nc\\rd').ok).toBe(true);
  });

  test('a NUL is UNSTORABLE, even after another control character', () => {
    expect(family('a\\u0001b\\u0000c')).toEqual(
      unstorable('nul', 'contains a NUL character (U+0000), which PostgreSQL jsonb cannot store'),
    );
  });

  test('a lone low surrogate, and a high surrogate at the end, are UNSTORABLE', () => {
    const lone = unstorable('unpaired-surrogate', 'contains an unpaired UTF-16 surrogate, which PostgreSQL jsonb cannot store');
    expect(family('a\\udc00b')).toEqual(lone);
    expect(family('a\\ud83d')).toEqual(lone);
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
    expect(text('<p><div>Example</div></p>')).toEqual(notDiv);
    expect(text('Example')).toEqual(notDiv);
  });

  test('XML entities are accepted: the five named ones, and character references of up to 7 digits or 6 hex digits', () => {
    expect(text('<div>&amp;&lt;&gt;&quot;&apos; &#1234567; &#x10FFFf;</div>').ok).toBe(true);
  });

  test("HTML's named entities, a bare &, and over-long or empty character references are refused", () => {
    const notXml = invalid('Patient.text.div xhtml-entity: an entity XML does not define (use &amp; &lt; &gt; &quot; &apos; or &#...;)');
    for (const div of [
      '<div>a&nbsp;b</div>',
      '<div>a &amp; b & c</div>',
      '<div>&#12345678;</div>',
      '<div>&#x1234567;</div>',
      '<div>&#;</div>',
    ])
      expect(text(div)).toEqual(notXml);
  });
});

describe('contained resources (dom-3)', () => {
  const organization = (id: string, extra: Record<string, unknown> = {}) => ({ resourceType: 'Organization', id, name: id, ...extra });
  const dom3 = (at: number) =>
    invalid(`Patient.contained[${at}] dom-3: a contained resource that nothing in the resource refers to, and that does not refer to it`);

  test('each contained resource must be referred to by a local reference (#id), a Reference or a canonical', () => {
    expect(validate({ ...patient, contained: [organization('o'), organization('q')], managingOrganization: { reference: '#o' } })).toEqual(
      dom3(1),
    );
    expect(validate({ ...patient, contained: [organization('o')], managingOrganization: { reference: 'Organization/o' } })).toEqual(
      dom3(0),
    );
    const carePlan = {
      resourceType: 'CarePlan',
      id: 'c1',
      status: 'active',
      intent: 'plan',
      subject: { reference: 'Patient/p1' },
      instantiatesCanonical: ['#pd'],
      contained: [{ resourceType: 'PlanDefinition', id: 'pd', status: 'draft' }],
    };
    expect(validate(carePlan).ok).toBe(true);
  });

  test('several contained resources, each referred to, are accepted whatever the order of the references', () => {
    const referring = (...refs: string[]) => ({
      ...patient,
      contained: [organization('o'), organization('q')],
      managingOrganization: { identifier: { value: 'no reference' } },
      generalPractitioner: refs.map((reference) => ({ reference })),
    });
    expect(validate(referring('#o', '#q')).ok).toBe(true);
    expect(validate(referring('#q', '#o')).ok).toBe(true);
  });

  test("a code that reads '#o', or a one-character uri, is no reference to a contained resource or its container", () => {
    const beside = (extension: Record<string, unknown>) =>
      validate({ ...patient, contained: [organization('o')], extension: [{ url: 'http://e/x', ...extension }] });
    expect(beside({ valueCode: '#o' })).toEqual(dom3(0));
    expect(beside({ valueUri: 'a' })).toEqual(dom3(0));
  });

  test('a contained resource referred to only by another contained one is enough; the one nothing refers to is not', () => {
    expect(validate({ ...patient, contained: [organization('o'), organization('q', { partOf: { reference: '#o' } })] })).toEqual(dom3(1));
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

  test('levels are counted through contained resources and Bundle entries alike', () => {
    // A chain of References and Identifiers whose first node sits at level `top` and whose leaf sits at `deepest`.
    const chain = (top: number, deepest: number) => {
      let node: Record<string, unknown> = (deepest - top) % 2 === 0 ? { display: 'leaf' } : { value: 'leaf' };
      for (let level = deepest - 1; level >= top; level--) node = (level - top) % 2 === 0 ? { identifier: node } : { assigner: node };
      return node;
    };
    const depth = expect.objectContaining({ ok: false, detail: expect.stringMatching(/ depth: nesting deeper than 64 levels$/) });
    // Observation 1, contained 2, the contained Observation 3, its subject 4.
    const containing = (deepest: number) =>
      observation({ contained: [observation({ id: 'c', subject: chain(4, deepest) })], focus: [{ reference: '#c' }] });
    expect(validate(containing(MAX_DEPTH)).ok).toBe(true);
    expect(validate(containing(MAX_DEPTH + 1))).toEqual(depth);
    // Bundle 1, entry 2, the entry 3, its resource 4, the resource's subject 5.
    const bundle = (deepest: number) => ({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ fullUrl: 'http://h/fhir/Observation/o1', resource: observation({ subject: chain(5, deepest) }) }],
    });
    expect(validate(bundle(MAX_DEPTH)).ok).toBe(true);
    expect(validate(bundle(MAX_DEPTH + 1))).toEqual(depth);
  });

  test("levels are counted through a primitive's extensions, single (_birthDate) or repeating (_given)", () => {
    // n nested extensions: the innermost is an object at level 2n + 2 under _birthDate (Patient 1, _birthDate 2),
    // and at 2n + 5 under _given (Patient 1, name 2, the name 3, _given 4, its Element 5).
    const extensions = (n: number) => {
      let e: Record<string, unknown> = { url: 'http://e/leaf', valueString: 'x' };
      for (let i = 1; i < n; i++) e = { url: 'http://e/n', extension: [e] };
      return { extension: [e] };
    };
    const depth = expect.objectContaining({ ok: false, detail: expect.stringMatching(/ depth: nesting deeper than 64 levels$/) });
    expect(validate({ ...patient, birthDate: '2000-01-01', _birthDate: extensions(31) }).ok).toBe(true);
    expect(validate({ ...patient, birthDate: '2000-01-01', _birthDate: extensions(32) })).toEqual(depth);
    expect(validate({ ...patient, name: [{ given: ['A'], _given: [extensions(29)] }] }).ok).toBe(true);
    expect(validate({ ...patient, name: [{ given: ['A'], _given: [extensions(30)] }] })).toEqual(depth);
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

describe('calendar dates and base64 data', () => {
  test('in a leap year only February stops at 29: the 30th and 31st of the other months are real dates', () => {
    for (const birthDate of ['2024-01-31', '2024-04-30', '2024-12-31', '2024-02-29', '2000-02-29'])
      expect(validate({ ...patient, birthDate })).toMatchObject({ ok: true });
    for (const birthDate of ['2024-02-30', '2023-02-29', '1900-02-29', '2024-04-31'])
      expect(validate({ ...patient, birthDate })).toMatchObject({
        ok: false,
        detail: 'Patient.birthDate calendar: not a real calendar date (date)',
      });
  });

  test('base64 counts whole groups of 4 without the whitespace R4 allows between them, however much there is', () => {
    const photo = (data: string) => validate({ ...patient, photo: [{ contentType: 'image/png', data }] });
    expect(photo('QUJD\nRA==')).toMatchObject({ ok: true });
    expect(photo('QUJD\r\nRA==')).toMatchObject({ ok: true });
    expect(photo('QUJD\nRA=')).toMatchObject({ ok: false, detail: 'Patient.photo[0].data format: not valid base64 (base64Binary)' });
  });
});
