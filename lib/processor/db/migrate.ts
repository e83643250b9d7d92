import type { Pool } from 'pg';
import type { ProcessorConfig } from '../config';
import { errorFields, Logger } from '../logger';
import { retryTransient } from '../retry';
import { checkout, createPool } from './pool';
import { MIGRATIONS, Migration } from './schema';

/** Arbitrary constant shared by every processor task: only one migrates at a time. */
const MIGRATION_LOCK_KEY = 727_274_001;

/**
 * Applies pending migrations under a session advisory lock, each in its own transaction.
 * Safe to run from every task at start-up: the others wait, then find nothing to do.
 * Returns the versions applied by this call.
 */
export async function migrate(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  // Guarded: a server restart during start-up must be a retryable error, not a process crash.
  const guarded = await checkout(pool);
  const { client } = guarded;
  const applied: number[] = [];
  let failure: unknown;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, description) VALUES ($1, $2)', [
          migration.version,
          migration.description,
        ]);
        await client.query('COMMIT');
        applied.push(migration.version);
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    guarded.release(failure);
  }
  return applied;
}

/** The database may still be starting (first deploy, failover): transient errors are retried. */
export async function runMigrations(
  config: ProcessorConfig,
  logger: Logger,
  openPool: (c: ProcessorConfig) => Pool = (c) => createPool(c, { asWriter: false, max: 1 }),
  attempts = 30,
): Promise<number[]> {
  return retryTransient(
    async () => {
      const pool = openPool(config);
      try {
        const applied = await migrate(pool);
        logger.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date');
        return applied;
      } finally {
        await pool.end().catch(() => undefined);
      }
    },
    {
      attempts,
      baseMs: 500,
      capMs: 10_000,
      onRetry: (error, attempt) => logger.warn({ attempt, ...errorFields(error) }, 'database not reachable for migrations; retrying'),
    },
  );
}
