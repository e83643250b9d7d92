import { tlsOptions } from '../../../../lib/processor/db/pool';

describe('TLS options', () => {
  const db = { host: 'h', port: 5432, database: 'd', user: 'u', iamAuth: false, caBundlePath: __filename };
  test('verify-full pins the CA bundle and checks the host name', () => {
    expect(tlsOptions({ ...db, sslMode: 'verify-full' })).toEqual({ ca: expect.any(String), rejectUnauthorized: true, servername: 'h' });
  });
  test('require encrypts without verification; disable is plain (local run only)', () => {
    expect(tlsOptions({ ...db, sslMode: 'require' })).toEqual({ rejectUnauthorized: false });
    expect(tlsOptions({ ...db, sslMode: 'disable' })).toBe(false);
  });
});
