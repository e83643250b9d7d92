/**
 * `npm run bench`: throughput ratios measured in one run on this machine. Prints numbers; asserts
 * nothing. Every ratio compares two figures taken in the same run, so a busy machine moves both.
 *
 *   (a) PostgreSQL ceiling: COPY of the same rows into the same tables and indexes (history through a
 *       scratch table, its key computed by PostgreSQL as the write statement computes it)
 *   (b) persist path: validated batches -> one transaction each (persistBatch), as the processor does
 *   (c) emulator read ceiling: a bare GetRecords loop over the same shards (one loop per shard)
 *   (d) end to end: kinesalite -> the compiled processor(s) -> PostgreSQL
 *   CPU seconds per record of each process: processor(s), PostgreSQL (postmaster and backends),
 *   the emulator (its own process), and this driver.
 *   (b)/(a) is printed in records per wall second and per CPU second (PostgreSQL + client); (d) with
 *   the rate the machine's cores would allow at its CPU per record if nothing else ran on them.
 *
 * Progress of (d) is read from the shard checkpoint table (one row per shard), never by counting
 * rows, so the probe costs the same at the end as at the start.
 *
 * (a) copies into audit_event too, one row per record as the processor writes: COPY FROM fires the
 * table's row triggers ("COPY FROM will invoke any triggers and check constraints on the destination
 * table", https://www.postgresql.org/docs/16/sql-copy.html), so the audit hash chain's trigger runs
 * for every copied row as for every processor row (its chain columns are NOT NULL: a COPY that
 * skipped it would fail). (d) against (a) is also printed per CPU second (processor + PostgreSQL
 * against PostgreSQL + the COPY client), with the load average, which moves wall-clock ratios.
 *
 *   npm run bench -- [--records 50000] [--batch 1000] [--shards 4] [--limit 2000] [--in-flight <bytes>] [--rounds 1] [--processors 1] [--profile <dir>]
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { existsSync, readFileSync, rmSync } from 'fs';
import { cpus, loadavg } from 'os';
import { join } from 'path';
import { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Client, Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PROCESSOR_ENTRY_POINTS } from '../../lib/contract';
import { migrate } from '../../lib/processor/db/migrate';
import { persistBatch } from '../../lib/processor/db/persist';
import { createKinesisClient, getRecordsDecoder } from '../../lib/processor/service/kinesis-client';
import { classify, ClassifiedBatch, StreamRecord, ValidEntry } from '../../lib/processor/records';
import { canMeasureCpu, ownCpuSeconds, parentPid, peakRssMb, treeCpuSeconds } from './proc';
import { parseFlags, runCli } from '../shared/cli';
import { validSamples } from '../shared/fhir-samples';
import { createStream, freePort, LocalKinesis, LocalPostgres, processorEnv, spawnTs, startPostgres } from '../local/stack';
import { putRecords } from '../local/produce';
import { readBench } from './read-api';

const ROOT = join(__dirname, '..', '..');
const USAGE =
  'usage: npm run bench -- [--records 50000] [--batch 1000] [--shards 4] [--limit 2000] [--in-flight <bytes>] [--rounds 1] [--processors 1] [--profile <dir>]\n' +
  '       npm run bench -- --read [--resources 1000] [--seconds 10] [--concurrency 4] [--rounds 3]';
const FLAGS = {
  records: { type: 'integer', min: 1, default: 50_000 },
  batch: { type: 'integer', min: 1, default: 1_000 },
  shards: { type: 'integer', min: 1, default: 4 },
  /** GetRecords Limit, for the ceiling loop and the processor (GET_RECORDS_LIMIT). */
  limit: { type: 'integer', min: 1, default: Number(process.env.GET_RECORDS_LIMIT ?? 2_000) },
  /** The processor's MAX_IN_FLIGHT_BYTES (its memory budget); unset: the processor's default. */
  'in-flight': { type: 'integer', min: 1_048_576 },
  /** Interleaved repetitions of every measurement; medians are printed when > 1. */
  rounds: { type: 'integer', min: 1, default: 1 },
  /** Also run end to end with this many processors on the same shards (compared with one). */
  processors: { type: 'integer', min: 1, default: 1 },
  /** Write a V8 CPU profile of every processor into this folder (node --cpu-prof). */
  profile: { type: 'string' },
  /** Measure the read API instead (scripts/bench/read-api.ts); --rounds applies, and the flags below. */
  read: { type: 'boolean' },
  resources: { type: 'integer', min: 1, default: 1_000 },
  seconds: { type: 'integer', min: 1, default: 10 },
  concurrency: { type: 'integer', min: 1, default: 4 },
} as const;

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const micro = (cpuSeconds: number, n: number) => `${((cpuSeconds / n) * 1e6).toFixed(1)} µs`;
const fmt = (x: number, digits = 2) => x.toFixed(digits);
/** The 1-minute load average: on a shared machine it moves wall-clock ratios, so every round prints it. */
const load = () => loadavg()[0].toFixed(1);

