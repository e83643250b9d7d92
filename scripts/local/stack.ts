/**
 * The local stack, built from npm packages only: embedded PostgreSQL 16 (in its own process,
 * scripts/local/postgres-server.ts) and kinesalite (in this process). Used by `npm run local`, the
 * processor tests and the benchmark.
 */
import { ChildProcess, spawn } from 'child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { Client, ClientConfig } from 'pg';
import { createKinesisClient } from '../../lib/processor/service/kinesis-client';
import { traversableByOthers } from '../shared/fs-access';
import { compileCacheEnv, RUN_TMPDIR, TS_HOOK } from '../shared/child';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- kinesalite has no types or ES module entry
const kinesalite = require('kinesalite') as (options: Record<string, unknown>) => {
  listen(port: number, cb: () => void): void;
  close(cb?: () => void): void;
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface LocalPostgres {
  readonly port: number;
  readonly password: string;
  /**
   * How to connect: the superuser, to `fhir` unless `database` says otherwise; `role` starts the session
   * as that role (`-c role=`), as the processor works as fhir_writer.
   */
  settings(options?: { role?: string; database?: string }): ClientConfig;
  /** A connected superuser session in `fhir`. */
  client(): Promise<Client>;
  /** Stops the server (clean shutdown) and starts it again on the same data and port. */
  restart(downMs?: number): Promise<void>;
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

const root = join(__dirname, '..', '..');

/** A node child running a TypeScript entry point (transpile-only); `detached` puts it in a process group of its own. */
export function spawnTs(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  options: { detached?: boolean } = {},
): ChildProcess {
  return spawn(process.execPath, [...TS_HOOK, script, ...args], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
}

const PASSWORD = 'local-test-only';

/** Starts scripts/local/postgres-server.ts on `dataDir` and resolves once it prints READY. */
async function launchServer(dataDir: string, port: number, template?: string): Promise<ChildProcess> {
  // A process group of its own: a Ctrl-C or hang-up sent to the caller's group must not reach PostgreSQL (or its
  // initdb) in the middle of starting, where it would die on its own and leave a half-stopped postmaster behind.
  // The caller stops it (stopChild) and waits for the clean shutdown.
  const child = spawnTs(
    'scripts/local/postgres-server.ts',
    ['--dir', dataDir, '--port', String(port), '--password', PASSWORD, ...(template ? ['--template', template] : [])],
    process.env,
    { detached: true },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    // initdb plus start takes seconds; a server that neither starts nor fails in 2 minutes is stuck.
    const stuck = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`embedded PostgreSQL did not start within 120 s: ${err.slice(-500)}`));
    }, 120_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('READY')) {
        clearTimeout(stuck);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(stuck);
      reject(new Error(`postgres-server exited with ${code}: ${err.slice(-500)}`));
    });
  });
  return child;
}

/** Stops a postgres-server child (a clean PostgreSQL shutdown) and waits for it to exit. */
async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

let templateBuild: Promise<string> | undefined;

/**
 * Under Jest (test/jest/global-setup.ts), the data folder of a cluster initialised once per run and
 * stopped cleanly: each server of the run starts on a copy of it instead of running initdb, over a second
 * less per server and some twenty servers a run (docs/testing.md has the figures). Each server still has a
 * cluster of its own.
 * Two processes may build it at once; the first rename wins and the other copy is removed.
 */
function runTemplate(): Promise<string | undefined> {
  const runDir = process.env[RUN_TMPDIR];
  if (!runDir) return Promise.resolve(undefined);
  templateBuild ??= (async () => {
    const final = join(runDir, 'pg-template');
    const data = join(final, 'data');
    if (existsSync(join(data, 'PG_VERSION'))) return data;
    const staging = mkdtempSync(join(runDir, 'pg-template-'));
    chmodSync(staging, 0o755);
    try {
      await stopChild(await launchServer(join(staging, 'data'), await freePort()));
      renameSync(staging, final);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      // Another process renamed its copy first: use that one.
      if (!existsSync(join(data, 'PG_VERSION'))) throw error;
    }
    return data;
  })();
  templateBuild.catch(() => (templateBuild = undefined));
  return templateBuild;
}

