import { join } from 'path';
import { EnvironmentError } from '../../../../lib/contract/errors';
import { PROCESSOR_ENV } from '../../../../lib/contract/processor';
import { loadRotationConfig, pgConnect } from '../../../../lib/processor/rotation/main';

const ARN = 'arn:aws:secretsmanager:eu-west-2:222222222222:secret:hipaa-fhir/dev/db-credentials';
const BUNDLE = join(__dirname, '../../../../lib/processor/certs/rds-ca-bundle.pem');
const env = {
  AWS_REGION: 'eu-west-2',
  DB_HOST: 'db.example.internal',
  DB_PORT: '5432',
  DB_NAME: 'fhir',
  DB_SSL_MODE: 'verify-full',
  DB_CA_BUNDLE: BUNDLE,
  [PROCESSOR_ENV.rotationSecretArn]: ARN,
};

describe('loadRotationConfig: the rotation function’s variables', () => {
  test('the database endpoint and TLS as the processor reads them; the secret ARN; no login from variables', () => {
    const config = loadRotationConfig({ ...env, DB_USER: 'ignored', DB_PASSWORD: 'ignored-too', DB_IAM_AUTH: 'true' });
    expect(config.secretArn).toBe(ARN);
    expect(config.processor.db).toMatchObject({
      host: 'db.example.internal',
      port: 5432,
      database: 'fhir',
      sslMode: 'verify-full',
      caBundlePath: BUNDLE,
      iamAuth: false,
      user: 'from-the-secret',
      password: 'from-the-secret',
    });
    expect(config.processor.region).toBe('eu-west-2');
  });

  test('a missing or malformed ROTATION_SECRET_ARN, or a missing DB_HOST, stops start-up with one line', () => {
    const message = 'ROTATION_SECRET_ARN must be the ARN of the secret to rotate (arn:aws:secretsmanager:<region>:<account>:secret:<name>)';
    expect(() => loadRotationConfig({ ...env, [PROCESSOR_ENV.rotationSecretArn]: undefined })).toThrow(new EnvironmentError(message));
    expect(() => loadRotationConfig({ ...env, [PROCESSOR_ENV.rotationSecretArn]: 'hipaa-fhir/dev/db-credentials' })).toThrow(message);
    expect(() => loadRotationConfig({ ...env, DB_HOST: '' })).toThrow('DB_HOST is required');
  });

  test('pgConnect: a refused login rejects with the server’s error (here: nothing listens)', async () => {
    const { processor } = loadRotationConfig({ ...env, DB_HOST: '127.0.0.1', DB_PORT: '1', DB_SSL_MODE: 'disable' });
    await expect(pgConnect(processor.db)({ username: 'fhir_admin', password: 'x-Password-1' })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});