/** CPU seconds of every process the benchmark runs, read at one instant. */
interface CpuProbe {
  readonly postgres: () => number;
  readonly emulator: () => number;
}

function cpuDelta(
  probe: CpuProbe,
  extra: () => number = () => 0,
): () => { postgres: number; emulator: number; driver: number; extra: number } {
  const start = { postgres: probe.postgres(), emulator: probe.emulator(), driver: ownCpuSeconds(), extra: extra() };
  return () => ({
    postgres: probe.postgres() - start.postgres,
    emulator: probe.emulator() - start.emulator,
    driver: ownCpuSeconds() - start.driver,
    extra: extra() - start.extra,
  });
}

async function database(pg: LocalPostgres, name: string): Promise<Pool> {
  const admin = await pg.client();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const pool = new Pool({ ...pg.settings({ database: name }), max: 2 });
  pool.on('error', () => undefined);
  await migrate(pool);
  return pool;
}

async function dropDatabase(pg: LocalPostgres, name: string): Promise<void> {
  const admin = await pg.client();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

/** CSV field: NULL when absent, quoted otherwise. */
const csv = (v: string | number | boolean | undefined) => (v === undefined ? '' : `"${String(v).replace(/"/g, '""')}"`);

async function copy(client: PoolClient, sql: string, chunks: readonly string[]): Promise<void> {
  await pipeline(Readable.from(chunks), client.query(copyFrom(sql)));
}

/** CSV text in ~256 KB chunks, built before the clock starts: (a) measures PostgreSQL, not string building. */
function csvChunks(lines: readonly string[]): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 0;
  for (const line of lines) {
    current.push(line);
    size += line.length + 1;
    if (size >= 262_144) {
      chunks.push(`${current.join('\n')}\n`);
      current = [];
      size = 0;
    }
  }
  if (current.length > 0) chunks.push(`${current.join('\n')}\n`);
  return chunks;
}

interface CopyInput {
  readonly history: string[];
  readonly current: string[];
  readonly audit: string[];
}

/** (a)'s input: the rows persistBatch writes for these entries (history, current, audit), same columns. */
function copyInput(entries: readonly ValidEntry[]): CopyInput {
  return {
    history: csvChunks(
      entries.map((e) =>
        [
          csv(e.resourceType),
          csv(e.id),
          csv(e.versionId),
          csv(e.lastUpdated),
          csv(e.patientId),
          e.patientFromPartitionKey,
          csv(e.json),
          'bench',
          'shard-0',
          csv(e.sequenceNumber),
          e.entryIndex,
        ].join(','),
      ),
    ),
    current: csvChunks(
      latestPerResource(entries).map((e) =>
        [
          csv(e.resourceType),
          csv(e.id),
          csv(e.versionId),
          csv(e.lastUpdated),
          csv(e.patientId),
          e.patientFromPartitionKey,
          csv(e.json),
          csv(e.sequenceNumber),
          e.entryIndex,
        ].join(','),
      ),
    ),
    audit: csvChunks(
      entries.map((e) =>
        [
          'bench',
          'persist',
          'written',
          csv(e.resourceType),
          csv(e.id),
          csv(e.versionId),
          'bench',
          'shard-0',
          csv(e.sequenceNumber),
          e.subSequenceNumber ?? 0,
          e.line ?? 0,
          e.entryIndex,
          // What the write statement puts in detail (write.ts) for an entry without a patient of its own.
          e.patientFromPartitionKey ? csv('no patient in the resource: patient id is the partition key') : '',
        ].join(','),
      ),
    ),
  };
}