/** Embedded PostgreSQL 16 in its own process (scripts/local/postgres-server.ts). */
export async function startPostgres(options: { port?: number; parentDir?: string } = {}): Promise<LocalPostgres> {
  const port = options.port ?? (await freePort());
  if (options.parentDir) mkdirSync(options.parentDir, { recursive: true });
  // As root, PostgreSQL runs as the unprivileged postgres user, which must reach its data folder.
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const parent = options.parentDir && (!asRoot || traversableByOthers(join(options.parentDir, 'x'))) ? options.parentDir : tmpdir();
  const template = await runTemplate();
  const dir = mkdtempSync(join(parent, 'fhir-pg-'));
  chmodSync(dir, 0o755);
  let server: ChildProcess | undefined;
  const startServer = async () => {
    server = await launchServer(join(dir, 'data'), port, template);
  };
  const stopServer = async () => {
    const child = server;
    server = undefined;
    await stopChild(child);
  };
  try {
    await startServer();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const settings = ({ role, database = 'fhir' }: { role?: string; database?: string } = {}): ClientConfig => ({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: PASSWORD,
    database,
    ...(role ? { options: `-c role=${role}` } : {}),
  });
  return {
    port,
    password: PASSWORD,
    startServer,
    stopServer,
    settings,
    async client() {
      const c = new Client(settings());
      await c.connect();
      return c;
    },
    async restart(downMs = 0) {
      await stopServer();
      await new Promise((r) => setTimeout(r, downMs));
      await startServer();
    },
    async stop() {
      await stopServer();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LocalKinesis {
  readonly endpoint: string;
  readonly client: KinesisClient;
  stop(): Promise<void>;
}

export async function startKinesis(options: { port?: number } = {}): Promise<LocalKinesis> {
  const port = options.port ?? (await freePort());
  const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000 });
  await new Promise<void>((resolve) => server.listen(port, resolve));
  const endpoint = `http://127.0.0.1:${port}`;
  const client = createKinesisClient({ region: 'eu-west-2', kinesisEndpoint: endpoint });
  return {
    endpoint,
    client,
    stop: () =>
      new Promise<void>((resolve) => {
        client.destroy();
        server.close(() => resolve());
      }),
  };
}

export async function createStream(client: KinesisClient, name: string, shards: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (let i = 0; i < 100; i++) {
    const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`stream ${name} did not become ACTIVE`);
}

/** The variables every processor entry point (service, migration task, verify, re-drive, drill) reads to reach this server. */
export function databaseEnv(pg: LocalPostgres): Record<string, string> {
  return {
    AWS_REGION: 'eu-west-2',
    DB_HOST: '127.0.0.1',
    DB_PORT: String(pg.port),
    DB_NAME: 'fhir',
    DB_USER: 'postgres',
    DB_PASSWORD: pg.password,
    DB_SSL_MODE: 'disable',
  };
}

/**
 * Environment for a processor child process against the local stack. TLS is off only because
 * embedded PostgreSQL has no certificate; in AWS the default is verify-full.
 */
export function processorEnv(
  pg: LocalPostgres,
  kinesis: LocalKinesis,
  streamName: string,
  workerId: string,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...compileCacheEnv(),
    STREAM_NAME: streamName,
    KINESIS_ENDPOINT: kinesis.endpoint,
    ...databaseEnv(pg),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_EMF_ENVIRONMENT: 'Local',
    WORKER_ID: workerId,
    LEASE_TTL_MS: '2000',
    POLL_INTERVAL_MS: '20',
    HEALTH_PORT: '0',
    METRICS: 'off',
    LOG_LEVEL: 'info',
    ...extra,
  };
}
