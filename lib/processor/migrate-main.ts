/**
 * `node dist/processor/migrate-main.js`: applies pending migrations with the MASTER credentials and exits
 * (0 applied or up to date, 1 failed, 2 misconfigured). It runs as a one-off ECS task before the
 * processor service starts or changes (DatabaseMigration, a CDK Trigger); the long-running service
 * logs in as its own user and never receives the master secret.
 *
 * Environment: AWS_REGION, DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD (from the master
 * secret), DB_SSL_MODE.
 */
import type { Pool } from 'pg';
import { loadMigrationConfig, loadOrExit, ProcessorConfig } from './config';
import { migrate } from './db/migrate';
import { createPool } from './db/pool';
import { createLogger, errorFields, Logger } from './logger';
import { retryTransient } from './retry';

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

async function main(): Promise<void> {
  const config = loadOrExit(() => loadMigrationConfig(process.env));
  await runMigrations(config, createLogger('migrate', config.logLevel));
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: 'migrations failed', ...errorFields(error) })}\n`);
      process.exit(1);
    },
  );
}
