import type { Pool } from 'pg';
import { loadConfig, ProcessorConfig } from '../../lib/processor/config';
import { createPool } from '../../lib/processor/db/pool';
import { InputError } from './cli';

/** A flat {OutputKey: OutputValue} map: cfn-outputs/flat-outputs.json, or a stage's stack outputs. */
export type Outputs = Readonly<Record<string, string>>;

/** Fails with one line naming every key `outputs` lacks (`where` names the outputs). */
export function need<K extends string>(
  outputs: Outputs,
  keys: readonly K[],
  where: string,
): asserts outputs is Outputs & Readonly<Record<K, string>> {
  const missing = keys.filter((k) => !outputs[k]);
  if (missing.length > 0) throw new InputError(`${where} has no ${missing.join(', ')}`);
}

const LOCAL_DATABASE_KEYS = [
  'StreamName',
  'DatabaseEndpointAddress',
  'DatabaseEndpointPort',
  'DatabaseName',
  'LocalDatabaseUser',
  'LocalDatabasePassword',
] as const;

/**
 * The local stack's database (cfn-outputs/flat-outputs.json of `npm run local -- --keep`) as the writer role, for an
 * operation that runs in this process rather than as a task: the processor's own configuration of it and a
 * one-connection pool. `env` adds processor variables (WORKER_ID).
 */
export function localWriterDatabase(outputs: Outputs, env: Record<string, string> = {}): { config: ProcessorConfig; pool: Pool } {
  need(outputs, LOCAL_DATABASE_KEYS, 'the local outputs');
  const config = loadConfig({
    STREAM_NAME: outputs.StreamName,
    AWS_REGION: outputs.AwsRegion || 'eu-west-2',
    DB_HOST: outputs.DatabaseEndpointAddress,
    DB_PORT: outputs.DatabaseEndpointPort,
    DB_NAME: outputs.DatabaseName,
    DB_USER: outputs.LocalDatabaseUser,
    DB_PASSWORD: outputs.LocalDatabasePassword,
    // Embedded PostgreSQL has no certificate; the local stack is the only place TLS is off.
    DB_SSL_MODE: 'disable',
    ...env,
  });
  const pool = createPool(config, { asWriter: true, max: 1 });
  pool.on('error', () => undefined);
  return { config, pool };
}

/** A refused connection to the local database, as the one line that says how to start it; undefined for any other error. */
export function localDatabaseUnreachable(error: unknown, config: ProcessorConfig): Error | undefined {
  if ((error as { code?: unknown }).code !== 'ECONNREFUSED') return undefined;
  return new Error(
    `cannot reach the local database at ${config.db.host}:${config.db.port}: start the local stack with npm run local -- --keep`,
    {
      cause: error,
    },
  );
}
