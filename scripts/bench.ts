/**
 * `npm run bench`: three throughput figures from one run on this machine, plus the processor's
 * peak memory. Prints numbers; asserts nothing.
 *
 *   (a) PostgreSQL ceiling: COPY of the same rows into the same tables (history, current, audit)
 *   (b) persist path: validated batches -> one transaction each (persistBatch), as the processor does
 *   (c) end to end: kinesalite -> the compiled processor (one process) -> PostgreSQL
 *
 *   npm run bench -- [--records 50000] [--batch 1000] [--shards 4]
 */
import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import { Client, Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'stream/promises';
import { Readable } from 'stream';
import { migrate } from '../lib/processor/db/migrate';
import { persistBatch } from '../lib/processor/db/persist';
import { classify, StreamRecord, ValidEntry } from '../lib/processor/records';
import { createStream, LocalPostgres, processorEnv, startKinesis, startPostgres } from './local-stack';
import { putRecords } from './produce';
import { validSamples } from './fhir-samples';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const ROOT = join(__dirname, '..');

function option(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

async function database(pg: LocalPostgres, name: string): Promise<Pool> {
  const admin = await pg.client();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const pool = new Pool({ host: '127.0.0.1', port: pg.port, user: 'postgres', password: pg.password, database: name, max: 2 });
  await migrate(pool);
  return pool;
}

const csv = (v: string) => `"${v.replace(/"/g, '""')}"`;

async function copy(client: Client, sql: string, lines: string[]): Promise<void> {
  await pipeline(Readable.from(lines.map((l) => `${l}\n`)), client.query(copyFrom(sql)));
}

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));

async function main(argv: string[]): Promise<void> {
  const n = option(argv, 'records', 50_000);
  const batchSize = option(argv, 'batch', 1_000);
  const shards = option(argv, 'shards', 4);
  console.log(`benchmark: ${n} valid FHIR records, batches of ${batchSize}, ${shards} shards, node ${process.version}, ${require('os').cpus().length} CPUs`);

  const samples = validSamples(n, { runId: 'bench', patients: Math.ceil(n / 10), seed: 7 });
  const records: StreamRecord[] = samples.map((s, i) => ({ SequenceNumber: String(1e12 + i), PartitionKey: s.partitionKey, Data: s.data }));
  let t = Date.now();
  const batches = [];
  for (let i = 0; i < records.length; i += batchSize) batches.push(classify(records.slice(i, i + batchSize), 262_144));
  const validateMs = Date.now() - t;
  const entries: ValidEntry[] = batches.flatMap((b) => b.valid);
  console.log(`validation (ajv, in memory): ${rate(n, validateMs)} records/s`);

  const pg = await startPostgres({ parentDir: join(ROOT, '.local') });
  const kinesis = await startKinesis();
  try {
    // (a) COPY ceiling
    const copyPool = await database(pg, 'bench_copy');
    const c = await copyPool.connect();
    t = Date.now();
    await c.query('BEGIN');
    await copy(c as unknown as Client, 'COPY fhir_resource_history (resource_type, resource_id, version_id, last_updated, patient_id, resource, stream_name, shard_id, sequence_number) FROM STDIN (FORMAT csv)',
      entries.map((e) => [e.resourceType, e.id, e.versionId, e.lastUpdated, e.patientId, csv(e.json), 'bench', 'shard-0', e.sequenceNumber].join(',')));
    await copy(c as unknown as Client, 'COPY fhir_resource_current (resource_type, resource_id, version_id, last_updated, patient_id, resource) FROM STDIN (FORMAT csv)',
      entries.map((e) => [e.resourceType, e.id, e.versionId, e.lastUpdated, e.patientId, csv(e.json)].join(',')));
    await copy(c as unknown as Client, 'COPY audit_event (actor, action, outcome, resource_type, resource_id, version_id, stream_name, shard_id, sequence_number) FROM STDIN (FORMAT csv)',
      entries.map((e) => ['bench', 'persist', 'written', e.resourceType, e.id, e.versionId, 'bench', 'shard-0', e.sequenceNumber].join(',')));
    await c.query('COMMIT');
    const copyMs = Date.now() - t;
    c.release();
    await copyPool.end();
    const a = rate(n, copyMs);
    console.log(`(a) PostgreSQL COPY ceiling:        ${a} records/s (${copyMs} ms)`);

    // (b) the persist path alone
    const persistPool = await database(pg, 'bench_persist');
    await persistPool.query(`INSERT INTO shard_lease (stream_name, shard_id, owner, expires_at) VALUES ('bench', 'shard-0', 'bench', now() + interval '1 hour')`);
    t = Date.now();
    for (const batch of batches) await persistBatch(persistPool, batch, { streamName: 'bench', shardId: 'shard-0', workerId: 'bench', leaseTtlMs: 3_600_000 });
    const persistMs = Date.now() - t;
    const check = (await persistPool.query('SELECT count(*)::int AS n FROM fhir_resource_history')).rows[0].n;
    await persistPool.end();
    const b = rate(n, persistMs);
    console.log(`(b) persist path (one tx per batch): ${b} records/s (${persistMs} ms, ${check} rows) = ${Math.round((100 * b) / a)}% of (a)`);

    // (c) end to end with the compiled processor
    const e2ePool = await database(pg, 'bench_e2e');
    await e2ePool.end();
    const stream = 'hipaa-fhir-records-bench';
    await createStream(kinesis.client, stream, shards);
    await putRecords(kinesis.client, stream, samples);
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'lib/processor/tsconfig.build.json', '--outDir', '.local/bench-dist'], { cwd: ROOT });
    const env = { ...processorEnv(pg, kinesis, stream, 'bench-processor'), DB_NAME: 'bench_e2e', LOG_LEVEL: 'warn', POLL_INTERVAL_MS: '0', LEASE_TTL_MS: '10000', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...(process.env.GET_RECORDS_LIMIT ? { GET_RECORDS_LIMIT: process.env.GET_RECORDS_LIMIT } : {}) };
    const { spawn } = await import('child_process');
    const started = Date.now();
    const child = spawn(process.execPath, [join(ROOT, '.local/bench-dist/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    const db = new Client({ host: '127.0.0.1', port: pg.port, user: 'postgres', password: pg.password, database: 'bench_e2e' });
    await db.connect();
    let persisted = 0;
    let peakRssMb = 0;
    while (persisted < n) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        peakRssMb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      } catch { /* not Linux, or exited */ }
      persisted = (await db.query('SELECT count(*)::int AS n FROM fhir_resource_history')).rows[0].n;
      if (Date.now() - started > 600_000) throw new Error('end-to-end run did not finish in 10 minutes');
    }
    const wallMs = Date.now() - started;
    const span = (await db.query('SELECT extract(epoch FROM max(ingested_at) - min(ingested_at)) * 1000 AS ms FROM fhir_resource_history')).rows[0].ms as number;
    await db.end();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    console.log(`(c) end to end, one processor:       ${rate(n, span)} records/s steady (first to last commit, ${Math.round(span)} ms); ${rate(n, wallMs)} records/s including start-up`);
    console.log(`    processor peak RSS:               ${peakRssMb.toFixed(0)} MB`);
    console.log('targets: (b) >= 70% of (a); (c) >= 5000 records/s; peak RSS < 300 MB');
  } finally {
    await kinesis.stop();
    await pg.stop();
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(`bench: ${(error as Error).stack}`);
  process.exit(1);
});
