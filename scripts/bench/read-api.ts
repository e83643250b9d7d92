/**
 * `npm run bench -- --read`: the read API's reads per second and latency percentiles against the
 * local stack, for `GET Patient/{id}` and `GET Patient/{id}/$everything` of a patient with 1,000
 * resources (one page, `_count=1000`). Prints numbers; asserts nothing.
 *
 * Embedded PostgreSQL and kinesalite as `npm run local` starts them; the patient's 1,000 records go
 * through the real processor; the API runs as its own process (lib/processor/api/server.ts), and
 * this driver keeps `--concurrency` requests in flight for `--seconds` per measurement. Every
 * request is audited as in AWS, so the figures include the audit insert.
 *
 *   npm run bench -- --read [--resources 1000] [--seconds 10] [--concurrency 4] [--rounds 3]
 */
import { ChildProcess } from 'child_process';
import { Client } from 'pg';
import { loadConfig } from '../../lib/processor/config';
import { createLogger } from '../../lib/processor/logger';
import { NoMetrics } from '../../lib/processor/metrics';
import { startProcessor } from '../../lib/processor/service/main';
import { validSamples } from '../shared/fhir-samples';
import { putRecords } from '../local/produce';
import { createStream, processorEnv, spawnTs, startKinesis, startPostgres } from '../local/stack';

export interface ReadBenchOptions {
  readonly resources: number;
  readonly seconds: number;
  readonly concurrency: number;
  readonly rounds: number;
}

const STREAM = 'hipaa-fhir-records-readbench';

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Measurement {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly requests: number;
}

/** `concurrency` loops each GETting `url` until `seconds` have passed; every answer must be 200 with `expectEntries` entries. */
async function measure(url: string, seconds: number, concurrency: number, check: (body: string) => void): Promise<Measurement> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const res = await fetch(url, { headers: { accept: 'application/fhir+json' } });
        const body = await res.text();
        latencies.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`${res.status}: ${body.slice(0, 200)}`);
        check(body);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    requests: latencies.length,
  };
}

export async function readBench(
  options: ReadBenchOptions,
  say: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<number> {
  const [pg, kinesis] = await Promise.all([startPostgres(), startKinesis()]);
  let api: ChildProcess | undefined;
  const logger = createLogger('read-bench', 'silent');
  let processor: Awaited<ReturnType<typeof startProcessor>> | undefined;
  const db = new Client(pg.settings());
  try {
    await createStream(kinesis.client, STREAM, 1);
    const env = processorEnv(pg, kinesis, STREAM, 'read-bench');
    processor = await startProcessor(loadConfig(env), logger, new NoMetrics());
    const records = validSamples(options.resources, { runId: 'bench', patients: 1 });
    await putRecords(kinesis.client, STREAM, records);
    await db.connect();
    for (;;) {
      const n = (await db.query(`SELECT count(*)::int AS n FROM fhir_resource_current WHERE patient_id = 'bench-p0'`)).rows[0].n;
      if (n >= options.resources) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await processor.shutdown();
    processor = undefined;
    say(`stored one patient with ${options.resources} resources (Patient + Observations + Encounters) through the processor`);

    api = spawnTs('lib/processor/api/server.ts', [], { ...env, API_PORT: '0', LOG_LEVEL: 'silent' });
    const base = await new Promise<string>((resolve, reject) => {
      let out = '';
      api!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /READ_API_LISTENING (\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      api!.once('exit', (code) => reject(new Error(`the read API exited with ${code}`)));
    });

    const read = `${base}/Patient/bench-p0`;
    const everything = `${base}/Patient/bench-p0/$everything?_count=${options.resources}`;
    const entries = (body: string) => (body.match(/"fullUrl":/g) ?? []).length;
    // Warm-up: the API's pool, prepared statements and PostgreSQL's cache.
    await measure(everything, 1, 1, () => undefined);
    const results: { read: Measurement; everything: Measurement }[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const r = await measure(read, options.seconds, options.concurrency, (b) => {
        if (!b.startsWith('{')) throw new Error('read returned no resource');
      });
      const e = await measure(everything, options.seconds, options.concurrency, (b) => {
        if (entries(b) !== options.resources) throw new Error(`$everything returned ${entries(b)} of ${options.resources} resources`);
      });
      results.push({ read: r, everything: e });
      say(
        `round ${round}: read ${r.perSecond.toFixed(0)}/s p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms (${r.requests} requests); ` +
          `$everything ${e.perSecond.toFixed(1)}/s p50 ${e.p50.toFixed(1)} ms p99 ${e.p99.toFixed(1)} ms (${e.requests} requests)`,
      );
    }
    const audited = (await db.query(`SELECT count(*)::int AS n FROM audit_event WHERE action LIKE 'api-%'`)).rows[0].n;
    const m = (pick: (x: (typeof results)[number]) => number) => median(results.map(pick));
    say('');
    say(`median of ${options.rounds} rounds, ${options.concurrency} requests in flight, ${options.seconds} s each:`);
    say(`  GET Patient/{id}                 ${m((x) => x.read.perSecond).toFixed(0)} reads/s, p99 ${m((x) => x.read.p99).toFixed(1)} ms`);
    say(
      `  GET Patient/{id}/$everything     ${m((x) => x.everything.perSecond).toFixed(1)} requests/s (${options.resources} resources each), p99 ${m((x) => x.everything.p99).toFixed(1)} ms`,
    );
    say(`  audit events written             ${audited} (one per request)`);
    return 0;
  } finally {
    if (api && api.exitCode === null) {
      const exited = new Promise((r) => api!.once('exit', r));
      api.kill('SIGTERM');
      await exited;
    }
    await processor?.shutdown();
    await db.end().catch(() => undefined);
    await kinesis.stop();
    await pg.stop();
  }
}
