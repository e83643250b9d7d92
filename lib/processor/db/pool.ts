import { readFileSync } from 'fs';
import { Signer } from '@aws-sdk/rds-signer';
import { Pool, PoolConfig } from 'pg';
import type { ProcessorConfig } from '../config';
import { WRITER_ROLE } from './schema';

/** TLS options for pg: verify-full checks the chain against the RDS CA bundle and the host name. */
export function tlsOptions(db: ProcessorConfig['db']): PoolConfig['ssl'] {
  switch (db.sslMode) {
    case 'verify-full':
      return { ca: readFileSync(db.caBundlePath, 'utf8'), rejectUnauthorized: true, servername: db.host };
    case 'require':
      return { rejectUnauthorized: false };
    case 'disable':
      return false;
  }
}

export interface PoolOptions {
  /** Work as the restricted writer role (everything but migrations). */
  readonly asWriter: boolean;
  readonly max?: number;
}

/** A pg pool for the configured database: password from the secret, or an IAM token per connection. */
export function createPool(config: ProcessorConfig, options: PoolOptions): Pool {
  const { db } = config;
  const signer = db.iamAuth
    ? new Signer({ hostname: db.host, port: db.port, username: db.user, region: config.region })
    : undefined;
  return new Pool({
    host: db.host,
    port: db.port,
    database: db.database,
    user: db.user,
    password: signer ? () => signer.getAuthToken() : db.password,
    ssl: tlsOptions(db),
    max: options.max ?? 4,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: 'fhir-processor',
    // Startup parameter, so every pooled session is the writer role before its first query.
    options: options.asWriter ? `-c role=${WRITER_ROLE}` : undefined,
  });
}