/** (a) COPY into the same tables and indexes, in one transaction. */
async function copyCeiling(pool: Pool, input: CopyInput): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    // The database computes the history key from the stored resource (write.ts), so the baseline pays for
    // it too: history rows are copied into a scratch table and inserted with their key computed alike.
    const columns = `resource_type, resource_id, version_id, last_updated, patient_id, patient_from_partition_key, resource, stream_name,
      shard_id, sequence_number, entry_index`;
    await c.query(`CREATE TEMP TABLE bench_history ON COMMIT DROP AS SELECT ${columns} FROM fhir_resource_history WITH NO DATA`);
    await copy(c, `COPY bench_history (${columns}) FROM STDIN (FORMAT csv)`, input.history);
    await c.query(
      `INSERT INTO fhir_resource_history (${columns}, content_hash) SELECT ${columns}, sha256(convert_to(resource::text, 'UTF8')) FROM bench_history`,
    );
    await copy(
      c,
      `COPY fhir_resource_current (resource_type, resource_id, version_id, last_updated, patient_id, patient_from_partition_key, resource,
      sequence_number, entry_index) FROM STDIN (FORMAT csv)`,
      input.current,
    );
    await copy(
      c,
      `COPY audit_event (actor, action, outcome, resource_type, resource_id, version_id, stream_name, shard_id, sequence_number, sub_sequence_number,
      line_number, entry_index, detail) FROM STDIN (FORMAT csv)`,
      input.audit,
    );
    await c.query('COMMIT');
  } finally {
    c.release();
  }
}

/** One current row per resource (the last in arrival order), as the current table holds. */
function latestPerResource(entries: readonly ValidEntry[]): ValidEntry[] {
  const last = new Map<string, ValidEntry>();
  for (const e of entries) last.set(`${e.resourceType}/${e.id}`, e);
  return [...last.values()];
}

/** (b) The processor's persist path, batch by batch, each its own transaction. */
async function persistPath(pool: Pool, batches: readonly ClassifiedBatch[]): Promise<number> {
  await pool.query(
    `INSERT INTO shard_lease (stream_name, shard_id, owner, expires_at) VALUES ('bench', 'shard-0', 'bench', now() + interval '1 hour')`,
  );
  for (const batch of batches)
    await persistBatch(pool, batch, { streamName: 'bench', shardId: 'shard-0', workerId: 'bench', leaseTtlMs: 3_600_000 });
  return (await pool.query('SELECT count(*)::int AS n FROM fhir_resource_history')).rows[0].n as number;
}

