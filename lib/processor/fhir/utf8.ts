import { isUtf8 } from 'buffer';

/**
 * Strict UTF-8 (as TextDecoder's fatal mode: no overlongs, surrogates or truncated sequences), decoded by
 * Buffer: simdutf's check and decode together take about a third of TextDecoder's time, which was a fifth of
 * all validation time. The floor in `npm run bench:validator` decodes the same way.
 */
export function decodeUtf8(data: Uint8Array): string | null {
  if (!isUtf8(data)) return null;
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  // TextDecoder drops a leading byte-order mark; JSON.parse would reject it.
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
