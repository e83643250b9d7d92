import { spawnSync } from 'child_process';
import { join } from 'path';
import { Writable } from 'stream';
import { Client, Pool } from 'pg';
import { createLogger } from '../../lib/processor/logger';
import { startProcessor, RunningProcessor } from '../../lib/processor/main';
import { NoMetrics } from '../../lib/processor/metrics';
import { verifyRun } from '../../lib/processor/verify';
import { invalidSamples, prng, validSamples } from '../../scripts/fhir-samples';
import { counts, createStream, LocalKinesis, LocalPostgres, processorConfig, processorEnv, putRecords, startKinesis, startPostgres, waitFor } from './harness';

jest.setTimeout(120_000);

describe('verify: what the database holds for one run, counts only, itself audited', () => {
  let pg: LocalPostgres;
  let kinesis: LocalKinesis;
  let db: Client;
  let pool: Pool;
  let processor: RunningProcessor;
  const stream = 'hipaa-fhir-records-verify';

  beforeAll(async () => {
    [pg, kinesis] = await Promise.all([startPostgres(), startKinesis()]);
    await createStream(kinesis.client, stream, 1);
    const quiet = createLogger('verify-test', 'error', new Writable({ write(_c, _e, cb) { cb(); } }));
    processor = await startProcessor(processorConfig(pg, kinesis, stream), quiet, new NoMetrics());
    db = await pg.client();
    pool = new Pool({ host: '127.0.0.1', port: pg.port, user: 'postgres', password: pg.password, database: 'fhir', max: 1 });
    const run = [...validSamples(40, { runId: 'vt-run', patients: 8 }), ...invalidSamples(3, prng(3), 262_144, 'vt-run')];
    await putRecords(kinesis.client, stream, run);
    await waitFor('the run handled', async () => ((await counts(db)).history >= 40 && (await counts(db)).quarantined >= 3 ? true : undefined));
  });

  afterAll(async () => {
    await processor?.shutdown();
    await pool?.end();
    await db?.end();
    await Promise.all([kinesis?.stop(), pg?.stop()]);
  });

  test('counts the run\'s rows, quarantine by reason and audit outcomes, and records the read', async () => {
    const summary = await verifyRun(pool, 'vt-run', 'verify-test/verify', stream);
    expect(summary).toEqual({
      runId: 'vt-run', history: 40, current: 40, duplicates: 0,
      quarantined: { NOT_A_RESOURCE: 1, NOT_JSON: 1, NOT_UTF8: 1 },
      audit: { NOT_A_RESOURCE: 1, NOT_JSON: 1, NOT_UTF8: 1, written: 40 },
    });
    const reads = (await db.query("SELECT actor, detail FROM audit_event WHERE action = 'read'")).rows;
    expect(reads).toEqual([{ actor: 'verify-test/verify', detail: 'integration verification of run vt-run: counts only' }]);
  });

  test('a stream position persisted twice is reported as a duplicate', async () => {
    await db.query(`INSERT INTO audit_event (actor, action, outcome, resource_type, resource_id, stream_name, shard_id, sequence_number, entry_index)
      SELECT actor, action, outcome, resource_type, resource_id, stream_name, shard_id, sequence_number, entry_index
      FROM audit_event WHERE action = 'persist' AND outcome = 'written' AND resource_id LIKE 'vt-run-%' LIMIT 1`);
    expect((await verifyRun(pool, 'vt-run', 'verify-test/verify', stream)).duplicates).toBe(1);
  });

  test('a run id that is not a safe LIKE prefix is refused before any query', async () => {
    await expect(verifyRun(pool, "x%' OR 1=1", 'a', stream)).rejects.toThrow('run id must be 3-41 lowercase letters, digits and hyphens');
  });

  test('the command refuses to start without --run-id (exit 2) and prints one JSON line otherwise', () => {
    const env = { ...processorEnv(pg, kinesis, stream, 'verify-cli'), DB_MIGRATE_ON_START: 'false' };
    const run = (args: string[]) => spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'lib/processor/verify.ts', ...args], { cwd: join(__dirname, '..', '..'), env, encoding: 'utf8' });
    const missing = run([]);
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toBe('verify: --run-id is required');
    const ok = run(['--run-id', 'vt-run']);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout.trim()).verify).toMatchObject({ runId: 'vt-run', history: 40, current: 40 });
  });
});