/** kinesalite in its own process (scripts/bench/kinesalite-server.ts). */
async function startEmulator(): Promise<LocalKinesis & { readonly pid: number }> {
  const port = await freePort();
  const child = spawnTs('scripts/bench/kinesalite-server.ts', ['--port', String(port)]);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('READY')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`kinesalite-server exited with ${code}: ${err.slice(-500)}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = createKinesisClient({ region: 'eu-west-2', kinesisEndpoint: endpoint });
  return {
    endpoint,
    client,
    pid: child.pid!,
    stop: async () => {
      client.destroy();
      if (child.exitCode === null)
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
    },
  };
}

async function shardIds(client: KinesisClient, stream: string): Promise<string[]> {
  return ((await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? []).map((s) => s.ShardId!);
}

/** (c) A bare GetRecords loop per shard, from the start of each shard to its end of data. */
async function readCeiling(
  client: KinesisClient,
  stream: string,
  shards: readonly string[],
  limit: number,
): Promise<{ records: number; ms: number; last: Map<string, string> }> {
  const last = new Map<string, string>();
  let records = 0;
  const started = Date.now();
  await Promise.all(
    shards.map(async (shardId) => {
      let iterator = (
        await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))
      ).ShardIterator;
      while (iterator) {
        const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }));
        const got = out.Records ?? [];
        records += got.length;
        if (got.length > 0) last.set(shardId, got[got.length - 1].SequenceNumber!);
        if (got.length === 0 && (out.MillisBehindLatest ?? 0) === 0) break;
        iterator = out.NextShardIterator;
      }
    }),
  );
  return { records, ms: Date.now() - started, last };
}

/** Decoding one GetRecords response in this process: the SDK's decoder versus the thin one (µs per record). */
async function decodeCost(
  samples: readonly { data: Buffer; partitionKey: string }[],
  limit: number,
): Promise<{ sdk: number; thin: number }> {
  const page = samples.slice(0, Math.min(limit, samples.length));
  const body = Buffer.from(
    JSON.stringify({
      Records: page.map((s, i) => ({
        SequenceNumber: String(49_000_000_000_000_000_000n + BigInt(i)),
        ApproximateArrivalTimestamp: 1_763_900_000.5,
        Data: s.data.toString('base64'),
        PartitionKey: s.partitionKey,
      })),
      NextShardIterator: 'next',
      MillisBehindLatest: 0,
    }),
  );
  const handler = {
    handle: async () => ({
      response: { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: Readable.from([body]) },
    }),
  };
  const client = (thin: boolean) => {
    const c = new KinesisClient({
      region: 'eu-west-2',
      endpoint: 'http://127.0.0.1:1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      requestHandler: handler as unknown as NodeHttpHandler,
    });
    if (thin) c.middlewareStack.use(getRecordsDecoder);
    return c;
  };
  const measure = async (c: KinesisClient) => {
    for (let i = 0; i < 3; i++) await c.send(new GetRecordsCommand({ ShardIterator: 'x' })); // warm up
    const before = ownCpuSeconds();
    const rounds = Math.max(3, Math.ceil(10_000 / page.length));
    for (let i = 0; i < rounds; i++) await c.send(new GetRecordsCommand({ ShardIterator: 'x' }));
    return ((ownCpuSeconds() - before) / (rounds * page.length)) * 1e6;
  };
  // Alternated, median of five each: a shared machine and the collector make single figures jumpy.
  const [sdk, thin] = [client(false), client(true)];
  const figures = { sdk: [] as number[], thin: [] as number[] };
  for (let i = 0; i < 5; i++) {
    figures.sdk.push(await measure(sdk));
    figures.thin.push(await measure(thin));
  }
  sdk.destroy();
  thin.destroy();
  return { sdk: median(figures.sdk), thin: median(figures.thin) };
}

interface EndToEnd {
  readonly processors: number;
  readonly steadyRate: number;
  readonly wallRate: number;
  readonly peakRssMb: number;
  /** With several processors: ms from their start until every one held its share (undefined: never seen). */
  readonly splitMs?: number;
  /** With several processors: ms from their start until each took its first lease. */
  readonly firstLeaseMs: number[];
  readonly cpu: { processor: number; postgres: number; emulator: number; driver: number };
}

/**
 * The node flags the image starts the processor with (the CMD of lib/processor/Dockerfile), so the
 * benchmark runs the processor as it ships (the young-generation cap there decides peak memory).
 */
function imageNodeFlags(dockerfile = readFileSync(join(ROOT, 'lib/processor/Dockerfile'), 'utf8')): string[] {
  const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(dockerfile);
  const args = cmd ? (JSON.parse(cmd[1]) as string[]) : [];
  if (args[0] !== 'node' || args[args.length - 1] !== PROCESSOR_ENTRY_POINTS.service)
    throw new Error(
      `lib/processor/Dockerfile has no CMD ["node", ...flags, "${PROCESSOR_ENTRY_POINTS.service}"] to take the node flags from`,
    );
  return args.slice(1, -1);
}

/** (d) Compiled processor(s) from an empty database until every shard's checkpoint is its last record. */
async function endToEnd(
  pg: LocalPostgres,
  kinesis: LocalKinesis,
  probe: CpuProbe,
  stream: string,
  dbName: string,
  count: number,
  n: number,
  limit: number,
  last: Map<string, string>,
  profileDir?: string,
  inFlightBytes?: number,
): Promise<EndToEnd> {
  await (await database(pg, dbName)).end();
  const db = new Client(pg.settings({ database: dbName }));
  await db.connect();
  const children: ChildProcess[] = [];
  const processorCpu = () => children.reduce((sum, c) => sum + (c.pid ? treeCpuSeconds(c.pid) : 0), 0);
  const started = Date.now();
  for (let i = 0; i < count; i++) {
    const env = {
      ...processorEnv(pg, kinesis, stream, `bench-processor-${i}`),
      DB_NAME: dbName,
      LOG_LEVEL: 'warn',
      POLL_INTERVAL_MS: '0',
      LEASE_TTL_MS: '10000',
      GET_RECORDS_LIMIT: String(limit),
      ...(inFlightBytes === undefined ? {} : { MAX_IN_FLIGHT_BYTES: String(inFlightBytes) }),
    };
    const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
    children.push(
      spawn(
        process.execPath,
        [...imageNodeFlags(), ...profile, join(ROOT, '.local/bench-dist', PROCESSOR_ENTRY_POINTS.service.replace(/^dist\//, ''))],
        { env, stdio: ['ignore', 'ignore', 'inherit'] },
      ),
    );
  }
  const cpu = cpuDelta(probe, processorCpu); // from the moment the children exist
  // The steady window opens when the first commit is seen (rows already committed then are left
  // out) and closes when every shard's checkpoint is its last record.
  let firstSeen: { at: number; rows: number } | undefined;
  let splitAt: number | undefined;
  const firstLease = new Map<string, number>();
  try {
    for (let polls = 0; ; polls++) {
      await new Promise((r) => setTimeout(r, 50));
      const dead = children.find((c) => c.exitCode !== null);
      if (dead) throw new Error(`processor exited with code ${dead.exitCode} before finishing; see its log above`);
      const { rows } = await db.query<{ shard_id: string; sequence_number: string }>(
        'SELECT shard_id, sequence_number FROM shard_checkpoint WHERE stream_name = $1',
        [stream],
      );
      if (!firstSeen && rows.length > 0) {
        const at = Date.now();
        // Counted once, while the table holds a batch or two.
        firstSeen = { at, rows: (await db.query('SELECT count(*)::int AS n FROM fhir_resource_history')).rows[0].n as number };
      }
      if (count > 1 && splitAt === undefined) {
        // Lease owners: a few rows. The split is even once every processor holds its floor share.
        const owners = (
          await db.query<{ owner: string; n: number }>(
            'SELECT owner, count(*)::int AS n FROM shard_lease WHERE stream_name = $1 AND owner IS NOT NULL AND expires_at > now() GROUP BY owner',
            [stream],
          )
        ).rows;
        for (const o of owners) if (!firstLease.has(o.owner)) firstLease.set(o.owner, Date.now() - started);
        if (owners.length === count && owners.every((o) => o.n >= Math.floor(last.size / count))) splitAt = Date.now() - started;
      }
      const at = new Map(rows.map((r) => [r.shard_id, r.sequence_number]));
      const done = [...last].filter(([shard, seq]) => at.get(shard) === seq).length;
      if (process.stdout.isTTY && polls % 5 === 0)
        process.stdout.write(
          `\r    ${count} processor(s): ${done}/${last.size} shards done, ${Math.round((Date.now() - started) / 1000)} s`,
        );
      if (done === last.size) break;
      if (Date.now() - started > 600_000) throw new Error('end-to-end run did not finish in 10 minutes; rerun with fewer --records');
    }
  } finally {
    if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
  }
  const wallMs = Date.now() - started;
  const used = cpu();
  const rss = Math.max(...children.map((c) => peakRssMb(c.pid!)));
  const steadyRate = firstSeen && Date.now() > firstSeen.at ? rate(n - firstSeen.rows, started + wallMs - firstSeen.at) : rate(n, wallMs);
  await db.end();
  await Promise.all(
    children.map(
      (c) =>
        new Promise((r) => {
          c.once('exit', r);
          c.kill('SIGTERM');
        }),
    ),
  );
  await dropDatabase(pg, dbName);
  return {
    processors: count,
    splitMs: splitAt,
    firstLeaseMs: [...firstLease.values()].sort((a, b) => a - b),
    steadyRate,
    wallRate: rate(n, wallMs),
    peakRssMb: rss,
    cpu: { processor: used.extra, postgres: used.postgres, emulator: used.emulator, driver: used.driver },
  };
}

/** Builds the processor as the image runs it (compiled JavaScript). */
function buildProcessor(): void {
  const out = join(ROOT, '.local/bench-dist');
  rmSync(out, { recursive: true, force: true });
  try {
    execFileSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'lib/processor/tsconfig.build.json', '--outDir', '.local/bench-dist'],
      { cwd: ROOT, stdio: 'pipe' },
    );
  } catch (error) {
    // tsc emits despite type errors; refuse only when there is nothing to run.
    if (!existsSync(join(out, PROCESSOR_ENTRY_POINTS.service.replace(/^dist\//, '')))) throw error;
    console.warn(
      `bench: the processor has type errors (tsc -p lib/processor/tsconfig.build.json); benchmarking the emitted JavaScript anyway`,
    );
  }
}

/** scripts/bench/validator.ts, when present, measures the validator on the real corpus: its lines are printed as they are. */
async function validatorLines(): Promise<string[] | undefined> {
  if (!existsSync(join(ROOT, 'scripts/bench/validator.ts'))) return undefined;
  const child = spawnTs('scripts/bench/validator.ts', []);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) return [`validator benchmark failed (exit ${code}): ${err.trim().split('\n').pop()}`];
  return out.trim().split('\n');
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, FLAGS);
  if (!parsed) {
    console.log(USAGE);
    return 0;
  }
  if (parsed.flags.read) {
    const { resources, seconds, concurrency } = parsed.flags;
    // Three rounds unless told otherwise: the figures reported are medians of three.
    const rounds = argv.some((a) => a.startsWith('--rounds')) ? parsed.flags.rounds : 3;
    return readBench({ resources, seconds, concurrency, rounds });
  }
  const { records: n, batch: batchSize, shards, limit, rounds, processors, profile, 'in-flight': inFlight } = parsed.flags;
  const measureCpu = canMeasureCpu();
  console.log(
    `benchmark: ${n} valid FHIR records, batches of ${batchSize}, ${shards} shards, GetRecords limit ${limit}, MAX_IN_FLIGHT_BYTES ${inFlight ?? "the processor's default"}, ${rounds} round(s), node ${process.version}, ${cpus().length} CPUs; load average ${load()}`,
  );
  if (!measureCpu) console.log('    (no /proc: CPU per process is not measured)');

  const samples = validSamples(n, { runId: 'bench', patients: Math.ceil(n / 10), seed: 7 });
  const records: StreamRecord[] = samples.map((s, i) => ({ SequenceNumber: String(1e12 + i), PartitionKey: s.partitionKey, Data: s.data }));
  let t = ownCpuSeconds();
  const batches: ClassifiedBatch[] = [];
  for (let i = 0; i < records.length; i += batchSize) batches.push(classify(records.slice(i, i + batchSize), 262_144));
  const validateCpu = ownCpuSeconds() - t;
  const entries: ValidEntry[] = batches.flatMap((b) => [...b.valid]);
  const copyRows = copyInput(entries);
  console.log(`validation (classify, in memory, one core): ${rate(n, validateCpu * 1000)} records/s; ${entries.length} resources`);
  const decode = await decodeCost(samples, limit);
  console.log(
    `GetRecords decode (in memory, ${Math.min(limit, n)}-record page): SDK ${fmt(decode.sdk, 1)} µs/record, thin decoder ${fmt(decode.thin, 1)} µs/record = ${fmt(decode.thin / decode.sdk)}×`,
  );

  buildProcessor();
  const pg = await startPostgres();
  const kinesis = await startEmulator();
  const pgBackend = await pg.client();
  const postmaster = parentPid((await pgBackend.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number);
  await pgBackend.end();
  const probe: CpuProbe = {
    postgres: () => (measureCpu && postmaster ? treeCpuSeconds(postmaster) : 0),
    emulator: () => (measureCpu ? treeCpuSeconds(kinesis.pid) : 0),
  };
  const stream = 'hipaa-fhir-records-bench';
  await createStream(kinesis.client, stream, shards);
  t = Date.now();
  await putRecords(kinesis.client, stream, samples);
  console.log(`loaded the emulator: ${n} records in ${shards} shards (${rate(n, Date.now() - t)} records/s PutRecords)`);
  const shardList = await shardIds(kinesis.client, stream);

  const results = {
    copy: [] as number[],
    persist: [] as number[],
    persistRatio: [] as number[],
    persistCpuRatio: [] as number[],
    cpuBound: [] as number[],
    ceiling: [] as number[],
    e2e: [] as number[],
    e2eRatio: [] as number[],
    e2eCopyRatio: [] as number[],
    e2eCopyCpuRatio: [] as number[],
    load: [] as number[],
    peakRss: [] as number[],
    multi: [] as number[],
    multiRatio: [] as number[],
  };
  try {
    for (let round = 1; round <= rounds; round++) {
      const tag = rounds > 1 ? `[round ${round}/${rounds}] ` : '';
      results.load.push(loadavg()[0]);
      console.log(`${tag}load average ${load()}`);
      // (a) and (b), in alternating order across rounds so drift on a shared machine cancels out.
      const order = round % 2 === 1 ? (['copy', 'persist'] as const) : (['persist', 'copy'] as const);
      const figures: Record<string, { rate: number; pgCpu: number; driverCpu: number; rows?: number }> = {};
      let copyCpu = 0;
      for (const which of order) {
        const pool = await database(pg, `bench_${which}`);
        const cpu = cpuDelta(probe);
        t = Date.now();
        const rows = which === 'copy' ? (await copyCeiling(pool, copyRows), undefined) : await persistPath(pool, batches);
        const ms = Date.now() - t;
        const used = cpu();
        await pool.end();
        await dropDatabase(pg, `bench_${which}`);
        figures[which] = { rate: rate(n, ms), pgCpu: used.postgres, driverCpu: used.driver, rows };
      }
      const [a, b] = [figures.copy, figures.persist];
      copyCpu = a.pgCpu + a.driverCpu;
      results.copy.push(a.rate);
      results.persist.push(b.rate);
      results.persistRatio.push(b.rate / a.rate);
      // The same comparison in records per CPU second (PostgreSQL + client): what the work costs, whatever else runs on the machine.
      const cpuRatio = (a.pgCpu + a.driverCpu) / (b.pgCpu + b.driverCpu);
      results.persistCpuRatio.push(cpuRatio);
      console.log(
        `${tag}(a) COPY into the same tables/indexes: ${a.rate} records/s   CPU/record: PostgreSQL ${micro(a.pgCpu, n)}, client ${micro(a.driverCpu, n)}`,
      );
      console.log(
        `${tag}(b) persist path (one tx per batch):    ${b.rate} records/s = ${fmt(b.rate / a.rate)}× (a), ${fmt(cpuRatio)}× per CPU second   CPU/record: PostgreSQL ${micro(b.pgCpu, n)}, client ${micro(b.driverCpu, n)}   (${b.rows} history rows)`,
      );

      // (c) the emulator's read ceiling, then (d) end to end over the same shards.
      const cpu = cpuDelta(probe);
      const ceiling = await readCeiling(kinesis.client, stream, shardList, limit);
      const used = cpu();
      if (ceiling.records !== n)
        throw new Error(`the read ceiling loop read ${ceiling.records} records, expected ${n}: the emulator lost records`);
      const c = rate(ceiling.records, ceiling.ms);
      results.ceiling.push(c);
      console.log(
        `${tag}(c) emulator read ceiling (bare GetRecords loop, ${shardList.length} shards): ${c} records/s   CPU/record: emulator ${micro(used.emulator, n)}, reader ${micro(used.driver, n)}`,
      );

      for (const count of processors > 1 ? [1, processors] : [1]) {
        const e = await endToEnd(pg, kinesis, probe, stream, `bench_e2e_${count}`, count, n, limit, ceiling.last, profile, inFlight);
        const label = count === 1 ? 'one processor' : `${count} processors`;
        const ratio = e.steadyRate / c;
        const cpuPerRecord = (e.cpu.processor + e.cpu.postgres + e.cpu.emulator + e.cpu.driver) / n;
        // What the machine's cores could do at this CPU per record if nothing else ran: the bound on (d) whatever the ceiling.
        const bound = cpuPerRecord > 0 ? cpus().length / cpuPerRecord : 0;
        if (count === 1) results.cpuBound.push(bound / c);
        // The pipeline's own CPU (processor + PostgreSQL) against the COPY's (PostgreSQL + client), for the same records.
        const cpuVsCopy = copyCpu / (e.cpu.processor + e.cpu.postgres);
        if (count === 1) {
          results.e2eCopyCpuRatio.push(cpuVsCopy);
          results.e2e.push(e.steadyRate);
          results.e2eRatio.push(ratio);
          results.e2eCopyRatio.push(e.steadyRate / results.copy[results.copy.length - 1]);
          results.peakRss.push(e.peakRssMb);
        } else {
          results.multi.push(e.steadyRate);
          results.multiRatio.push(e.steadyRate / results.e2e[results.e2e.length - 1]);
        }
        const vsOne =
          count > 1
            ? `, ${fmt(e.steadyRate / results.e2e[results.e2e.length - 1])}× one processor; first lease of each ${e.firstLeaseMs.join(', ')} ms, shares even ${e.splitMs ?? 'never seen'} ms after start`
            : '';
        console.log(
          `${tag}(d) end to end, ${label}: ${e.steadyRate} records/s steady (after the first commit) = ${fmt(ratio)}× (c), ${fmt(e.steadyRate / results.copy[results.copy.length - 1])}× (a), ${fmt(cpuVsCopy)}× (a) per CPU second${vsOne}; ${e.wallRate} records/s from start-up; processor peak RSS ${e.peakRssMb.toFixed(0)} MB; load average ${load()}`,
        );
        console.log(
          `${tag}    CPU/record: processor ${micro(e.cpu.processor, n)}, PostgreSQL ${micro(e.cpu.postgres, n)}, emulator ${micro(e.cpu.emulator, n)}, probe ${micro(e.cpu.driver, n)}` +
            `; total ${micro(e.cpu.processor + e.cpu.postgres + e.cpu.emulator + e.cpu.driver, n)} (${fmt(((e.cpu.processor + e.cpu.postgres + e.cpu.emulator + e.cpu.driver) * e.wallRate) / n)} cores busy)` +
            `; ${cpus().length} idle cores at this CPU per record: at most ${Math.round(bound)} records/s = ${fmt(bound / c)}× (c)`,
        );
      }
    }
  } finally {
    await kinesis.stop();
    await pg.stop();
  }

  if (rounds > 1) {
    console.log(
      `medians of ${rounds} rounds: (a) ${median(results.copy)}, (b) ${median(results.persist)} = ${fmt(median(results.persistRatio))}× (a) (${fmt(median(results.persistCpuRatio))}× per CPU second), (c) ${median(results.ceiling)}, (d) ${median(results.e2e)} = ${fmt(median(results.e2eRatio))}× (c) = ${fmt(median(results.e2eCopyRatio))}× (a) records/s (${fmt(median(results.e2eCopyCpuRatio))}× (a) per CPU second; CPU bound ${fmt(median(results.cpuBound))}× (c)); processor peak RSS ${median(results.peakRss).toFixed(0)} MB (rounds ${results.peakRss.map((r) => r.toFixed(0)).join(', ')}); load average ${Math.min(...results.load).toFixed(1)}-${Math.max(...results.load).toFixed(1)} at the rounds' starts` +
        (results.multi.length ? `; ${processors} processors ${median(results.multi)} = ${fmt(median(results.multiRatio))}× one` : ''),
    );
  }
  const lines = await validatorLines();
  if (lines) for (const line of lines) console.log(line);
  console.log('targets: (b) >= 0.95× (a); (d) >= 0.95× (a) and >= 0.8× (c); processor peak RSS <= 256 MB');
  return 0;
}

runCli('bench', USAGE, () => main(process.argv.slice(2)));
