import { Kind, Primitive, Property, RESOURCE_TYPES, TypeDefinition, typeDefinition } from './definitions';

/**
 * Structural validation of a parsed FHIR R4 resource against the official definitions: every
 * element known to its type, JSON types, cardinality (required, single vs repeating), one value per
 * choice element, required-binding codes, primitive formats (HL7's regular expressions plus real
 * calendar dates and 32-bit integers), no empty strings/arrays/objects, no control characters,
 * bounded nesting. Stops at the first problem and names its path and rule, never a value.
 *
 * Not checked: FHIRPath invariants (constraints such as obs-6), profiles in meta.profile, extensible
 * and preferred bindings, duplicate JSON keys (JSON.parse keeps the last), xhtml content rules.
 */

/**
 * Deepest JSON nesting accepted (objects and arrays, counted from the record's root object = 1).
 * Real resources stay far below: a Synthea transaction bundle reaches 9, a nested QuestionnaireResponse
 * about 20. Bounding it keeps a hostile record from costing unbounded stack or CPU.
 */
export const MAX_DEPTH = 64;

export interface StructureIssue {
  readonly reason: 'INVALID_FHIR' | 'UNSTORABLE';
  /** e.g. `Observation.component[1].valueQuantity.value` */
  readonly path: string;
  /** short rule name: required, unknown-element, type, cardinality, choice, code, format, calendar, int32, empty, control-character, nul, unpaired-surrogate, depth, resource-type */
  readonly rule: string;
  readonly message: string;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
// C0 controls other than TAB, LF, CR (FHIR R4 §2.6.2 string: "SHALL NOT contain Unicode character points below 32, except for u0009, u000D and u000A").
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const WHITESPACE = /\s+/g;
const XHTML_ROOT = /^\s*<div[\s>]/;

/** Walk state for one call: the path as a stack (rendered only when reporting), and the options. */
class Walk {
  readonly path: (string | number)[] = [];
  issue: StructureIssue | null = null;
  constructor(private readonly root: string, readonly checkStrings: boolean) {}

