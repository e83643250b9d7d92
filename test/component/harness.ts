/**
 * What the processor tests share: embedded PostgreSQL with the schema applied, kinesalite, the
 * processor in this process or as a child process, shard workers, leases, loggers and metrics that
 * record. Each test file states only what it tests.
 */
import { ChildProcess } from 'child_process';
import { Writable } from 'stream';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { Client, Pool } from 'pg';
import { loadConfig, ProcessorConfig } from '../../lib/processor/config';
import { LeaseStore } from '../../lib/processor/db/leases';
import { ChainHead, verifyAuditChains, VerifyReport } from '../../lib/processor/db/audit-chain';
import { migrate } from '../../lib/processor/db/migrate';
import { WRITER_ROLE } from '../../lib/processor/db/schema';
import { PersistResult } from '../../lib/processor/db/persist';
import { ShardWorker } from '../../lib/processor/service/shard-worker';
import { createLogger, Logger } from '../../lib/processor/logger';
import { RunningProcessor, startProcessor } from '../../lib/processor/service/main';
import { BatchMetrics, MetricsSink, NoMetrics, StuckMetrics } from '../../lib/processor/metrics';
import { createStream, LocalKinesis, LocalPostgres, processorEnv, spawnTs, startKinesis, startPostgres } from '../../scripts/local/stack';

export { createStream, databaseEnv, freePort, processorEnv, spawnTs, startKinesis, startPostgres } from '../../scripts/local/stack';
export type { LocalKinesis, LocalPostgres } from '../../scripts/local/stack';

export { putRecords } from '../../scripts/local/produce';

/** The same settings as a processor child process gets (processorEnv), for one in this process. */
export function processorConfig(
  pg: LocalPostgres,
  kinesis: LocalKinesis,
  streamName: string,
  overrides: Partial<ProcessorConfig> = {},
): ProcessorConfig {
  return { ...loadConfig(processorEnv(pg, kinesis, streamName, 'test-worker')), ...overrides };
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
  const { rows } =
    await c.query(`SELECT (SELECT count(*) FROM fhir_resource_history)::int AS history, (SELECT count(*) FROM fhir_resource_current)::int AS current,
    (SELECT count(*) FROM quarantined_record)::int AS quarantined, (SELECT count(*) FROM audit_event)::int AS audit`);
  return rows[0];
}

/** A logger that writes nothing (for tests that do not read the logs). */
export function silentLogger(name: string): Logger {
  return createLogger(
    name,
    'error',
    new Writable({
      write(_c, _e, cb) {
        cb();
      },
    }),
  );
}

