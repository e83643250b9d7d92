import { Check, Kind, Primitive, Property, RESOURCE_TYPES, TypeDefinition, typeDefinition } from './definitions';

/**
 * Structural validation of a parsed FHIR R4 resource against the official definitions: every
 * element known to its type, JSON types, cardinality (required, single vs repeating), one value per
 * choice element, required-binding codes, primitive formats (HL7's regular expressions plus real
 * calendar dates and 32-bit integers), no empty strings/arrays/objects, no control characters,
 * bounded nesting. Stops at the first problem and names its path and rule, never a value.
 *
 * Then each object's type runs its compiled R4 invariants (invariants.ts: per-1, obs-6, dom-3, bdl-*, ..., and
 * the R4 vital-signs profiles), and the primitive-extension rules: `_x` beside `x` has the same length, no
 * extension on Resource.id, no required-bound code replaced by an extension alone, no element with only an id.
 *
 * Not checked: profiles in meta.profile, extensible and preferred bindings, duplicate JSON keys (JSON.parse
 * keeps the last), the XHTML element whitelist (see SKIPPED_INVARIANTS in invariants.ts).
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
// eslint-disable-next-line no-control-regex -- matching the control characters FHIR forbids is the point
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const XHTML_ROOT = /^\s*<div[\s>]/;

/**
 * Walk state for one call. The failing path is collected only on failure, segment by segment while
 * the recursion unwinds (`up`), so a valid record costs no path bookkeeping.
 */
class Walk {
  private readonly reversedPath: (string | number)[] = [];
  /** Every local reference ('#id') met so far, in walk order: a resource's own are those after its start (dom-3). */
  // Stryker disable next-line ArrayDeclaration: the root resource reads only the references added after its start, so a first entry is never read
  readonly localRefs: string[] = [];
  // Stryker disable StringLiteral: fail() sets all three before issue() reads them
  private rule = '';
  private message = '';
  private reason: StructureIssue['reason'] = 'INVALID_FHIR';
  // Stryker restore StringLiteral
  failed = false;
  /** A number of the resource is zero (StructureFacts). */
  zeroNumber = false;
  constructor(
    private readonly root: string,
    readonly checkStrings: boolean,
  ) {}

  fail(rule: string, message: string, reason: StructureIssue['reason'] = 'INVALID_FHIR'): false {
    this.failed = true;
    this.rule = rule;
    this.message = message;
    this.reason = reason;
    return false;
  }

  /** Adds the segment the failure happened under; returns false to keep unwinding. */
  up(segment: string | number): false {
    this.reversedPath.push(segment);
    return false;
  }

  issue(): StructureIssue | null {
    if (!this.failed) return null;
    let path = this.root;
    for (let i = this.reversedPath.length - 1; i >= 0; i--) {
      const segment = this.reversedPath[i];
      path += typeof segment === 'number' ? `[${segment}]` : `.${segment}`;
    }
    return { reason: this.reason, path, rule: this.rule, message: this.message };
  }
}

/** What the walk of a valid resource saw on the way, for checks after it. */
export interface StructureFacts {
  /**
   * Some number is zero. Every number of a valid resource is visited and finite, so when none is zero
   * the storability check of the numbers' source text can be narrowed (exactNumbers in exact-json.ts).
   */
  zeroNumber: boolean;
}

/**
 * Validates `resource` (a parsed JSON object whose resourceType is an R4 resource type).
 * `checkStrings` enables the per-string control-character/NUL/surrogate scan; pass false only when
 * the raw JSON text holds no escape that can produce one (JSON forbids them unescaped).
 * `root` prefixes reported paths (e.g. `Bundle`). `facts`, when given, is filled in.
 */
export function validateStructure(
  resource: Record<string, unknown>,
  checkStrings: boolean,
  root?: string,
  facts?: StructureFacts,
): StructureIssue | null {
  const resourceType = resource.resourceType as string;
  const walk = new Walk(root ?? resourceType, checkStrings);
  walkResource(resource, walk, 1);
  if (facts !== undefined) facts.zeroNumber = walk.zeroNumber;
  return walk.issue();
}

