/**
 * JSON numbers as sent, and the canonical text that equal content shares.
 *
 * JSON.parse turns every number into a double: `1.50` becomes 1.5 and `12345678901234567890`
 * becomes 12345678901234567000. FHIR gives a decimal's precision significance, and PostgreSQL
 * `jsonb` keeps it (numeric), so the processor keeps each number's source text wherever it would
 * differ from the double's, using the source text access of JSON.parse (`context.source` in a
 * reviver, ES2026; Node >= 21). A reviver makes parsing several times slower, so it runs only when
 * a cheap scan of the text finds a number that may need it (NUMBER_MAY_CHANGE).
 */

import { hash } from 'crypto';

/** Where a number's source text differs from the double's shortest form: holder object -> key -> source. */
export type NumberSources = ReadonlyMap<object, ReadonlyMap<string, string>>;

export interface ExactParse {
  readonly value: unknown;
  /** null when every number's source is its double's shortest form (the common case). */
  readonly sources: NumberSources | null;
  /** Why PostgreSQL cannot store a number of the text exactly, or null. Never a value from the text. */
  readonly unstorable: string | null;
}

/** JSON.parse's source text access (ES2026; not yet in TypeScript's lib). */
type Reviver = (this: object, key: string, value: unknown, context?: { readonly source?: string }) => unknown;
const parseWithSource = JSON.parse as (text: string, reviver: Reviver) => unknown;

/**
 * True for any number token (after `:`, `[` or `,`, and followed by `,`, `}` or `]`: OIDs and
 * numbers in prose do not count) whose source text may differ from
 * String(Number(token)) or may exceed what jsonb stores: 16 or more digits or points (a double has
 * 15 safe significant digits, and every token past PostgreSQL's limits is longer), a fraction
 * ending in 0, an exponent, 0.000000... (printed with an exponent), or a negative zero. Without a
 * match every number round-trips through a double unchanged, and its text is also jsonb's text.
 * It also matches such text inside strings: those records only take the slower exact parse.
 */
const NUMBER_MAY_CHANGE =
  /[:[,]\s*(?=-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\s*[,}\]])(?:-0(?![.\d])|-?(?:[\d.]{16}|\d+\.\d*0(?!\d)|0\.0{6}|\d[\d.]*[eE]))/;

const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
const HAS_EXPONENT = /[eE]/;
/** PostgreSQL numeric: at most 16383 digits after the decimal point and 131072 before it (NUMERIC_DSCALE_MAX, NUMERIC_WEIGHT_MAX). */
export const PG_MAX_SCALE = 16_383;
export const PG_MAX_INTEGER_DIGITS = 131_072;

interface Decimal {
  readonly negative: boolean;
  /** Mantissa digits, the decimal point after `point` of them (may be < 0 or > digits.length). */
  readonly digits: string;
  readonly point: number;
  /** Digits after the decimal point, as PostgreSQL keeps them (a fraction's written scale less the exponent, at least 0). */
  readonly scale: number;
}

function decimal(source: string): Decimal {
  const m = NUMBER.exec(source);
  if (m === null) throw new Error('not a JSON number token');
  const [, sign, int, frac = '', exp = '0'] = m;
  const e = Number(exp);
  return { negative: sign === '-', digits: int + frac, point: int.length + e, scale: Math.max(0, frac.length - e) };
}

/** Why jsonb cannot hold this number token exactly (PostgreSQL refuses it: SQLSTATE 22003), or null. */
export function numberUnstorable(source: string): string | null {
  // Without an exponent a token has no more digits on either side of its point than characters.
  if (source.length <= PG_MAX_SCALE && !HAS_EXPONENT.test(source)) return null;
  const d = decimal(source);
  if (d.scale > PG_MAX_SCALE)
    return `a number has ${d.scale} digits after the decimal point; PostgreSQL jsonb stores at most ${PG_MAX_SCALE}: send it with fewer digits`;
  const lead = d.digits.search(/[1-9]/);
  const integerDigits = lead < 0 ? 0 : Math.max(0, d.point - lead);
  if (integerDigits > PG_MAX_INTEGER_DIGITS)
    return `a number has ${integerDigits} digits before the decimal point; PostgreSQL jsonb stores at most ${PG_MAX_INTEGER_DIGITS}`;
  return null;
}

/**
 * The text jsonb gives a number token (PostgreSQL numeric_out): the written scale kept, the exponent
 * applied (`1.50e1` -> `15.0`, `2e24` -> 2 and 24 zeros), no sign on zero. Call only for a storable token.
 */
