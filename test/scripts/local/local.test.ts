import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { main, parseOptions } from '../../../scripts/local/local';
import { TS_HOOK } from '../../../scripts/shared/child';

describe('npm run local', () => {
  test('runs the real processor against kinesalite and embedded PostgreSQL and reports every record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-run-'));
    const outputs = join(dir, 'flat-outputs.json');
    const handlers = process.listenerCount('SIGINT');
    let stdout = '';
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    });
    try {
      const status = await main(parseOptions(['--records', '400', '--invalid', '18', '--shards', '2', '--outputs', outputs])!);
      write.mockRestore();
      expect(status).toBe(0);
      expect(stdout).toContain('summary: OK');
      expect(stdout).toMatch(/persisted +400 of 400/);
      expect(stdout).toMatch(
        /quarantined +18 of 18 invalid records \(INVALID_FHIR 6, NOT_A_RESOURCE 2, NOT_JSON 2, NOT_UTF8 2, TOO_LARGE 2, UNSTORABLE 2, UNSUPPORTED_RESOURCE_TYPE 2\)/,
      );
      expect(stdout).toMatch(/duplicates +0/);
      expect(stdout).toMatch(/audit events 418/);
      const flat = JSON.parse(readFileSync(outputs, 'utf8'));
      expect(flat).toMatchObject({
        EnvironmentSuffix: 'local',
        StreamName: 'hipaa-fhir-records-local',
        DatabaseName: 'fhir',
        KinesisEndpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      });
      // Everything it started is stopped: no signal handler of the run stays behind.
      expect(process.listenerCount('SIGINT')).toBe(handlers);
    } finally {
      write.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);

  test('flags are parsed strictly', () => {
    expect(parseOptions(['--help'])).toBeUndefined();
    expect(() => parseOptions(['--shards', '0'])).toThrow('--shards must be a whole number ≥ 1, not "0"');
    expect(() => parseOptions(['--record', '5'])).toThrow("Unknown option '--record'");
  });

  test('spawned: a usage error is one line and the usage, exit 2', () => {
    const run = spawnSync(process.execPath, [...TS_HOOK, 'scripts/local/local.ts', '--records', 'many'], {
      cwd: join(__dirname, '..', '..', '..'),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe('local: --records must be a whole number ≥ 0, not "many"');
    expect(run.stderr).toContain('usage: npm run local');
  }, 60_000);
});
