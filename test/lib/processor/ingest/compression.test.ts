import { deflateRawSync, deflateSync, gzipSync } from 'zlib';
import { compressionOf, inflate } from '../../../../lib/processor/ingest/compression';

const json = Buffer.from('{"resourceType":"Patient","id":"p1"}');

describe('gzip and zlib payloads', () => {
  test.each([
    ['gzip', gzipSync(json), 'gzip'],
    ['zlib, default level (78 9c)', deflateSync(json), 'zlib'],
    ['zlib, fastest (78 01)', deflateSync(json, { level: 1 }), 'zlib'],
    ['zlib, best (78 da)', deflateSync(json, { level: 9 }), 'zlib'],
  ] as const)('%s is recognised by its header and inflated', (_name, data, kind) => {
    expect(compressionOf(data)).toBe(kind);
    const result = inflate(data, kind, 1024);
    expect(result.ok && Buffer.from(result.data).toString()).toBe(json.toString());
  });

  test('JSON, NDJSON, raw deflate and a lone 0x78 are not compressed payloads', () => {
    expect(compressionOf(json)).toBeUndefined();
    expect(compressionOf(Buffer.from('  {"a":1}\n{"b":2}'))).toBeUndefined();
    expect(compressionOf(deflateRawSync(json))).toBeUndefined();
    expect(compressionOf(Buffer.from([0x78]))).toBeUndefined();
    expect(compressionOf(Buffer.from([0x78, 0x00]))).toBeUndefined();
  });

  test('a zip bomb stops at the bound, with a reason naming it', () => {
    // 64 MiB of zeros compresses to about 64 KiB: the bound (1 MiB) is reached long before the end.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(128 * 1024);
    expect(inflate(bomb, 'gzip', 1024 * 1024)).toEqual({
      ok: false,
      reason: 'INFLATED_TOO_LARGE',
      detail: 'gzip payload inflates past the 1048576-byte limit (a zip bomb, or a record to split)',
    });
    expect(inflate(deflateSync(Buffer.alloc(2048)), 'zlib', 2047)).toMatchObject({ ok: false, reason: 'INFLATED_TOO_LARGE' });
    expect(inflate(deflateSync(Buffer.alloc(2048)), 'zlib', 2048)).toMatchObject({ ok: true });
  });

  test('a truncated or corrupted payload is quarantined as corrupt compression, with zlib’s fixed message', () => {
    const gz = gzipSync(json);
    expect(inflate(gz.subarray(0, gz.length - 6), 'gzip', 1024)).toEqual({
      ok: false,
      reason: 'CORRUPT_COMPRESSION',
      detail: 'gzip payload cannot be inflated (Z_BUF_ERROR: unexpected end of file)',
    });
    const bad = Buffer.from(deflateSync(json));
    bad[bad.length - 1] ^= 0xff;
    expect(inflate(bad, 'zlib', 1024)).toEqual({
      ok: false,
      reason: 'CORRUPT_COMPRESSION',
      detail: 'zlib payload cannot be inflated (Z_DATA_ERROR: incorrect data check)',
    });
  });
});