export function numericText(source: string): string {
  if (!HAS_EXPONENT.test(source)) return source.charCodeAt(0) === 45 && !/[1-9]/.test(source) ? source.slice(1) : source;
  const { negative, digits, point, scale } = decimal(source);
  let int: string;
  let frac: string;
  if (point <= 0) {
    int = '0';
    frac = '0'.repeat(-point) + digits;
  } else if (point >= digits.length) {
    int = digits + '0'.repeat(point - digits.length);
    frac = '';
  } else {
    int = digits.slice(0, point);
    frac = digits.slice(point);
  }
  int = int.replace(/^0+(?=\d)/, '');
  const text = scale > 0 ? `${int}.${frac}` : int;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

/**
 * True for any number token with an exponent or of 16383 or more characters: a superset of the tokens
 * numberUnstorable can refuse (a token without an exponent has no more digits on either side of its
 * point than characters). Like NUMBER_MAY_CHANGE it also matches such text inside strings. MAY_BE_UNSTORABLE
 * is a quicker superset of it (no context; a quarter of the time): a digit before an exponent, or a run of
 * at least 16383 digits and points.
 */
const MAY_BE_UNSTORABLE = /\d(?:[eE][-+]?\d|[\d.]{16382})/;
const NUMBER_MAY_BE_UNSTORABLE = /[:[,]\s*(?=-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\s*[,}\]])-?(?:\d+(?:\.\d+)?[eE]|[\d.]{16383})/;

/**
 * A token whose double is finite and not zero, yet which numberUnstorable refuses, is longer than
 * this. Past numeric's 16383 digits after the point (131072 before it gives a double of Infinity),
 * the token's digits N and scale s make its value N * 10^-s < 10^(digits - s), and a double that
 * is not zero is at least 2^-1075 (about 10^-323.6), so it has more than 16383 - 323.6 digits.
 */
export const NONZERO_UNSTORABLE_MIN_CHARS = 16_060;

/** Numbers of a parsed text: the sources a double would change, and whether PostgreSQL can store them. */
export type ExactNumbers = Omit<ExactParse, 'value'>;
const ROUND_TRIP: ExactNumbers = { sources: null, unstorable: null };

/**
 * JSON.parse that also records the source text of every number whose double would print
 * differently (or that has an exponent), and whether PostgreSQL can store every number exactly.
 */
export function parseExact(text: string): ExactParse {
  const value = JSON.parse(text) as unknown;
  return { value, ...(NUMBER_MAY_CHANGE.test(text) ? exactNumbers(text, value, true) : ROUND_TRIP) };
}

/**
 * Why PostgreSQL cannot store a number of `text` exactly, or null, for a caller that stores `text`
 * itself (jsonb reads the numbers from it, so their sources are not needed). `value` is
 * JSON.parse(text); `nonzero`: every number in it is known to be finite and not zero (the walk of
 * a valid resource, StructureFacts), so only a token of NONZERO_UNSTORABLE_MIN_CHARS can be
 * refused. Only a text that may hold such a number pays for the slow exact parse.
 */
export function numbersUnstorable(text: string, value: unknown, nonzero: boolean): string | null {
  if (nonzero && !hasNumberRun(text, NONZERO_UNSTORABLE_MIN_CHARS)) return null;
  if (!MAY_BE_UNSTORABLE.test(text) || !NUMBER_MAY_BE_UNSTORABLE.test(text)) return null;
  return exactNumbers(text, value, false).unstorable;
}

