import { readFileSync } from 'fs';
import { join } from 'path';
import {
  canonicalJson,
  canonicalText,
  contentHash,
  hasNumberRun,
  NONZERO_UNSTORABLE_MIN_CHARS,
  numbersUnstorable,
  numberUnstorable,
  numericText,
  parseExact,
} from '../../../../lib/processor/fhir/exact-json';
import { ValidationResult, ValidRecord, validateRecord } from '../../../../lib/processor/fhir/validate';
import { Json } from '../../../../scripts/shared/fhir-fuzz';
import { numberTokens, reserialize } from '../../../../scripts/shared/json-text';

const MAX = 1_048_576;
const ok = (r: ValidationResult): ValidRecord => {
  if (!r.ok) throw new Error(`expected a valid record, got ${r.reason}: ${r.detail}`);
  return r;
};
/** The history key the database computes (write.ts): the hash of the text jsonb gives the resource. */
const hashOf = (r: { json: string }) => contentHash(canonicalText(r.json));
const corpusFile = (name: string) => readFileSync(join(__dirname, '../../../fixtures/fhir-corpus/hl7-r4', name), 'utf8');

const observation = (value: string) =>
  `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"weight"},"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":${value},"unit":"kg"}}`;

describe('numbers as sent', () => {
  test('numericText is the text jsonb prints: written scale kept, exponent applied, no sign on zero', () => {
    expect(
      [
        '1.50',
        '0.0',
        '12345678901234567890',
        '1.50e1',
        '2e24',
        '1E+2',
        '1.5e-3',
        '-1.000000000000000000E+3',
        '-0',
        '-0.0',
        '0e5',
        '1e0',
      ].map(numericText),
    ).toEqual([
      '1.50',
      '0.0',
      '12345678901234567890',
      '15.0',
      `2${'0'.repeat(24)}`,
      '100',
      '0.0015',
      '-1000.000000000000000',
      '0',
      '0.0',
      '0',
      '1',
    ]);
  });

  test("numberUnstorable follows PostgreSQL numeric's limits: 16383 digits after the point, 131072 before", () => {
    expect(numberUnstorable('1e-16383')).toBeNull();
    expect(numberUnstorable('1e-16384')).toMatch(/16384 digits after the decimal point; PostgreSQL jsonb stores at most 16383/);
    expect(numberUnstorable('1e-20000')).toMatch(/20000 digits after the decimal point/);
    expect(numberUnstorable('1.5e-16382')).toBeNull();
    expect(numberUnstorable('1.5e-16383')).not.toBeNull();
    expect(numberUnstorable(`0.${'0'.repeat(16384)}`)).not.toBeNull();
    expect(numberUnstorable('1e131071')).toBeNull();
    expect(numberUnstorable('1e131072')).toMatch(/131073 digits before the decimal point/);
    expect(numberUnstorable('0.1e131072')).toBeNull();
    expect(numberUnstorable('0e999999')).toBeNull();
    expect(numberUnstorable('12345678901234567890')).toBeNull();
  });

  test('parseExact keeps the source of every number a double would change, and only those', () => {
    const { value, sources } = parseExact('{"a": [1.50, 2, 12345678901234567890], "b": {"c": 1e2, "d": 0.5}}');
    const v = value as { a: number[]; b: Json };
    expect(sources?.get(v.a)).toEqual(
      new Map([
        ['0', '1.50'],
        ['2', '12345678901234567890'],
      ]),
    );
    expect(sources?.get(v.b)).toEqual(new Map([['c', '1e2']]));
    expect(parseExact('{"a": [1.5, 2, 0.25, -3]}').sources).toBeNull();
  });

  test("a plain resource keeps its text; a Bundle entry is stored as its slice of the Bundle's text, numbers as sent", () => {
    for (const value of ['1.50', '0.0', '12345678901234567890', '123456789.123456789123456789', '-0.000000010']) {
      const single = ok(validateRecord(Buffer.from(observation(value)), MAX)).resources[0];
      expect(single.json).toBe(observation(value));
      const bundle = Buffer.from(
        `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:0a6c6e0e-6f5b-4a4e-9a51-9f4f3d7f5c21","resource":${observation(value)}}]}`,
      );
      const entry = ok(validateRecord(bundle, MAX)).resources[0];
      expect(entry.json).toBe(observation(value));
      expect(numberTokens(entry.json)).toEqual([value]);
      expect(hashOf(entry)).toBe(hashOf(single));
    }
  });

  test('the official decimal example keeps 1.0, 1.00 and its 19-digit mantissas, in and out of a Bundle', () => {
    const text = corpusFile('observation-decimal.json');
    const sent = numberTokens(text);
    expect(sent).toEqual(['1.0', '1.00', '1.0', '1E-22', '1000000000000000000', '1.000000000000000000E-245', '-1.000000000000000000E+245']);
    const single = ok(validateRecord(Buffer.from(text), MAX)).resources[0];
    const bundleText = `{"resourceType":"Bundle","type":"batch","entry":[{"fullUrl":"https://example.org/fhir/Observation/decimal","resource":${text},"request":{"method":"PUT","url":"Observation/decimal"}}]}`;
    const entry = ok(validateRecord(Buffer.from(bundleText), MAX)).resources[0];
    expect(entry.json).toBe(text);
    expect(hashOf(entry)).toBe(hashOf(single));
    expect(numberTokens(canonicalText(entry.json)).sort()).toEqual(sent.map(numericText).sort());
  });

  test('a number jsonb cannot hold exactly is quarantined as UNSTORABLE with its reason, in and out of a Bundle', () => {
    const single = validateRecord(Buffer.from(observation('1e-20000')), MAX);
    expect(single).toEqual({
      ok: false,
      reason: 'UNSTORABLE',
      detail: 'a number has 20000 digits after the decimal point; PostgreSQL jsonb stores at most 16383: send it with fewer digits',
    });
    const bundle = `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:0a6c6e0e-6f5b-4a4e-9a51-9f4f3d7f5c21","resource":${observation('1e-20000')}}]}`;
    expect(validateRecord(Buffer.from(bundle), MAX)).toMatchObject({ ok: false, reason: 'UNSTORABLE' });
    // Zero and a number long enough to be refused though its double is not zero (see NONZERO_UNSTORABLE_MIN_CHARS).
    expect(validateRecord(Buffer.from(observation('0e-16384')), MAX)).toMatchObject({ reason: 'UNSTORABLE' });
    const long = `1.${'0'.repeat(16_383)}1`;
    expect(validateRecord(Buffer.from(observation(long)), MAX)).toMatchObject({ reason: 'UNSTORABLE' });
    expect(validateRecord(Buffer.from(observation(`0.${'0'.repeat(16_380)}1e2`)), MAX)).toMatchObject({ ok: true });
    // Invalid FHIR is reported as such first.
    expect(validateRecord(Buffer.from(observation('1e-20000').replace('"final"', '"nonsense"')), MAX)).toMatchObject({
      reason: 'INVALID_FHIR',
    });
  });
});