function walkResource(value: unknown, walk: Walk, depth: number): boolean {
  if (!isObject(value)) return walk.fail('type', 'expected a JSON object (a resource)');
  // Not a string (or missing): the set holds none.
  const resourceType = value.resourceType as string;
  if (!RESOURCE_TYPES.has(resourceType)) return walk.fail('resource-type', 'resourceType is missing or not an R4 resource type');
  return walkObject(value, typeDefinition(resourceType)!, walk, depth, true);
}

/** `withValue`: the Element of a primitive that has a value (`_given[i]` beside `given[i]`), which ele-1 lets hold only an id. */
function walkObject(
  value: Record<string, unknown>,
  def: TypeDefinition,
  walk: Walk,
  depth: number,
  isResource: boolean,
  withValue = false,
): boolean {
  if (depth > MAX_DEPTH) return walk.fail('depth', `nesting deeper than ${MAX_DEPTH} levels`);
  const properties = def.properties;
  const firstLocalRef = walk.localRefs.length;
  let count = 0;
  let choice1: string | null = null;
  let choices: string[] | null = null;
  for (const key in value) {
    count++;
    const v = value[key];
    const prop = properties[key];
    if (prop === undefined) {
      if (key === 'resourceType' && isResource) continue;
      if (key.charCodeAt(0) === 95) {
        const primitive = properties[key.slice(1)];
        if (primitive !== undefined && primitive.kind === Kind.Primitive) {
          if (isResource && key === '_id') return walk.fail('id-extension', 'extensions are not allowed on Resource.id');
          if (!walkPrimitiveExtension(v, primitive, value[primitive.name], walk, depth + 1)) return walk.up(key);
          continue;
        }
      }
      // The key itself is record content (it could be anything): report where, not what.
      return walk.fail('unknown-element', `an element not defined for ${def.name} in FHIR R4`);
    }
    const choice = prop.choice;
    if (choice !== null) {
      if (choice1 === null) choice1 = choice;
      else if (choice1 === choice || (choices !== null && choices.includes(choice))) {
        walk.fail('choice', `more than one value for the choice element ${choice}`);
        return walk.up(key);
      } else {
        // Stryker disable next-line ArrayDeclaration: a placeholder entry is never a choice element's name
        (choices ??= []).push(choice);
      }
    }
    if (prop.array) {
      if (!Array.isArray(v)) {
        walk.fail('cardinality', `expected an array (${prop.name} repeats)`);
        return walk.up(key);
      }
      const n = v.length;
      if (n === 0) {
        walk.fail('empty', 'empty array (omit the element instead)');
        return walk.up(key);
      }
      if (depth + 1 > MAX_DEPTH) {
        walk.fail('depth', `nesting deeper than ${MAX_DEPTH} levels`);
        return walk.up(key);
      }
      for (let i = 0; i < n; i++) {
        const item = v[i];
        if (item === null) {
          // null keeps a repeating primitive aligned with its `_name` array of extensions.
          if (prop.kind !== Kind.Primitive || !Array.isArray(value[prop.extensionName])) {
            walk.fail('type', `null is only allowed where ${prop.extensionName} has an entry`);
            walk.up(i);
            return walk.up(key);
          }
        } else if (
          !(prop.kind === Kind.Primitive
            ? checkPrimitive(item, prop.primitive!, prop.codes, walk)
            : prop.kind === Kind.Complex
              ? walkComplex(item, prop, walk, depth + 2)
              : walkResource(item, walk, depth + 2))
        ) {
          walk.up(i);
          return walk.up(key);
        }
      }
    } else {
      if (Array.isArray(v)) {
        walk.fail('cardinality', `expected a single value, not an array (${prop.name} does not repeat)`);
        return walk.up(key);
      }
      if (
        !(prop.kind === Kind.Primitive
          ? checkPrimitive(v, prop.primitive!, prop.codes, walk)
          : prop.kind === Kind.Complex
            ? walkComplex(v, prop, walk, depth + 1)
            : walkResource(v, walk, depth + 1))
      )
        return walk.up(key);
    }
  }
  if (count === 0) return walk.fail('empty', 'empty object (omit the element instead)');
  // A resource counts its resourceType, so only an element can hold an id alone.
  if (count === 1 && !withValue && value.id !== undefined)
    return walk.fail('ele-1', 'an element with only an id (it needs a value or children)');
  const required = def.required;
  for (let r = 0; r < required.length; r++) {
    const names = required[r].names;
    let present = false;
    for (let i = 0; i < names.length; i++) {
      if (value[names[i]] !== undefined) {
        present = true;
        break;
      }
    }
    if (!present) return walk.fail('required', `missing required element ${required[r].label}`);
  }
  if (def.isReference) {
    const reference = value.reference;
    if (typeof reference === 'string' && reference.charCodeAt(0) === 35) walk.localRefs.push(reference);
  } else if (value.contained !== undefined) {
    // Only resources (DomainResource) define contained.
    const unreferenced = unreferencedContained(value.contained as Record<string, unknown>[], walk.localRefs, firstLocalRef);
    if (unreferenced >= 0) {
      walk.fail('dom-3', 'a contained resource that nothing in the resource refers to, and that does not refer to it');
      walk.up(unreferenced);
      return walk.up('contained');
    }
  }
  const rule = def.rule;
  if (rule !== null) {
    const failure = rule(value);
    if (failure !== null) {
      walk.fail(failure.rule, failure.message);
      for (let i = failure.at.length - 1; i >= 0; i--) walk.up(failure.at[i]);
      return false;
    }
  }
  return true;
}

