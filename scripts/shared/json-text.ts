/**
 * JSON text helpers for tests and tools that check numbers are kept as sent and that equal content
 * is recognised whatever its formatting.
 */
import { parseExact } from '../../lib/processor/fhir/exact-json';

/** The number tokens of a JSON text (outside strings), in text order. */
export function numberTokens(text: string): string[] {
  const out: string[] = [];
  const token = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      for (i++; text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92) i++;
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      token.lastIndex = i;
      const m = token.exec(text)![0];
      out.push(m);
      i += m.length - 1;
    }
  }
  return out;
}

/**
 * The same JSON value as another library might write it: every object's members in reverse order,
 * other whitespace, non-ASCII characters as \u escapes, and every number exactly as in `text`.
 */
export function reserialize(text: string): string {
  const { value, sources } = parseExact(text);
  const str = (s: string) => JSON.stringify(s).replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const write = (v: unknown, holder: object | null, key: string): string => {
    if (typeof v === 'number') return sources?.get(holder!)?.get(key) ?? String(v);
    if (typeof v === 'string') return str(v);
    if (typeof v !== 'object' || v === null) return JSON.stringify(v);
    if (Array.isArray(v)) return `[ ${v.map((x, i) => write(x, v, String(i))).join(' ,\n ')} ]`;
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj).reverse();
    return `{\n\t${keys.map((k) => `${str(k)} :${write(obj[k], v, k)}`).join(',\r\n\t')}\n}`;
  };
  return write(value, null, '');
}
