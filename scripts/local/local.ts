/**
 * `npm run local`: the product's main job, offline. Starts kinesalite and embedded PostgreSQL
 * (npm packages, no service, no Docker), creates the stream, runs the real processor, sends
 * synthetic FHIR records (some invalid), waits until every record is persisted or quarantined,
 * prints a summary and writes cfn-outputs/flat-outputs.json for the integration suite.
 *
 *   npm run local -- [--records 5000] [--invalid 50] [--shards 2] [--keep] [--timeout 300] [--outputs cfn-outputs/flat-outputs.json]
 *
 * --keep leaves the stack running (for `npm run test:integ` against it) until Ctrl-C.
 */
import { ChildProcess } from 'child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'fs';
import { dirname, join, relative, resolve } from 'path';
import { Client } from 'pg';
import { createStream, LocalKinesis, LocalPostgres, processorEnv, spawnTs, startKinesis, startPostgres } from './stack';
import { parseFlags, progressPrinter, runCli } from '../shared/cli';
import { putRecords, sampleMix } from './produce';

const ROOT = join(__dirname, '..', '..');
const STREAM = 'hipaa-fhir-records-local';

const USAGE = `usage: npm run local -- [--records 5000] [--invalid 50] [--shards 2] [--keep] [--timeout 300] [--outputs cfn-outputs/flat-outputs.json]
  --records N   valid synthetic FHIR records to send (default 5000)
  --invalid N   invalid records mixed in, to be quarantined (default 50)
  --shards N    Kinesis shards (default 2, at least 1)
  --keep        leave the stack running after the summary, until Ctrl-C
  --timeout S   give up after S seconds (default 300)
  --outputs F   where to write the flat outputs (default cfn-outputs/flat-outputs.json)`;

interface Options {
  records: number;
  invalid: number;
  shards: number;
  keep: boolean;
  timeoutSeconds: number;
  outputs: string;
}

export function parseOptions(argv: readonly string[]): Options | undefined {
  const parsed = parseFlags(argv, {
    records: { type: 'integer', default: 5_000 },
    invalid: { type: 'integer', default: 50 },
    shards: { type: 'integer', min: 1, default: 2 },
    keep: { type: 'boolean' },
    timeout: { type: 'integer', min: 1, default: 300 },
    outputs: { type: 'string', default: join('cfn-outputs', 'flat-outputs.json') },
  });
  if (!parsed) return undefined;
  const { records, invalid, shards, keep, timeout, outputs } = parsed.flags;
  return { records, invalid, shards, keep, timeoutSeconds: timeout, outputs: resolve(ROOT, outputs) };
}

/** After Ctrl-C the signal handler stops everything and exits 130; errors from the teardown are expected. */
const untilSignalHandlerExits = () => new Promise<number>(() => undefined);

const say = (line: string) => process.stdout.write(`${line}\n`);

export async function main(options: Options): Promise<number> {
  const localDir = join(ROOT, '.local');
  mkdirSync(localDir, { recursive: true });
  let pg: LocalPostgres | undefined;
  let kinesis: LocalKinesis | undefined;
  let processor: ChildProcess | undefined;
  let db: Client | undefined;

  const cleanup = async () => {
    if (processor && processor.exitCode === null) {
      const exited = new Promise((r) => processor!.once('exit', r));
      processor.kill('SIGTERM');
      await exited;
    }
    await db?.end().catch(() => undefined);
    await kinesis?.stop();
    await pg?.stop();
  };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    say('\ninterrupted: stopping the processor, kinesalite and PostgreSQL, removing the local data');
    void cleanup()
      .catch(() => undefined)
      .then(() => process.stdout.write('', () => process.exit(130)));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    say('[1/5] starting embedded PostgreSQL 16 and kinesalite');
    [pg, kinesis] = await Promise.all([startPostgres({ parentDir: localDir }), startKinesis()]);
    say(`      postgres 127.0.0.1:${pg.port}, kinesis ${kinesis.endpoint}`);
    await createStream(kinesis.client, STREAM, options.shards);
    say(`[2/5] stream ${STREAM} with ${options.shards} shard(s)`);

    const logPath = join(localDir, 'processor.log');
    const shownLog = relative(process.cwd(), logPath) || logPath;
    const log = createWriteStream(logPath);
    processor = spawnTs(
      'lib/processor/service/main.ts',
      [],
      processorEnv(pg, kinesis, STREAM, 'local-processor', { LEASE_TTL_MS: '10000', POLL_INTERVAL_MS: '50' }),
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
    sending.done();

    // The database exists from start-up; its tables appear once the processor's migrations have run.
    db = new Client(pg.settings());
    await db.connect();
    const deadline = Date.now() + options.timeoutSeconds * 1000;
    let persisted = 0;
    let quarantined = 0;
    let complete = false;
    const waiting = progressPrinter();
    while (!interrupted && Date.now() < deadline) {
      if (processor.exitCode !== null) throw new Error(`the processor stopped (exit ${processor.exitCode}); see ${shownLog}`);
      try {
        const { rows } = await db.query(
          `SELECT (SELECT count(*) FROM fhir_resource_history WHERE stream_name = $1)::int AS p,
          (SELECT count(*) FROM quarantined_record WHERE stream_name = $1)::int AS q`,
          [STREAM],
        );
        persisted = rows[0].p;
        quarantined = rows[0].q;
      } catch {
        // Not migrated yet.
      }
      waiting.update(`[5/5] persisted ${persisted}/${options.records}, quarantined ${quarantined}/${options.invalid}`);
      if (persisted >= options.records && quarantined >= options.invalid) {
        complete = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    waiting.done(`[5/5] persisted ${persisted}/${options.records}, quarantined ${quarantined}/${options.invalid}`);
    if (interrupted) return untilSignalHandlerExits();
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
    };
    mkdirSync(dirname(options.outputs), { recursive: true });
    writeFileSync(options.outputs, `${JSON.stringify(outputs, null, 2)}\n`);
    say(`  wrote ${relative(ROOT, options.outputs) || options.outputs} (local endpoints)`);

    if (options.keep && ok) {
      say('\nthe local stack keeps running: press Ctrl-C to stop it');
      await new Promise(() => undefined);
    }
    return ok ? 0 : 1;
  } catch (error) {
    if (interrupted) return untilSignalHandlerExits();
    throw error;
  } finally {
    if (!interrupted) {
      await cleanup();
      // Only this run's handlers: main also runs inside a test process.
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
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
