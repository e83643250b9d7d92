import { ChildProcess, spawn } from 'child_process';
import { createServer } from 'net';
import { chmodSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { Client } from 'pg';
import type { ProcessorConfig } from '../../lib/processor/config';
import { createKinesisClient } from '../../lib/processor/kinesis/client';
import type { SampleRecord } from '../../scripts/fhir-samples';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const kinesalite = require('kinesalite') as (options: Record<string, unknown>) => { listen(port: number, cb: () => void): void; close(cb?: () => void): void };

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
  client(): Promise<Client>;
  /** Stops the server (clean shutdown) and starts it again on the same data and port. */
  restart(downMs?: number): Promise<void>;
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

const root = join(__dirname, '..', '..');

/** A node child running a TypeScript entry point (transpile-only). */
export function spawnTs(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', script, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Embedded PostgreSQL 16 in its own process (scripts/postgres-server.ts). */
export async function startPostgres(): Promise<LocalPostgres> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'fhir-pg-'));
  chmodSync(dir, 0o755); // initdb runs as the unprivileged postgres user
  const password = 'local-test-only';
  let server: ChildProcess | undefined;
  const startServer = async () => {
    const child = spawnTs('scripts/postgres-server.ts', ['--dir', join(dir, 'data'), '--port', String(port), '--password', password]);
    server = child;
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('READY')) resolve(); });
      child.once('exit', (code) => reject(new Error(`postgres-server exited with ${code}: ${err.slice(-500)}`)));
    });
  };
  const stopServer = async () => {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
  };
  await startServer();
  return {
    port, password, startServer, stopServer,
    async client() {
      const c = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'fhir' });
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

export async function startKinesis(): Promise<LocalKinesis> {
  const port = await freePort();
  const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000 });
  await new Promise<void>((resolve) => server.listen(port, resolve));
  const endpoint = `http://127.0.0.1:${port}`;
  const client = createKinesisClient({ region: 'eu-west-2', kinesisEndpoint: endpoint });
  return { endpoint, client, stop: () => new Promise<void>((resolve) => { client.destroy(); server.close(() => resolve()); }) };
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

/** PutRecords in batches of 500, retrying records the stream refused. */
export async function putRecords(client: KinesisClient, streamName: string, records: readonly SampleRecord[]): Promise<void> {
  for (let i = 0; i < records.length; i += 500) {
    let pending = records.slice(i, i + 500);
    while (pending.length > 0) {
      const out = await client.send(new PutRecordsCommand({ StreamName: streamName, Records: pending.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })) }));
      pending = pending.filter((_, j) => out.Records?.[j]?.ErrorCode);
    }
  }
}

export function processorConfig(pg: LocalPostgres, kinesis: LocalKinesis, streamName: string, overrides: Partial<ProcessorConfig> = {}): ProcessorConfig {
  return {
    streamName,
    region: 'eu-west-2',
    kinesisEndpoint: kinesis.endpoint,
    db: { host: '127.0.0.1', port: pg.port, database: 'fhir', user: 'postgres', password: pg.password, iamAuth: false, sslMode: 'disable', caBundlePath: '' },
    workerId: 'test-worker',
    maxRecordBytes: 262_144,
    leaseTtlMs: 2_000,
    pollIntervalMs: 20,
    healthPort: 0,
    ...overrides,
  };
}

/** Environment for a processor child process (same settings as processorConfig). */
export function processorEnv(pg: LocalPostgres, kinesis: LocalKinesis, streamName: string, workerId: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH, HOME: process.env.HOME,
    STREAM_NAME: streamName, AWS_REGION: 'eu-west-2', KINESIS_ENDPOINT: kinesis.endpoint,
    DB_HOST: '127.0.0.1', DB_PORT: String(pg.port), DB_NAME: 'fhir', DB_USER: 'postgres', DB_PASSWORD: pg.password, DB_SSL_MODE: 'disable',
    AWS_EC2_METADATA_DISABLED: 'true', AWS_EMF_ENVIRONMENT: 'Local',
    WORKER_ID: workerId, LEASE_TTL_MS: '2000', POLL_INTERVAL_MS: '20', HEALTH_PORT: '0', METRICS: 'off', LOG_LEVEL: 'info',
    ...extra,
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export async function counts(c: Client): Promise<{ history: number; current: number; quarantined: number; audit: number }> {
  const { rows } = await c.query(`SELECT (SELECT count(*) FROM fhir_resource_history)::int AS history, (SELECT count(*) FROM fhir_resource_current)::int AS current,
    (SELECT count(*) FROM quarantined_record)::int AS quarantined, (SELECT count(*) FROM audit_event)::int AS audit`);
  return rows[0];
}
