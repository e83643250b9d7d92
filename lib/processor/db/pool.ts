import { readFileSync } from 'fs';
import { Signer } from '@aws-sdk/rds-signer';
import { Pool, PoolClient, PoolConfig } from 'pg';
import type { ProcessorConfig } from '../config';
import { isDataError } from '../retry';
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
  /** Work as this role instead (the read API's fhir_api). @default none */
  readonly role?: string;
  readonly max?: number;
  /** @default 'fhir-processor' */
  readonly applicationName?: string;
}

/** A pg pool for the configured database: password from the secret, or an IAM token per connection. */
export function createPool(config: ProcessorConfig, options: PoolOptions): Pool {
  const { db } = config;
  const signer = db.iamAuth ? new Signer({ hostname: db.host, port: db.port, username: db.user, region: config.region }) : undefined;
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
    application_name: options.applicationName ?? 'fhir-processor',
    // Startup parameter, so every pooled session is the writer role before its first query.
    options: options.role ? `-c role=${options.role}` : options.asWriter ? `-c role=${WRITER_ROLE}` : undefined,
  });
}

/** A checked-out client that cannot crash the process, and that is discarded if its connection failed. */
export interface GuardedClient {
  readonly client: PoolClient;
  /** Returns the client to the pool; a client whose connection failed (or `error` given) is destroyed. */
  release(error?: unknown): void;
}

/**
 * Checks a client out with an 'error' listener attached for as long as it is held. pg emits
 * 'error' on a checked-out client when the server ends the session between two statements
 * (FATAL 57P01 on restart or failover, "Connection terminated unexpectedly"); with no listener
 * that is an unhandled error and the process exits. The failure also reaches the next query on
 * the client, so callers see it as an ordinary (transient) query error and retry.
 */
export async function checkout(pool: Pool): Promise<GuardedClient> {
  const client = await pool.connect();
  let failed: Error | undefined;
  const onError = (error: Error) => {
    failed = error;
  };
  client.on('error', onError);
  let released = false;
  return {
    client,
    release(error?: unknown) {
      if (released) return;
      released = true;
      client.removeListener('error', onError);
      // release(true) destroys the connection instead of returning a broken one to the pool.
      client.release(failed ?? (error instanceof Error ? error : error !== undefined ? new Error(String(error)) : undefined));
    },
  };
}

export interface TransactionOptions {
  /** BEGIN READ ONLY (a dry run). @default false */
  readonly readOnly?: boolean;
  /** Errors after which the session is still healthy and goes back to the pool. @default isDataError */
  readonly keepsSession?: (error: unknown) => boolean;
}

/** One transaction on a guarded client: committed when `work` resolves, rolled back when it throws. */
export async function transaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const guarded = await checkout(pool);
  const { client } = guarded;
  let failure: unknown;
  try {
    await client.query(options.readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
    try {
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } catch (error) {
    // A refused record leaves a healthy session; anything else may have broken it.
    if (!(options.keepsSession ?? isDataError)(error)) failure = error;
    throw error;
  } finally {
    guarded.release(failure);
  }
}
