import { decodeUtf8 } from '../../../../lib/processor/fhir/utf8';

describe('decodeUtf8', () => {
  const strict = new TextDecoder('utf-8', { fatal: true });
  const asTextDecoder = (bytes: Uint8Array) => {
    try {
      return strict.decode(bytes);
    } catch {
      return null;
    }
  };

  test.each([
    ['ASCII', [0x7b, 0x7d]],
    ['a byte-order mark before the JSON (dropped, as TextDecoder does)', [0xef, 0xbb, 0xbf, 0x7b, 0x7d]],
    ['2-, 3- and 4-byte sequences', [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['an encoded surrogate (CESU-8)', [0xed, 0xa0, 0x80]],
    ['a truncated sequence', [0x7b, 0xe2, 0x82]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a lone continuation byte', [0x80]],
  ])('agrees with TextDecoder in fatal mode on %s', (_name, bytes) => {
    const data = Uint8Array.from(bytes);
    expect(decodeUtf8(data)).toBe(asTextDecoder(data));
  });

  test('decodes a view into a larger buffer by its own bounds', () => {
    const backing = Buffer.from('xx{"a":"é"}yy');
    expect(decodeUtf8(backing.subarray(2, backing.length - 2))).toBe('{"a":"é"}');
  });
});
