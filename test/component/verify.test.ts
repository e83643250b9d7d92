import { spawnSync } from 'child_process';
import { join } from 'path';
import { Client, Pool } from 'pg';
import { verifyRun } from '../../lib/processor/tasks/verify/main';
import { invalidSamples, prng, validSamples } from '../../scripts/shared/fhir-samples';
import { counts, processorEnv, putRecords, startStack, TestStack, waitFor } from './harness';
import { TS_HOOK } from '../../scripts/shared/child';

jest.setTimeout(120_000);

describe('verify: what the database holds for one run, counts only, itself audited', () => {
  let stack: TestStack;
  let db: Client;
  let pool: Pool;
  const stream = 'hipaa-fhir-records-verify';

  beforeAll(async () => {
    stack = await startStack();
    db = stack.db;
    await stack.createStream(stream, 1);
    await stack.startProcessor(stream);
    pool = new Pool({ ...stack.pg.settings(), max: 1 });
    const run = [...validSamples(40, { runId: 'vt-run', patients: 8 }), ...invalidSamples(3, prng(3), 'vt-run')];
    await putRecords(stack.kinesis.client, stream, run);
    await waitFor('the run handled', async () =>
      (await counts(db)).history >= 40 && (await counts(db)).quarantined >= 3 ? true : undefined,
    );
  });

  afterAll(async () => {
    await pool?.end();
    await stack?.stop();
  });

  test("counts the run's rows, quarantine by reason and audit outcomes, and records the read", async () => {
    const summary = await verifyRun(pool, 'vt-run', 'verify-test/verify', stream);
    expect(summary).toEqual({
      runId: 'vt-run',
      history: 40,
      current: 40,
      duplicates: 0,
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
    const env = { ...processorEnv(stack.pg, stack.kinesis, stream, 'verify-cli'), DB_MIGRATE_ON_START: 'false' };
    const run = (args: string[]) =>
      spawnSync(process.execPath, [...TS_HOOK, 'lib/processor/tasks/verify/main.ts', ...args], {
        cwd: join(__dirname, '..', '..'),
        env,
        encoding: 'utf8',
      });
    const missing = run([]);
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toBe('verify: --run-id is required');
    const malformed = run(['--run-id', "x%' OR 1=1"]);
    expect(malformed.status).toBe(2);
    expect(malformed.stderr.trim()).toBe('verify: --run-id must be 3-41 lowercase letters, digits and hyphens');
    const ok = run(['--run-id', 'vt-run']);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout.trim()).verify).toMatchObject({ runId: 'vt-run', history: 40, current: 40 });
  });
});
