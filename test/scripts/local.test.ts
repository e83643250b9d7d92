import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

describe('npm run local', () => {
  test('runs the real processor against kinesalite and embedded PostgreSQL and reports every record', () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-run-'));
    const outputs = join(dir, 'flat-outputs.json');
    try {
      const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'scripts/local.ts', '--records', '400', '--invalid', '18', '--shards', '2', '--outputs', outputs],
        { cwd: join(__dirname, '..', '..'), encoding: 'utf8', timeout: 120_000, env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' } });
      expect(run.stderr).not.toMatch(/local:/);
      expect(run.status).toBe(0);
      expect(run.stdout).toContain('summary: OK');
      expect(run.stdout).toMatch(/persisted +400 of 400/);
      expect(run.stdout).toMatch(/quarantined +18 of 18 invalid records \(INVALID_FHIR 6, NOT_A_RESOURCE 2, NOT_JSON 2, NOT_UTF8 2, TOO_LARGE 2, UNSTORABLE 2, UNSUPPORTED_RESOURCE_TYPE 2\)/);
      expect(run.stdout).toMatch(/duplicates +0/);
      expect(run.stdout).toMatch(/audit events 418/);
      const flat = JSON.parse(readFileSync(outputs, 'utf8'));
      expect(flat).toMatchObject({ EnvironmentSuffix: 'local', StreamName: 'hipaa-fhir-records-local', DatabaseName: 'fhir', KinesisEndpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