describe('canonical text: equal content, one hash', () => {
  const text = corpusFile('observation-decimal.json');

  test('member order, whitespace and escapes do not change the hash; a number written 1.5 for 1.50 does', () => {
    const a = ok(validateRecord(Buffer.from(text), MAX)).resources[0];
    const again = reserialize(text);
    expect(again).not.toBe(text);
    const b = ok(validateRecord(Buffer.from(again), MAX)).resources[0];
    expect(hashOf(b)).toBe(hashOf(a));
    expect(b.json).toBe(again);
    const rescaled = ok(validateRecord(Buffer.from(text.replace('"value": 1.00,', '"value": 1.0,')), MAX)).resources[0];
    expect(hashOf(rescaled)).not.toBe(hashOf(a));
    // An exponent written out in full is the same decimal, as jsonb stores it.
    const expanded = ok(validateRecord(Buffer.from(text.replace('"value": 1E-22', `"value": 0.${'0'.repeat(21)}1`)), MAX)).resources[0];
    expect(hashOf(expanded)).toBe(hashOf(a));
  });

  test('keys order as jsonb orders them: shorter first, then by UTF-8 bytes', () => {
    expect(canonicalJson(JSON.parse('{"bb": 1, "a": [true, null, "x"], "é": {}, "z": 0.5}'), null)).toBe(
      '{"a": [true, null, "x"], "z": 0.5, "bb": 1, "é": {}}',
    );
    expect(canonicalJson(JSON.parse('{"ab": 1, "b": 2, "aa": 3}'), null, true)).toBe('{"b": 2, "aa": 3, "ab": 1}');
  });
});

describe('the storability check of a stored text', () => {
  test('a text whose numbers are not zero needs no scan unless it has a run long enough for an unstorable token', () => {
    const short = observation('1e-20000');
    // Told (wrongly) that no number is zero, the short text is not scanned: the walk's fact is what makes that safe.
    expect(numbersUnstorable(short, JSON.parse(short), true)).toBeNull();
    expect(numbersUnstorable(short, JSON.parse(short), false)).toMatch(/20000 digits after the decimal point/);
    const long = `1.${'0'.repeat(16_383)}1`;
    expect(numbersUnstorable(observation(long), JSON.parse(observation(long)), true)).toMatch(/16384 digits after the decimal point/);
  });

  test('the quick scans pass by numbers that cannot be refused and digits inside strings', () => {
    expect(numbersUnstorable(observation('1.50'), JSON.parse(observation('1.50')), false)).toBeNull();
    // An exponent-like run inside a string, and a storable exponent.
    const text = '{"a": "x: 1e-20000 y", "b": [2.5e3]}';
    expect(numbersUnstorable(text, JSON.parse(text), false)).toBeNull();
    expect(numbersUnstorable('{"a": 0e-16383}', { a: 0 }, false)).toBeNull();
    expect(numbersUnstorable('{"a": 0e-16384}', { a: 0 }, false)).toMatch(/16384 digits after the decimal point/);
  });

  test('hasNumberRun finds a run of number characters of the given length wherever it lies', () => {
    const n = NONZERO_UNSTORABLE_MIN_CHARS;
    expect(hasNumberRun('x'.repeat(50_000), n)).toBe(false);
    for (const at of [0, 1, 7_999, 8_030, 12_345, 50_000 - NONZERO_UNSTORABLE_MIN_CHARS]) {
      const run = `-1.${'9'.repeat(n - 6)}e+5`;
      expect(run).toHaveLength(n);
      const text = `${'x'.repeat(at)}${run}${'x'.repeat(50_000 - at - n)}`;
      expect(hasNumberRun(text, n)).toBe(true);
      expect(hasNumberRun(text.replace('99e', '9xe'), n)).toBe(false);
    }
    // Number characters around every sampled position, in short runs only.
    expect(hasNumberRun('123 '.repeat(20_000), n)).toBe(false);
  });
});
