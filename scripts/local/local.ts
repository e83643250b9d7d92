/**
 * `npm run local`: the product's main job, offline. Starts kinesalite and embedded PostgreSQL
 * (npm packages, no service, no Docker), creates the stream, runs the real processor, sends
 * synthetic FHIR records (some invalid), waits until every record is persisted or quarantined,
 * prints a summary and writes cfn-outputs/flat-outputs.json for the integration suite.
 *
 * Whatever ends it (the summary, an error, Ctrl-C, SIGTERM, SIGHUP, or its output pipe closing, as
 * with `npm run local | head`) stops the processor, kinesalite and PostgreSQL and removes
 * PostgreSQL's data folder before it exits; only the processor's log stays.
 */
import { ChildProcess } from 'child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'fs';
import { constants } from 'os';
import { dirname, join, relative, resolve } from 'path';
import { Client } from 'pg';
import { MIGRATIONS } from '../../lib/processor/db/schema';
import { localActor } from '../../lib/processor/api/server';
import { parseFlags, progressPrinter, runCli, UsageError } from '../shared/cli';
import { putRecords, sampleMix } from './produce';
import { createStream, LocalKinesis, LocalPostgres, processorEnv, spawnTs, startKinesis, startPostgres } from './stack';

const ROOT = join(__dirname, '..', '..');
const STREAM = 'hipaa-fhir-records-local';
const LATEST_MIGRATION = Math.max(...MIGRATIONS.map((m) => m.version));

const USAGE = `usage: npm run local -- [--records 5000] [--invalid 50] [--shards 2] [--keep] [--timeout 300] [--outputs cfn-outputs/flat-outputs.json] [--dir .local] [--api-port 0]
  --records N   valid synthetic FHIR records to send (default 5000)
  --invalid N   invalid records mixed in, to be quarantined (default 50)
  --shards N    Kinesis shards (default 2, at least 1)
  --keep        leave the stack running after the summary until Ctrl-C, which stops it and removes its data
  --timeout S   give up after S seconds (default 300)
  --outputs F   where to write the flat outputs (default cfn-outputs/flat-outputs.json)
  --dir D       where PostgreSQL's data folder (removed on exit) and processor.log go (default .local)
  --api-port P  the read API's port on 127.0.0.1 (default 0: any free port; the URL is printed and in the outputs)`;

interface Options {
  records: number;
  invalid: number;
  shards: number;
  keep: boolean;
  timeoutSeconds: number;
  outputs: string;
  dir: string;
  apiPort: number;
}

export function parseOptions(argv: readonly string[]): Options | undefined {
  const parsed = parseFlags(argv, {
    records: { type: 'integer', default: 5_000 },
    invalid: { type: 'integer', default: 50 },
    shards: { type: 'integer', min: 1, default: 2 },
    keep: { type: 'boolean' },
    timeout: { type: 'integer', min: 1, default: 300 },
    outputs: { type: 'string', default: join('cfn-outputs', 'flat-outputs.json') },
    dir: { type: 'string', default: '.local' },
    'api-port': { type: 'integer', default: 0 },
  });
  if (!parsed) return undefined;
  const { records, invalid, shards, keep, timeout, outputs, dir } = parsed.flags;
  const apiPort = parsed.flags['api-port'];
  if (apiPort > 65535) throw new UsageError(`--api-port must be a port number from 0 to 65535, not "${apiPort}"`);
  return { records, invalid, shards, keep, timeoutSeconds: timeout, outputs: resolve(ROOT, outputs), dir: resolve(ROOT, dir), apiPort };
}

/** Resolves with the URL the read API child prints once it listens; its other output goes to the log. */
function listening(child: ChildProcess, log: NodeJS.WritableStream): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let buffered = '';
    const onData = (d: Buffer) => {
      log.write(d);
      buffered += d.toString();
      const match = /READ_API_LISTENING (\S+)/.exec(buffered);
      if (match) {
        child.off('exit', onExit);
        resolvePromise(match[1]);
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`the read API stopped before listening (exit ${code}); see the processor log`));
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Once a signal or a closed output pipe has started the teardown, main waits for it to exit the process. */
const untilTeardownExits = () => new Promise<number>(() => undefined);

/** The shell's status for a process ended by `signal`: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, 141 for SIGPIPE. */
export const signalStatus = (signal: NodeJS.Signals) => 128 + constants.signals[signal];

