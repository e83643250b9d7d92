/**
 * `node dist/processor/tasks/migrate/main.js`: applies pending migrations with the MASTER credentials and exits
 * (0 applied or up to date, 1 failed, 2 misconfigured). It runs as a one-off ECS task before the
 * processor service starts or changes (DatabaseMigration, a CDK Trigger); the long-running service
 * logs in as its own user and never receives the master secret.
 *
 * Environment: AWS_REGION, DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD (from the master
 * secret), DB_SSL_MODE.
 */
import { loadMigrationConfig, loadOrExit } from '../../config';
import { runMigrations } from '../../db/migrate';
import { createLogger, errorFields } from '../../logger';

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