  fail(rule: string, message: string, reason: StructureIssue['reason'] = 'INVALID_FHIR'): false {
    let path = this.root;
    for (const segment of this.path) path += typeof segment === 'number' ? `[${segment}]` : `.${segment}`;
    this.issue = { reason, path, rule, message };
    return false;
  }
}

/**
 * Validates `resource` (a parsed JSON object whose resourceType is an R4 resource type).
 * `checkStrings` enables the per-string control-character/NUL/surrogate scan; pass false only when
 * the raw JSON text holds no escape that can produce one (JSON forbids them unescaped).
 * `root` prefixes reported paths (e.g. `Bundle`).
 */
export function validateStructure(resource: Record<string, unknown>, checkStrings: boolean, root?: string): StructureIssue | null {
  const resourceType = resource.resourceType as string;
  const walk = new Walk(root ?? resourceType, checkStrings);
  walkResource(resource, walk, 1);
  return walk.issue;
}

function walkResource(value: unknown, walk: Walk, depth: number): boolean {
  if (!isObject(value)) return walk.fail('type', 'expected a JSON object (a resource)');
  const resourceType = value.resourceType;
  if (typeof resourceType !== 'string' || !RESOURCE_TYPES.has(resourceType)) return walk.fail('resource-type', 'resourceType is missing or not an R4 resource type');
  return walkObject(value, typeDefinition(resourceType)!, walk, depth, true);
}

function walkObject(value: Record<string, unknown>, def: TypeDefinition, walk: Walk, depth: number, isResource: boolean): boolean {
  if (depth > MAX_DEPTH) return walk.fail('depth', `nesting deeper than ${MAX_DEPTH} levels`);
  let count = 0;
  let choices: string[] | null = null;
  for (const key in value) {
    count++;
    const v = value[key];
    const prop = def.properties.get(key);
    if (prop === undefined) {
      if (key === 'resourceType' && isResource) continue;
      if (key.charCodeAt(0) === 95) {
        const primitive = def.properties.get(key.slice(1));
        if (primitive !== undefined && primitive.kind === Kind.Primitive) {
          walk.path.push(key);
          if (!walkPrimitiveExtension(v, primitive, walk, depth + 1)) return false;
          walk.path.pop();
          continue;
        }
      }
      // The key itself is record content (it could be anything): report where, not what.
      return walk.fail('unknown-element', `an element not defined for ${def.name} in FHIR R4`);
    }
    walk.path.push(key);
    if (prop.choice !== null) {
      if (choices === null) choices = [prop.choice];
      else if (choices.includes(prop.choice)) return walk.fail('choice', `more than one value for the choice element ${prop.choice}`);
      else choices.push(prop.choice);
    }
    if (prop.array) {
      if (!Array.isArray(v)) return walk.fail('cardinality', `expected an array (${prop.name} repeats)`);
      if (v.length === 0) return walk.fail('empty', 'empty array (omit the element instead)');
      if (depth + 1 > MAX_DEPTH) return walk.fail('depth', `nesting deeper than ${MAX_DEPTH} levels`);
      const nullable = prop.kind === Kind.Primitive && Array.isArray(value[`_${key}`]);
      for (let i = 0; i < v.length; i++) {
        walk.path.push(i);
        const item = v[i];
        if (item === null && nullable) { walk.path.pop(); continue; }
        if (!walkValue(item, prop, walk, depth + 2)) return false;
        walk.path.pop();
      }
    } else {
      if (Array.isArray(v)) return walk.fail('cardinality', `expected a single value, not an array (${prop.name} does not repeat)`);
      if (!walkValue(v, prop, walk, depth + 1)) return false;
    }
    walk.path.pop();
  }
  if (count === 0) return walk.fail('empty', 'empty object (omit the element instead)');
  for (const required of def.required) {
    let present = false;
    for (const name of required.names) {
      if (value[name] !== undefined || value[`_${name}`] !== undefined) { present = true; break; }
    }
    if (!present) return walk.fail('required', `missing required element ${required.label}`);
  }
  return true;
}

function walkValue(v: unknown, prop: Property, walk: Walk, depth: number): boolean {
  switch (prop.kind) {
    case Kind.Primitive: return checkPrimitive(v, prop.primitive!, prop.codes, walk);
    case Kind.Resource: return walkResource(v, walk, depth);
    default:
      if (!isObject(v)) return walk.fail('type', `expected a JSON object (${prop.type})`);
      return walkObject(v, typeDefinition(prop.type)!, walk, depth, false);
  }
}

/** `_birthDate` / `_given`: the primitive's id and extensions (an Element), or an array of them aligned with the values. */
function walkPrimitiveExtension(v: unknown, prop: Property, walk: Walk, depth: number): boolean {
  const element = typeDefinition('Element')!;
  if (!prop.array) {
    if (!isObject(v)) return walk.fail('type', 'expected a JSON object (Element)');
    return walkObject(v, element, walk, depth, false);
  }
  if (!Array.isArray(v) || v.length === 0) return walk.fail('cardinality', 'expected a non-empty array of Element or null');
  for (let i = 0; i < v.length; i++) {
    if (v[i] === null) continue;
    walk.path.push(i);
    if (!isObject(v[i])) return walk.fail('type', 'expected a JSON object (Element) or null');
    if (!walkObject(v[i] as Record<string, unknown>, element, walk, depth + 1, false)) return false;
    walk.path.pop();
  }
  return true;
}

function checkPrimitive(v: unknown, primitive: Primitive, codes: ReadonlySet<string> | null, walk: Walk): boolean {
  const name = primitive.name;
  switch (primitive.json) {
    case 'boolean':
      return typeof v === 'boolean' || walk.fail('type', `expected a JSON boolean (${name})`);
    case 'number':
      if (typeof v !== 'number') return walk.fail('type', `expected a JSON number (${name})`);
      if (!Number.isFinite(v)) return walk.fail('format', `number out of range (${name})`);
      if (name === 'decimal') return true;
      if (!Number.isInteger(v)) return walk.fail('format', `expected a whole number (${name})`);
      if (v < INT32_MIN || v > INT32_MAX) return walk.fail('int32', `integer beyond 32 bits (${name} is a signed 32-bit integer)`);
      if (name === 'unsignedInt' && v < 0) return walk.fail('format', 'expected a number >= 0 (unsignedInt)');
      if (name === 'positiveInt' && v < 1) return walk.fail('format', 'expected a number >= 1 (positiveInt)');
      return true;
    default:
      break;
  }
  if (typeof v !== 'string') return walk.fail('type', `expected a JSON string (${name})`);
  if (v.length === 0) return walk.fail('empty', `empty string (${name}; omit the element instead)`);
  if (walk.checkStrings && !checkCharacters(v, walk)) return false;
  if (codes !== null) return codes.has(v) || walk.fail('code', 'code not in the required value set');
  if (primitive.pattern !== null && !primitive.pattern.test(v)) return walk.fail('format', `not a valid ${name}`);
  switch (name) {
    case 'date': case 'dateTime': case 'instant':
      return validCalendarDate(v) || walk.fail('calendar', `not a real calendar date (${name})`);
    case 'base64Binary': {
      const compact = v.includes(' ') || v.includes('\n') || v.includes('\r') || v.includes('\t') ? v.replace(WHITESPACE, '') : v;
      return (compact.length % 4 === 0 && BASE64.test(compact)) || walk.fail('format', 'not valid base64 (base64Binary)');
    }
    case 'xhtml':
      return XHTML_ROOT.test(v) || walk.fail('format', 'narrative must be an XHTML <div> (xhtml)');
    default:
      return true;
  }
}

function checkCharacters(v: string, walk: Walk): boolean {
  const control = CONTROL.exec(v);
  if (control !== null) {
    if (control[0] === '\u0000') return walk.fail('nul', 'contains a NUL character (U+0000), which PostgreSQL jsonb cannot store', 'UNSTORABLE');
    if (v.includes('\u0000')) return walk.fail('nul', 'contains a NUL character (U+0000), which PostgreSQL jsonb cannot store', 'UNSTORABLE');
    return walk.fail('control-character', 'contains a control character below U+0020 other than tab, CR, LF');
  }
  if (LONE_SURROGATE.test(v)) return walk.fail('unpaired-surrogate', 'contains an unpaired UTF-16 surrogate, which PostgreSQL jsonb cannot store', 'UNSTORABLE');
  return true;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The regexes allow 2023-02-30; FHIR says "Dates SHALL be valid dates". Partial dates (2023, 2023-02) are fine. */
export function validCalendarDate(v: string): boolean {
  if (v.length < 10) return true;
  const year = Number(v.slice(0, 4));
  const month = Number(v.slice(5, 7));
  const day = Number(v.slice(8, 10));
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
