/**
 * The rotation function of the database master secret: `node dist/processor/rotation/main.js` in the processor's
 * image, as a Lambda function that Secrets Manager invokes once per rotation step (rotate.ts). Its own Runtime API
 * loop, as the read API's (lib/processor/lambda-runtime.ts).
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Client } from 'pg';
import { EnvironmentError } from '../../contract/errors';
import { PROCESSOR_ENV } from '../../contract/processor';
import { loadConfig, loadOrExit, ProcessorConfig } from '../config';
import { tlsOptions } from '../db/pool';
import { runtimeApiOrExit, runtimeLoop } from '../lambda-runtime';
import { createLogger } from '../logger';
import { Connect, createRotator } from './rotate';

export interface RotationConfig {
  /** ROTATION_SECRET_ARN: the one secret this function rotates. */
  readonly secretArn: string;
  /** DB_HOST, DB_PORT, DB_NAME, DB_SSL_MODE, DB_CA_BUNDLE, AWS_REGION, LOG_LEVEL as the processor reads them; the login comes from the secret. */
  readonly processor: ProcessorConfig;
}

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$/;

export function loadRotationConfig(env: Readonly<Record<string, string | undefined>>): RotationConfig {
  const secretArn = env[PROCESSOR_ENV.rotationSecretArn];
  if (!secretArn || !SECRET_ARN.test(secretArn))
    throw new EnvironmentError(
      `${PROCESSOR_ENV.rotationSecretArn} must be the ARN of the secret to rotate (arn:aws:secretsmanager:<region>:<account>:secret:<name>)`,
    );
  // The user and password of each login are the secret's versions', never variables: stand-ins satisfy loadConfig.
  const processor = loadConfig({
    ...env,
    [PROCESSOR_ENV.streamName]: 'unused-by-the-rotation',
    [PROCESSOR_ENV.dbUser]: 'from-the-secret',
    [PROCESSOR_ENV.dbPassword]: 'from-the-secret',
    [PROCESSOR_ENV.dbIamAuth]: 'false',
    [PROCESSOR_ENV.dbMigrateOnStart]: 'false',
  });
  return { secretArn, processor };
}

/** One pg session per login, with the processor's TLS options (verify-full against the RDS bundle in AWS). */
export function pgConnect(db: ProcessorConfig['db']): Connect {
  return async ({ username, password }) => {
    const client = new Client({
      host: db.host,
      port: db.port,
      database: db.database,
      user: username,
      password,
      ssl: tlsOptions(db),
      connectionTimeoutMillis: 10_000,
      application_name: 'fhir-secret-rotation',
    });
    // A session the server ends between two statements must not crash the function; the next query fails instead.
    client.on('error', () => undefined);
    await client.connect();
    return { query: (sql) => client.query(sql), end: () => client.end() };
  };
}

if (require.main === module) {
  const runtimeApi = runtimeApiOrExit(process.env);
  const config = loadOrExit(() => loadRotationConfig(process.env));
  const logger = createLogger('secret-rotation', config.processor.logLevel);
  const rotate = createRotator({
    secrets: new SecretsManagerClient({ region: config.processor.region }),
    connect: pgConnect(config.processor.db),
    secretArn: config.secretArn,
    logger,
  });
  void runtimeLoop(runtimeApi, rotate, {
    // RotationError messages name the step and what is wrong, never a value; anything else is in the log only.
    errorMessage: (error) => (error.name === 'RotationError' ? error.message : 'the rotation step failed; see the function log'),
  });
}