/**
 * dom-3: each contained resource is referred to ('#id') from somewhere in the resource (contained ones
 * included), or something in it refers to the container ('#'). The references were collected by the walk.
 */
function unreferencedContained(contained: readonly Record<string, unknown>[], refs: readonly string[], from: number): number {
  for (let r = from; r < refs.length; r++) if (refs[r].length === 1) return -1;
  for (let i = 0; i < contained.length; i++) {
    const target = `#${contained[i].id as string}`;
    let found = false;
    for (let r = from; r < refs.length && !found; r++) found = refs[r] === target;
    if (!found) return i;
  }
  return -1;
}

function walkComplex(v: unknown, prop: Property, walk: Walk, depth: number): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return walk.fail('type', `expected a JSON object (${prop.type})`);
  return walkObject(v as Record<string, unknown>, prop.definition!, walk, depth, false);
}

/** `_birthDate` / `_given`: the primitive's id and extensions (an Element), or an array of them aligned with the values. */
function walkPrimitiveExtension(v: unknown, prop: Property, values: unknown, walk: Walk, depth: number): boolean {
  const element = ELEMENT();
  // A required binding is not met by an extension (data-absent-reason) standing in for the code.
  const coded = prop.codes !== null;
  if (!prop.array) {
    if (!isObject(v)) return walk.fail('type', 'expected a JSON object (Element)');
    if (coded && values === undefined) return walk.fail('code', `no code: ${prop.name} has a required binding and only extensions`);
    return walkObject(v, element, walk, depth, false, values !== undefined);
  }
  if (!Array.isArray(v) || v.length === 0) return walk.fail('cardinality', 'expected a non-empty array of Element or null');
  if (values !== undefined && (!Array.isArray(values) || values.length !== v.length))
    return walk.fail('cardinality', `${prop.name} and ${prop.extensionName} must be arrays of the same length`);
  for (let i = 0; i < v.length; i++) {
    const item: unknown = v[i];
    const value = values === undefined ? null : (values as unknown[])[i];
    if (item === null) {
      if (value === null) {
        walk.fail('empty', `neither a value nor an extension at this index of ${prop.name}`);
        return walk.up(i);
      }
      continue;
    }
    if (coded && value === null) {
      walk.fail('code', `no code: ${prop.name} has a required binding and only extensions`);
      return walk.up(i);
    }
    if (!isObject(item)) {
      walk.fail('type', 'expected a JSON object (Element) or null');
      return walk.up(i);
    }
    if (!walkObject(item, element, walk, depth + 1, false, value !== null && value !== undefined)) return walk.up(i);
  }
  return true;
}

let element: TypeDefinition | undefined;
const ELEMENT = () => (element ??= typeDefinition('Element')!);

