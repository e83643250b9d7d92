/**
 * Each Bundle entry's resource exactly as sent: its slice of the Bundle's JSON text. Stored as is,
 * every number keeps its written form (`1.50`, digits beyond a double) with no second, exact parse
 * and no re-serialization; jsonb reads the numbers from the text.
 *
 * A scan of text JSON.parse has already accepted, so it follows the grammar without checking it.
 * It agrees with JSON.parse where a key repeats (the last one counts) and where a key is escaped
 * (`"reso\u0075rce"` is `resource`).
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(text: string, i: number): number {
  while (isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** `i` at a string's opening quote: the index after its closing quote (a vectorised search per quote). */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; ; j++) {
    j = text.indexOf('"', j);
    let backslashes = 0;
    while (text.charCodeAt(j - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return j + 1;
  }
}

/** `i` at a value's first character: the index after its last. */
function valueEnd(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return stringEnd(text, i);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    let depth = 0;
    for (let j = i; ; j++) {
      const d = text.charCodeAt(j);
      // Brackets and braces are the only structural characters at or above `[`: most characters take two comparisons.
      if (d === QUOTE) j = stringEnd(text, j) - 1;
      else if (d >= OPEN_ARRAY) {
        if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
        else if ((d === CLOSE_OBJECT || d === CLOSE_ARRAY) && --depth === 0) return j + 1;
      }
    }
  }
  // A number, true, false or null: up to the next delimiter (or the end of the text).
  let j = i;
  for (
    let d = text.charCodeAt(j);
    d === d && d !== COMMA && d !== CLOSE_OBJECT && d !== CLOSE_ARRAY && !isSpace(d);
    d = text.charCodeAt(++j)
  );
  return j;
}

/** Calls `member` for each member of the object opening at `i` with its key and value start; returns the index after the object. */
function members(text: string, i: number, member: (key: string, value: number) => number): number {
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === CLOSE_OBJECT) return i + 1;
  for (;;) {
    const keyEnd = stringEnd(text, i);
    const raw = text.slice(i + 1, keyEnd - 1);
    const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
    // After the key: optional space, the colon, optional space.
    i = skipSpace(text, member(key, skipSpace(text, skipSpace(text, keyEnd) + 1)));
    if (text.charCodeAt(i) === CLOSE_OBJECT) return i + 1;
    i = skipSpace(text, i + 1);
  }
}

/**
 * The JSON text of each `entry[i].resource` of the Bundle whose text is `text` (an object),
 * undefined for an entry without one; [] when the Bundle has no entry array.
 */
export function entryResourceTexts(text: string): (string | undefined)[] {
  let entries: (string | undefined)[] = [];
  members(text, skipSpace(text, 0), (key, at) => {
    if (key !== 'entry') return valueEnd(text, at);
    // A repeated `entry` replaces the earlier one, as in JSON.parse.
    entries = [];
    if (text.charCodeAt(at) !== OPEN_ARRAY) return valueEnd(text, at);
    let i = skipSpace(text, at + 1);
    if (text.charCodeAt(i) === CLOSE_ARRAY) return i + 1;
    for (;;) {
      let resource: string | undefined;
      if (text.charCodeAt(i) === OPEN_OBJECT)
        i = members(text, i, (k, v) => {
          const end = valueEnd(text, v);
          if (k === 'resource') resource = text.slice(v, end);
          return end;
        });
      else i = valueEnd(text, i);
      entries.push(resource);
      i = skipSpace(text, i);
      if (text.charCodeAt(i) === CLOSE_ARRAY) return i + 1;
      i = skipSpace(text, i + 1);
    }
  });
  return entries;
}
