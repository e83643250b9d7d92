import { createHash, createHmac } from 'crypto';
import { scramSha256Verifier, SCRAM_ITERATIONS } from '../../../../lib/processor/rotation/scram';

/** RFC 7677 section 3: the SCRAM-SHA-256 exchange for user "user", password "pencil". */
const RFC7677 = {
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  authMessage:
    'n=user,r=rOprNGfwEbeRWgbNEkqO,' +
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,' +
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  clientProof: 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverSignature: '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

function parse(verifier: string) {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
  if (!m) throw new Error(`not a verifier: ${verifier}`);
  return { iterations: Number(m[1]), salt: m[2], storedKey: Buffer.from(m[3], 'base64'), serverKey: Buffer.from(m[4], 'base64') };
}

describe('scramSha256Verifier (RFC 5802 / RFC 7677, PostgreSQL text form)', () => {
  test("the keys of RFC 7677's example: its server signature and its client proof check against them", () => {
    const v = parse(scramSha256Verifier('pencil', Buffer.from(RFC7677.salt, 'base64'), 4096));
    expect([v.iterations, v.salt]).toEqual([4096, RFC7677.salt]);
    // ServerSignature = HMAC(ServerKey, AuthMessage)
    expect(createHmac('sha256', v.serverKey).update(RFC7677.authMessage).digest('base64')).toBe(RFC7677.serverSignature);
    // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); StoredKey = H(ClientKey)
    const signature = createHmac('sha256', v.storedKey).update(RFC7677.authMessage).digest();
    const proof = Buffer.from(RFC7677.clientProof, 'base64');
    const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]));
    expect(createHash('sha256').update(clientKey).digest().equals(v.storedKey)).toBe(true);
  });

  test("PostgreSQL's iteration count and a fresh 16-byte salt by default; the password is not in the verifier", () => {
    const a = parse(scramSha256Verifier('Correct-Horse-9'));
    const b = parse(scramSha256Verifier('Correct-Horse-9'));
    expect(a.iterations).toBe(SCRAM_ITERATIONS);
    expect(SCRAM_ITERATIONS).toBe(4096);
    expect(Buffer.from(a.salt, 'base64')).toHaveLength(16);
    expect(a.salt).not.toBe(b.salt);
    expect(a.storedKey.equals(b.storedKey)).toBe(false);
    expect(scramSha256Verifier('Correct-Horse-9')).not.toContain('Correct-Horse-9');
  });

  test('refuses passwords SASLprep could change (spaces, non-ASCII, control characters) and the empty one', () => {
    for (const bad of ['with space', 'caf\u00e9', 'tab\there', ''])
      expect(() => scramSha256Verifier(bad)).toThrow('only for printable ASCII passwords without spaces');
  });
});