/** A logger whose JSON lines the test can read (pushed onto `lines`). */
export function capturingLogger(
  name: string,
  lines: string[] = [],
  level: 'debug' | 'info' | 'warn' = 'debug',
): { logger: Logger; lines: string[] } {
  const logger = createLogger(
    name,
    level,
    new Writable({
      write(chunk, _e, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    }),
  );
  return { logger, lines };
}

/** Metrics the test can read: every committed batch and every stuck-shard report. */
export class RecordingMetrics implements MetricsSink {
  readonly batches: BatchMetrics[] = [];
  readonly stuck: StuckMetrics[] = [];
  async batch(m: BatchMetrics): Promise<void> {
    this.batches.push(m);
  }
  async shardStuck(m: StuckMetrics): Promise<void> {
    this.stuck.push(m);
  }
}

/** Embedded PostgreSQL with the schema applied. */
export interface TestDatabase {
  readonly pg: LocalPostgres;
  /** Pooled sessions as the processor works: the fhir_writer role (plus `settings`). */
  readonly writer: Pool;
  /** A superuser session, to set up faults and read what was stored. */
  readonly db: Client;
  /** A shard's committed checkpoint: what a new worker resumes from. */
  checkpoint(streamName: string, shardId: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

/** Applies every migration to the server's `fhir` database (as the migration task does), through a pool of its own. */
export async function migrateSchema(pg: LocalPostgres): Promise<void> {
  const admin = new Pool(pg.settings());
  try {
    await migrate(admin);
  } finally {
    await admin.end();
  }
}

/** `settings`: more server settings for the writer's sessions, e.g. `-c lock_timeout=200`. */
export async function startDatabase(options: { settings?: string; max?: number } = {}): Promise<TestDatabase> {
  const pg = await startPostgres();
  await migrateSchema(pg);
  const writer = new Pool({
    ...pg.settings(),
    max: options.max,
    options: ['-c role=fhir_writer', options.settings].filter(Boolean).join(' '),
  });
  // Idle sessions see the server stop at teardown; that is not what is under test.
  writer.on('error', () => undefined);
  const db = await pg.client();
  return {
    pg,
    writer,
    db,
    async checkpoint(streamName, shardId) {
      return (
        await db.query('SELECT sequence_number FROM shard_checkpoint WHERE stream_name = $1 AND shard_id = $2', [streamName, shardId])
      ).rows[0]?.sequence_number;
    },
    async stop() {
      await writer.end();
      await db.end();
      await pg.stop();
    },
  };
}

/**
 * Adds a shard and takes up to `max` leases of the stream through the real take-over path (worker
 * `w1`): `taken` is every lease taken with its counter (the fencing token), `counter` this shard's.
 */
export async function takeLease(
  pool: Pool,
  streamName: string,
  shardId: string,
  options: { ttlMs?: number; max?: number } = {},
): Promise<{ leases: LeaseStore; taken: Map<string, string>; counter: string }> {
  const leases = new LeaseStore(pool, streamName, 'w1', options.ttlMs ?? 30_000);
  await leases.syncShards([{ shardId, parentShardIds: [] }]);
  const taken = await leases.acquire(options.max ?? 10);
  return { leases, taken, counter: taken.get(shardId) ?? 'not taken' };
}

export interface WorkerOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly shardId: string;
  readonly logger: Logger;
  /** @default '0' */
  readonly leaseCounter?: string;
  /** @default 30_000 */
  readonly leaseTtlMs?: number;
  /** @default NoMetrics */
  readonly metrics?: MetricsSink;
  readonly onBatch?: (result: PersistResult & { records: number }) => void;
}

/** A shard worker of worker id `w1` on the writer pool, polling without pause, resuming from the stored checkpoint. */
export function shardWorker(database: TestDatabase, o: WorkerOptions): ShardWorker {
  return new ShardWorker({
    kinesis: o.kinesis,
    pool: database.writer,
    streamName: o.streamName,
    shardId: o.shardId,
    workerId: 'w1',
    leaseTtlMs: o.leaseTtlMs ?? 30_000,
    leaseCounter: o.leaseCounter ?? '0',
    pollIntervalMs: 1,
    getRecordsLimit: 100,
    maxRecordBytes: 262_144,
    logger: o.logger,
    metrics: o.metrics ?? new NoMetrics(),
    onBatch: o.onBatch,
    checkpoint: () => database.checkpoint(o.streamName, o.shardId),
  });
}

/** A processor as a child process, with its log lines. */
export interface ProcessorChild {
  readonly child: ChildProcess;
  readonly logs: string[];
  readonly exited: Promise<number | null>;
}

/** Embedded PostgreSQL and kinesalite, with processors in this process or as child processes. */
export interface TestStack {
  readonly pg: LocalPostgres;
  readonly kinesis: LocalKinesis;
  /** A superuser session (a new one after restartPostgres). */
  readonly db: Client;
  createStream(name: string, shards: number): Promise<void>;
  /** The real processor in this process (migrations at start-up, as the local run does); stopped by stop(). */
  startProcessor(streamName: string, options?: { logger?: Logger; config?: Partial<ProcessorConfig> }): Promise<RunningProcessor>;
  /** lib/processor/service/main.ts as a child process (SIGKILLed by stop() if still running); `env` adds or overrides variables. */
  spawnProcessor(streamName: string, workerId: string, env?: Record<string, string>): ProcessorChild;
  /** Stops PostgreSQL cleanly, waits `downMs`, starts it again on the same data, and reconnects `db`. */
  restartPostgres(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** `pg`: use this (already running) PostgreSQL instead of starting one; stop() then leaves it running. */
export async function startStack(options: { pg?: LocalPostgres } = {}): Promise<TestStack> {
  const [pg, kinesis] = await Promise.all([options.pg ?? startPostgres(), startKinesis()]);
  let db = await pg.client();
  const processors: RunningProcessor[] = [];
  const children: ProcessorChild[] = [];
  return {
    pg,
    kinesis,
    get db() {
      return db;
    },
    createStream: (name, shards) => createStream(kinesis.client, name, shards),
    async startProcessor(streamName, options = {}) {
      const running = await startProcessor(
        processorConfig(pg, kinesis, streamName, options.config),
        options.logger ?? silentLogger('test-worker'),
        new NoMetrics(),
      );
      let stopped: Promise<void> | undefined;
      // A test may shut its processor down itself; stop() then does not do it again.
      const processor: RunningProcessor = {
        coordinator: running.coordinator,
        pool: running.pool,
        memory: running.memory,
        shutdown: () => (stopped ??= running.shutdown()),
      };
      processors.push(processor);
      return processor;
    },
    spawnProcessor(streamName, workerId, env = {}) {
      const child = spawnTs('lib/processor/service/main.ts', [], processorEnv(pg, kinesis, streamName, workerId, env));
      const logs: string[] = [];
      child.stdout!.on('data', (d: Buffer) => logs.push(...d.toString().split('\n').filter(Boolean)));
      child.stderr!.on('data', (d: Buffer) => logs.push(...d.toString().split('\n').filter(Boolean)));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const proc = { child, logs, exited };
      children.push(proc);
      return proc;
    },
    async restartPostgres(downMs) {
      await db.end();
      await pg.restart(downMs);
      db = await pg.client();
    },
    async stop() {
      for (const p of children) if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await Promise.all(processors.map((p) => p.shutdown()));
      await db.end().catch(() => undefined);
      await Promise.all([kinesis.stop(), options.pg ? undefined : pg.stop()]);
    },
  };
}

/** The audit chains of `database` as the verifier reads them (as the writer role), checked against `heads`. */
export async function auditChains(pg: LocalPostgres, database: string, heads: readonly ChainHead[] = []): Promise<VerifyReport> {
  const pool = new Pool({ ...pg.settings({ database, role: WRITER_ROLE }), max: 1 });
  try {
    return await verifyAuditChains(pool, heads);
  } finally {
    await pool.end();
  }
}

/** A copy named `database` of `fhir` (no session may be open in it), and an owner session in the copy, to tamper with. */
export async function copyOfFhir(pg: LocalPostgres, database: string): Promise<{ database: string; owner: Client }> {
  const server = new Client(pg.settings({ database: 'postgres' }));
  await server.connect();
  await server.query(`CREATE DATABASE ${database} TEMPLATE fhir`);
  await server.end();
  const owner = new Client(pg.settings({ database }));
  await owner.connect();
  return { database, owner };
}
