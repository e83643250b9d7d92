/**
 * gzip (RFC 1952) and zlib (RFC 1950) payloads: recognised by their headers (neither can begin a
 * JSON text) and inflated with a hard cap on the output, so a zip bomb costs at most the cap.
 */
import { gunzipSync, inflateSync } from 'zlib';

export type Compression = 'gzip' | 'zlib';

export type InflateResult =
  | { readonly ok: true; readonly data: Uint8Array }
  | { readonly ok: false; readonly reason: 'INFLATED_TOO_LARGE' | 'CORRUPT_COMPRESSION'; readonly detail: string };

/** The compression a payload's header announces, if any. */
export function compressionOf(data: Uint8Array): Compression | undefined {
  if (data.byteLength >= 2 && data[0] === 0x1f && data[1] === 0x8b) return 'gzip';
  // CMF 0x78: deflate with a 32 KiB window; FCHECK makes the 16-bit header a multiple of 31 (78 01, 78 5e, 78 9c, 78 da).
  if (data.byteLength >= 2 && data[0] === 0x78 && (data[0] * 256 + data[1]) % 31 === 0) return 'zlib';
  return undefined;
}

/** Inflates `data` to at most `maxBytes`; never allocates more than that for the output. */
export function inflate(data: Uint8Array, compression: Compression, maxBytes: number): InflateResult {
  try {
    const options = { maxOutputLength: maxBytes };
    return { ok: true, data: compression === 'gzip' ? gunzipSync(data, options) : inflateSync(data, options) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE')
      return {
        ok: false,
        reason: 'INFLATED_TOO_LARGE',
        detail: `${compression} payload inflates past the ${maxBytes}-byte limit (a zip bomb, or a record to split)`,
      };
    // zlib's codes and messages are fixed texts (Z_DATA_ERROR: incorrect header check, ...): never record data.
    return {
      ok: false,
      reason: 'CORRUPT_COMPRESSION',
      detail: `${compression} payload cannot be inflated (${typeof code === 'string' ? code : 'error'}: ${(error as Error).message})`,
    };
  }
}