const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export async function main(options: Options): Promise<number> {
  const localDir = options.dir;
  mkdirSync(localDir, { recursive: true });
  let outputClosed = false;
  const say = (line: string) => {
    if (!outputClosed) process.stdout.write(`${line}\n`);
  };
  // Starts are kept as promises so that a teardown during start-up stops (and removes) what is still starting.
  let pgStart: Promise<LocalPostgres> | undefined;
  let kinesisStart: Promise<LocalKinesis> | undefined;
  let processor: ChildProcess | undefined;
  let readApi: ChildProcess | undefined;
  let db: Client | undefined;

  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= stopAll());
  const stopAll = async () => {
    for (const child of [readApi, processor]) {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    }
    await db?.end().catch(() => undefined);
    const [kinesis, pg] = await Promise.all([kinesisStart?.catch(() => undefined), pgStart?.catch(() => undefined)]);
    await kinesis?.stop();
    await pg?.stop();
  };
  let interrupted = false;
  const teardown = (why: string, status: number) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${why}: stopping the processor, kinesalite and PostgreSQL, removing the local data\n`);
    void cleanup()
      .catch((error: unknown) => process.stderr.write(`local: teardown: ${(error as Error)?.message ?? String(error)}\n`))
      .then(() => (outputClosed ? process.exit(status) : process.stdout.write('', () => process.exit(status))));
  };
  // A teardown stops the children that exist when it begins; one spawned after that (the run was awaiting a step
  // when the signal or the closed pipe came) would outlive the run. So nothing is started once it has begun.
  const unlessStopping = <T>(start: () => T): T => {
    if (interrupted) throw new Error('stopping: nothing more is started');
    return start();
  };
  const onSignal = (signal: NodeJS.Signals) => teardown('interrupted', signalStatus(signal));
  // A reader that went away (`| head`, a closed terminal) ends the run as SIGPIPE would, but with the teardown.
  const onOutputError = (error: NodeJS.ErrnoException) => {
    outputClosed = true;
    teardown(`output closed (${error.code ?? error.message})`, signalStatus('SIGPIPE'));
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  process.stdout.on('error', onOutputError);

  let status = 1;
  let failure: unknown;
  try {
    say('[1/5] starting embedded PostgreSQL 16 and kinesalite');
    pgStart = startPostgres({ parentDir: localDir });
    kinesisStart = startKinesis();
    const [pg, kinesis] = await Promise.all([pgStart, kinesisStart]);
    say(`      postgres 127.0.0.1:${pg.port}, kinesis ${kinesis.endpoint}`);
    await createStream(kinesis.client, STREAM, options.shards);
    say(`[2/5] stream ${STREAM} with ${options.shards} shard(s)`);

    const logPath = join(localDir, 'processor.log');
    const shownLog = relative(process.cwd(), logPath) || logPath;
    const log = createWriteStream(logPath);
    processor = unlessStopping(() =>
      spawnTs(
        'lib/processor/service/main.ts',
        [],
        processorEnv(pg, kinesis, STREAM, 'local-processor', { LEASE_TTL_MS: '10000', POLL_INTERVAL_MS: '50' }),
      ),
    );
    processor.stdout!.pipe(log);
    processor.stderr!.pipe(log);
    processor.once('exit', (code) => {
      if (!interrupted && code !== 0 && code !== null) say(`processor exited with ${code}: see ${shownLog}`);
    });
    say(`[3/5] processor started (logs: ${shownLog})`);

    const records = sampleMix(options.records, options.invalid, `local${Date.now()}`);
    const started = Date.now();
    const sending = progressPrinter();
    await putRecords(kinesis.client, STREAM, records, (sent) => sending.update(`[4/5] sent ${sent}/${records.length} records`));
    sending.done(`[4/5] sent ${records.length}/${records.length} records`);

    // The database exists from start-up; its tables appear once the processor's migrations have run.
    db = new Client(pg.settings());
    // PostgreSQL ends this session when it shuts down (57P01); the queries below report real failures.
    db.on('error', () => undefined);
    await db.connect();
    const deadline = Date.now() + options.timeoutSeconds * 1000;
    let persisted = 0;
    let quarantined = 0;
    let complete = false;
    let migrated = false;
    const waiting = progressPrinter();
    while (!interrupted && Date.now() < deadline) {
      if (processor.exitCode !== null) throw new Error(`the processor stopped (exit ${processor.exitCode}); see ${shownLog}`);
      try {
        // The processor migrates in steps at start-up: the queries below need its last one.
        migrated ||= (await db.query('SELECT max(version) AS v FROM schema_migrations')).rows[0].v >= LATEST_MIGRATION;
        if (migrated) {
          const { rows } = await db.query(
            `SELECT (SELECT count(*) FROM fhir_resource_history WHERE stream_name = $1)::int AS p,
            (SELECT count(*) FROM quarantined_record WHERE stream_name = $1)::int AS q`,
            [STREAM],
          );
          persisted = rows[0].p;
          quarantined = rows[0].q;
        }
      } catch {
        // Not migrating yet: no schema_migrations table.
      }
      waiting.update(`[5/5] persisted ${persisted}/${options.records}, quarantined ${quarantined}/${options.invalid}`);
      // Zero records are complete only once the processor has migrated.
      if (migrated && persisted >= options.records && quarantined >= options.invalid) {
        complete = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    waiting.done(`[5/5] persisted ${persisted}/${options.records}, quarantined ${quarantined}/${options.invalid}`);
    if (interrupted) return untilTeardownExits();
    if (!complete && !migrated)
      throw new Error(
        `timed out after ${options.timeoutSeconds} s before the processor had migrated the database; see ${shownLog}, or raise --timeout`,
      );
    if (!complete)
      throw new Error(
        `timed out after ${options.timeoutSeconds} s with ${persisted}/${options.records} persisted and ${quarantined}/${options.invalid} quarantined; see ${shownLog}, or raise --timeout`,
      );
    const seconds = (Date.now() - started) / 1000;

    const reasons = (
      await db.query('SELECT reason_code, count(*)::int AS n FROM quarantined_record WHERE stream_name = $1 GROUP BY 1 ORDER BY 1', [
        STREAM,
      ])
    ).rows;
    // Exactly once: one 'written' persist event per stream position (record, bundle entry).
    const dup = (
      await db.query(
        `SELECT count(*)::int AS d FROM (SELECT 1 FROM audit_event WHERE stream_name = $1 AND action = 'persist' AND outcome = 'written'
      GROUP BY shard_id, sequence_number, entry_index HAVING count(*) > 1) AS repeated`,
        [STREAM],
      )
    ).rows[0].d;
    const audit = (await db.query('SELECT count(*)::int AS n FROM audit_event WHERE stream_name = $1', [STREAM])).rows[0].n;
    const ok = persisted === options.records && quarantined === options.invalid && dup === 0;
    say('');
    say(`summary: ${ok ? 'OK' : 'INCOMPLETE'}`);
    say(`  persisted    ${persisted} of ${options.records} valid records`);
    say(
      `  quarantined  ${quarantined} of ${options.invalid} invalid records${reasons.length ? ` (${reasons.map((r) => `${r.reason_code} ${r.n}`).join(', ')})` : ''}`,
    );
    say(`  duplicates   ${dup}`);
    say(`  audit events ${audit}`);
    say(
      `  throughput   ${Math.round((persisted + quarantined) / seconds)} records/s (${seconds.toFixed(1)} s from first put to last commit)`,
    );

    // Started once the processor has migrated: the API's login (fhir_api) is created by a migration.
    readApi = unlessStopping(() =>
      spawnTs('lib/processor/api/server.ts', [], {
        ...processorEnv(pg, kinesis, STREAM, 'local-read-api'),
        API_PORT: String(options.apiPort),
      }),
    );
    readApi.stderr!.pipe(log);
    const readApiUrl = await listening(readApi, log);
    say(`  read API     ${readApiUrl} (no SigV4 locally: audit_event records the caller as ${localActor()})`);

    const outputs = {
      EnvironmentSuffix: 'local',
      AwsRegion: 'eu-west-2',
      StreamName: STREAM,
      StreamArn: `arn:aws:kinesis:eu-west-2:000000000000:stream/${STREAM}`,
      KinesisEndpoint: kinesis.endpoint,
      DatabaseEndpointAddress: '127.0.0.1',
      DatabaseEndpointPort: String(pg.port),
      DatabaseName: 'fhir',
      LocalDatabaseUser: 'postgres',
      LocalDatabasePassword: pg.password,
      ReadApiUrl: readApiUrl,
    };
    mkdirSync(dirname(options.outputs), { recursive: true });
    writeFileSync(options.outputs, `${JSON.stringify(outputs, null, 2)}\n`);
    say(`  wrote ${relative(ROOT, options.outputs) || options.outputs} (local endpoints)`);

    if (options.keep && ok) {
      say('\nthe local stack keeps running: press Ctrl-C to stop it');
      await new Promise(() => undefined);
    }
    status = ok ? 0 : 1;
  } catch (error) {
    failure = error;
  }
  await cleanup();
  // A signal or a closed pipe during the run, or during this cleanup, exits with its own status.
  if (interrupted) return untilTeardownExits();
  // Only this run's handlers: main also runs inside a test process.
  for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  process.stdout.off('error', onOutputError);
  if (failure !== undefined) throw failure;
  return status;
}

if (require.main === module) {
  runCli('local', USAGE, async () => {
    const options = parseOptions(process.argv.slice(2));
    if (!options) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    return main(options);
  });
}
