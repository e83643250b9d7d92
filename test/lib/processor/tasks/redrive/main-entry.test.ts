/**
 * The re-drive task's entry point (main.ts) as ECS runs it: a child process with the processor's environment.
 * Flags and configuration are checked before any connection; a dry run against a migrated, empty database
 * (the embedded PostgreSQL of the component tests) ends with one JSON summary line.
 */
import { execFile } from 'child_process';
import { join } from 'path';
import { REDRIVE_USAGE } from '../../../../../lib/processor/tasks/redrive/options';
import { compileCacheEnv, TS_HOOK } from '../../../../../scripts/shared/child';
import { databaseEnv, LocalPostgres, migrateSchema, startPostgres } from '../../../../component/harness';

jest.setTimeout(120_000);

const ROOT = join(__dirname, '..', '..', '..', '..', '..');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const runTask = (args: string[], env: Record<string, string | undefined>): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [...TS_HOOK, 'lib/processor/tasks/redrive/main.ts', ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH, ...compileCacheEnv(), ...env }, encoding: 'utf8' },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });

describe('re-drive task entry point: flags and configuration', () => {
  test('--help prints the usage on stdout and exits 0 without needing any configuration', async () => {
    for (const flag of ['--help', '-h']) {
      const run = await runTask([flag], {});
      expect([run.code, run.stdout, run.stderr]).toEqual([0, `${REDRIVE_USAGE}\n`, '']);
    }
  });

  test('an unknown flag: exit 2, one line naming it, nothing on stdout', async () => {
    const run = await runTask(['--everything'], {});
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^redrive: Unknown option '--everything'[^\n]*\n$/);
  });

  test('a bad --batch-size is a usage error (exit 2) before the environment is read', async () => {
    const run = await runTask(['--batch-size', '0'], {});
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')).toEqual([expect.stringMatching(/^redrive: --batch-size/), '']);
  });

  test('valid flags but STREAM_NAME missing: exit 2 and one configuration line', async () => {
    const run = await runTask(['--dry-run'], { AWS_REGION: 'eu-west-2' });
    expect([run.code, run.stdout, run.stderr]).toEqual([2, '', 'redrive: STREAM_NAME is required\n']);
  });

  test('a malformed AWS_REGION: exit 2 and one line', async () => {
    const run = await runTask([], { STREAM_NAME: 'fhir-stream', AWS_REGION: 'Europe' });
    expect([run.code, run.stdout, run.stderr]).toEqual([2, '', 'redrive: AWS_REGION must be a region code such as eu-west-2\n']);
  });
});

describe('re-drive task entry point against PostgreSQL', () => {
  let pg: LocalPostgres;

  beforeAll(async () => {
    pg = await startPostgres();
    await migrateSchema(pg);
  });

  afterAll(async () => {
    await pg?.stop();
  });

  test('a dry run with nothing quarantined: exit 0, and the last stdout line is the JSON summary of zero counts', async () => {
    const run = await runTask(['--dry-run', '--reason', 'INVALID_FHIR', '--batch-size', '5'], {
      STREAM_NAME: 'redrive-entry-test',
      ...databaseEnv(pg),
      WORKER_ID: 'task-9',
      LOG_LEVEL: 'info',
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    const { redrive: summary } = JSON.parse(lines[lines.length - 1]) as { redrive: Record<string, unknown> };
    expect(summary).toMatchObject({ dryRun: true, examined: 0, redriven: 0, stillQuarantined: 0 });
  });
});