function checkPrimitive(v: unknown, primitive: Primitive, codes: ReadonlySet<string> | null, walk: Walk): boolean {
  const check = primitive.check;
  if (check <= Check.Decimal) {
    if (check === Check.Boolean) return typeof v === 'boolean' || walk.fail('type', 'expected a JSON boolean (boolean)');
    if (typeof v !== 'number') return walk.fail('type', `expected a JSON number (${primitive.name})`);
    if (!Number.isFinite(v)) return walk.fail('format', `number out of range (${primitive.name})`);
    if (v === 0) walk.zeroNumber = true;
    if (check === Check.Decimal) return true;
    if (!Number.isInteger(v)) return walk.fail('format', `expected a whole number (${primitive.name})`);
    if (v < INT32_MIN || v > INT32_MAX) return walk.fail('int32', `integer beyond 32 bits (${primitive.name} is a signed 32-bit integer)`);
    if (check === Check.UnsignedInt && v < 0) return walk.fail('format', 'expected a number >= 0 (unsignedInt)');
    if (check === Check.PositiveInt && v < 1) return walk.fail('format', 'expected a number >= 1 (positiveInt)');
    return true;
  }
  if (typeof v !== 'string') return walk.fail('type', `expected a JSON string (${primitive.name})`);
  if (v.length === 0) return walk.fail('empty', `empty string (${primitive.name}; omit the element instead)`);
  if (walk.checkStrings && !checkCharacters(v, walk)) return false;
  if (codes !== null) return codes.has(v) || walk.fail('code', 'code not in the required value set');
  switch (check) {
    case Check.Text:
      return true;
    case Check.Pattern:
      if (primitive.localRef && v.charCodeAt(0) === 35) walk.localRefs.push(v);
      return primitive.pattern === null || primitive.pattern.test(v) || walk.fail('format', `not a valid ${primitive.name}`);
    case Check.Date:
      if (!primitive.pattern!.test(v)) return walk.fail('format', `not a valid ${primitive.name}`);
      return validCalendarDate(v) || walk.fail('calendar', `not a real calendar date (${primitive.name})`);
    case Check.Base64:
      return validBase64(v) || walk.fail('format', 'not valid base64 (base64Binary)');
    default:
      if (!XHTML_ROOT.test(v)) return walk.fail('format', 'narrative must be an XHTML <div> (xhtml)');
      return (
        !NOT_AN_XML_ENTITY.test(v) ||
        walk.fail('xhtml-entity', 'an entity XML does not define (use &amp; &lt; &gt; &quot; &apos; or &#...;)')
      );
  }
}

/** An & that starts no entity XML defines. FHIR narrative is XML: HTML's named entities (&nbsp;, &reg;) are not defined there, and a bare & is not well-formed. */
const NOT_AN_XML_ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});)/;

function checkCharacters(v: string, walk: Walk): boolean {
  const control = CONTROL.exec(v);
  if (control !== null) {
    if (control[0] === '\u0000')
      return walk.fail('nul', 'contains a NUL character (U+0000), which PostgreSQL jsonb cannot store', 'UNSTORABLE');
    if (v.includes('\u0000'))
      return walk.fail('nul', 'contains a NUL character (U+0000), which PostgreSQL jsonb cannot store', 'UNSTORABLE');
    return walk.fail('control-character', 'contains a control character below U+0020 other than tab, CR, LF');
  }
  if (LONE_SURROGATE.test(v))
    return walk.fail('unpaired-surrogate', 'contains an unpaired UTF-16 surrogate, which PostgreSQL jsonb cannot store', 'UNSTORABLE');
  return true;
}

/** The base64 alphabet, '=' padding (at most two) only at the end, whitespace anywhere (R4's base64Binary allows it between groups). */
const BASE64 = /^[A-Za-z0-9+/ \t\r\n]*(?:=[ \t\r\n]*){0,2}$/;

/**
 * R4's base64Binary: the characters (one regex scan, native code: about 3x faster than atob on the large
 * attachments of the official examples, and nothing decoded), then whole groups of 4.
 */
function validBase64(v: string): boolean {
  if (!BASE64.test(v)) return false;
  // Whitespace is rare and sparse (line breaks every 64 or 76 characters): count it with vectorised indexOf.
  let whitespace = 0;
  for (const c of BASE64_WHITESPACE) for (let i = v.indexOf(c); i >= 0; i = v.indexOf(c, i + 1)) whitespace++;
  return (v.length - whitespace) % 4 === 0;
}
const BASE64_WHITESPACE = [' ', '\n', '\r', '\t'];

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