/** Whether a character can be part of a JSON number token. */
const numberChar = (c: number) => (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;

/**
 * Whether `text` has a run of `length` characters that can make up a number. Such a run covers a
 * multiple of length/2, so only the runs through those are measured: a few reads for any text.
 */
export function hasNumberRun(text: string, length: number): boolean {
  const stride = Math.floor(length / 2);
  for (let at = stride; at < text.length; at += stride) {
    if (!numberChar(text.charCodeAt(at))) continue;
    let start = at;
    let end = at + 1;
    while (start > 0 && numberChar(text.charCodeAt(start - 1))) start--;
    while (end < text.length && numberChar(text.charCodeAt(end))) end++;
    if (end - start >= length) return true;
  }
  return false;
}

/** The exact parse: the numbers' sources (`withSources`) and their storability, read by a reviver. */
function exactNumbers(text: string, value: unknown, withSources: boolean): ExactNumbers {
  // The reviver only collects sources, by the number's position in a depth-first walk in key order
  // (the order it visits them): objects built through a reviver are slow to read afterwards.
  const changed: [number, string][] = [];
  let numbers = 0;
  let unstorable: string | null = null;
  parseWithSource(text, (_key, v, context) => {
    if (typeof v === 'number') {
      const source = context!.source!;
      if (source !== String(v) || HAS_EXPONENT.test(source)) {
        unstorable ??= numberUnstorable(source);
        changed.push([numbers, source]);
      }
      numbers++;
    }
    return v;
  });
  return { sources: withSources && changed.length > 0 ? attachSources(value, changed) : null, unstorable };
}

/** The recorded sources on the plain parse's objects: the n-th number of the same walk the reviver made. */
function attachSources(root: unknown, changed: readonly [number, string][]): NumberSources {
  const sources = new Map<object, Map<string, string>>();
  let n = 0;
  let next = 0;
  const visit = (holder: object, key: string, v: unknown) => {
    if (typeof v === 'number') {
      if (next < changed.length && changed[next][0] === n) {
        let keys = sources.get(holder);
        if (keys === undefined) sources.set(holder, (keys = new Map()));
        keys.set(key, changed[next++][1]);
      }
      n++;
    } else if (typeof v === 'object' && v !== null) {
      if (Array.isArray(v)) for (let i = 0; i < v.length; i++) visit(v, String(i), v[i]);
      else for (const k of Object.keys(v)) visit(v, k, (v as Record<string, unknown>)[k]);
    }
  };
  visit({}, '', root);
  if (next !== changed.length) throw new Error('parseExact: the walk did not meet every recorded number');
  return sources;
}

/** jsonb's key order: shorter first, then bytewise. For ASCII keys (FHIR's element names) UTF-16 order is byte order. */
const asciiKeyOrder = (a: string, b: string) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
const NON_ASCII = /[\u0080-\uffff]/;
const isAscii = (key: string) => !NON_ASCII.test(key);
function byteKeyOrder(a: string, b: string): number {
  const x = Buffer.from(a),
    y = Buffer.from(b);
  return x.length - y.length || Buffer.compare(x, y);
}

/**
 * The canonical text of a JSON value: exactly the text PostgreSQL gives the same document as
 * `jsonb` (`resource::text`): members in jsonb's order, one space after `:` and `,`, strings
 * escaped as JSON.stringify does (which is escape_json's output for every string jsonb can hold),
 * numbers as numeric_out prints them (written scale kept: `1.50` and `1.5` differ). Two documents
 * have the same canonical text exactly when jsonb stores the same text for them, whatever their
 * member order, whitespace, escapes or exponent form. `value` and `sources` come from parseExact;
 * `asciiKeys` (every key is ASCII: true when the text it was parsed from is ASCII without `\u`
 * escapes) lets keys be ordered without encoding them.
 */
export function canonicalJson(value: unknown, sources: NumberSources | null, asciiKeys = false): string {
  return canonical(value, sources, asciiKeys ? asciiKeyOrder : byteKeyOrder);
}

/** A string needs JSON.stringify's escaping only with a quote, backslash, control character or surrogate; most need none (1.5x faster). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const quote = (s: string) => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

type KeyOrder = (a: string, b: string) => number;

/** Each container looks its numbers' sources up once; a number's own text is its double's unless a source is recorded. */
function canonical(value: unknown, sources: NumberSources | null, order: KeyOrder): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      const numbers = sources?.get(value);
      const item = (v: unknown, key: string | number) => {
        const source = typeof v === 'number' ? numbers?.get(String(key)) : undefined;
        return source === undefined ? canonical(v, sources, order) : numericText(source);
      };
      if (Array.isArray(value)) {
        if (value.length === 0) return '[]';
        let out = `[${item(value[0], 0)}`;
        for (let i = 1; i < value.length; i++) out += `, ${item(value[i], i)}`;
        return `${out}]`;
      }
      const keys = Object.keys(value);
      if (keys.length === 0) return '{}';
      if (keys.length > 1) keys.sort(order === asciiKeyOrder || keys.every(isAscii) ? asciiKeyOrder : byteKeyOrder);
      const obj = value as Record<string, unknown>;
      let out = `{${quote(keys[0])}: ${item(obj[keys[0]], keys[0])}`;
      for (let i = 1; i < keys.length; i++) out += `, ${quote(keys[i])}: ${item(obj[keys[i]], keys[i])}`;
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonicalJson: ${typeof value} is not a JSON value`);
  }
}

/** SHA-256 (hex) of a resource's canonical text: its history key with its type and id. One-shot: half the CPU of a createHash object. */
export const contentHash = (canonicalText: string): string => hash('sha256', canonicalText, 'hex');

/** The canonical text (canonicalJson) of a JSON text, e.g. a stored resource's. */
export function canonicalText(json: string): string {
  const { value, sources } = parseExact(json);
  return canonicalJson(value, sources);
}
