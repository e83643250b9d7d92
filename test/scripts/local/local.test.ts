import { ChildProcess, spawn, spawnSync } from 'child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { main, parseOptions } from '../../../scripts/local/local';
import { TS_HOOK } from '../../../scripts/shared/child';

const ROOT = join(__dirname, '..', '..', '..');

/** A folder for one run's data (traversable, so that PostgreSQL, run as `postgres` under root, may use it). */
function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'local-run-'));
  chmodSync(dir, 0o755);
  return dir;
}

const dataFolders = (dir: string) => readdirSync(dir).filter((name) => name.startsWith('fhir-pg-'));

/** True while any process of the group (the run, npm, PostgreSQL, the processor) is left. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * `npm run local` (or the script itself) in a process group of its own, as a terminal runs it: a signal sent to
 * the group reaches every process in it, as Ctrl-C and a hang-up do.
 */
function launch(args: readonly string[], via: 'npm' | 'node' = 'node') {
  const npm = join(dirname(process.execPath), 'npm');
  const [command, argv] =
    via === 'npm'
      ? [existsSync(npm) ? npm : 'npm', ['run', '--silent', 'local', '--', ...args]]
      : [process.execPath, [...TS_HOOK, 'scripts/local/local.ts', ...args]];
  const child: ChildProcess = spawn(command, argv, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (status, signal) => resolve({ status, signal })),
  );
  const ended = exited.then(async (exit) => {
    // The run's own streams, to their end, before anything is asserted about what it printed.
    await Promise.all(
      [child.stdout, child.stderr].map((s) => (s!.readableEnded || s!.destroyed ? undefined : new Promise((r) => s!.once('close', r)))),
    );
    return { ...exit, stdout, stderr, groupAlive: groupAlive(child.pid!) };
  });
  const untilStdout = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!stdout.includes(text)) return;
        child.stdout!.off('data', check);
        resolve();
      };
      child.stdout!.on('data', check);
      void exited.then(() => reject(new Error(`the run ended before printing "${text}": ${stdout}${stderr}`)));
      check();
    });
  const signal = (name: NodeJS.Signals) => process.kill(-child.pid!, name);
  return { child, ended, untilStdout, signal };
}

/** Resolves once PostgreSQL's data folder exists in `dir` (it is created at start-up, before the server runs). */
function untilDataFolder(dir: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(dir, () => {
      if (dataFolders(dir).length === 0) return;
      watcher.close();
      resolve();
    });
    if (dataFolders(dir).length > 0) {
      watcher.close();
      resolve();
    }
  });
}

const STACK_TRACE = /^\s+at .+\(.+:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;

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
        /quarantined +18 of 18 invalid records \(INFLATED_TOO_LARGE 2, INVALID_FHIR 6, NOT_A_RESOURCE 2, NOT_JSON 2, NOT_UTF8 2, UNSTORABLE 2, UNSUPPORTED_RESOURCE_TYPE 2\)/,
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

  test('--records 0 --invalid 0 waits for the processor to migrate the database and reports an empty run', async () => {
    const dir = runDir();
    let stdout = '';
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    });
    try {
      const options = parseOptions([
        '--records',
        '0',
        '--invalid',
        '0',
        '--shards',
        '1',
        '--dir',
        dir,
        '--outputs',
        join(dir, 'out.json'),
      ])!;
      const status = await main(options);
      write.mockRestore();
      expect(stdout).toContain('summary: OK');
      expect(stdout).toMatch(/persisted +0 of 0 valid records/);
      expect(status).toBe(0);
      expect(dataFolders(dir)).toEqual([]);
      expect(readdirSync(dir).sort()).toEqual(['out.json', 'processor.log']);
    } finally {
      write.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  describe('stopped from outside, it stops everything it started, removes its data and prints no stack trace', () => {
    test('Ctrl-C on npm run local -- --keep (the documented way to stop it): status 130', async () => {
      const dir = runDir();
      try {
        const run = launch(
          ['--keep', '--records', '20', '--invalid', '2', '--shards', '1', '--dir', dir, '--outputs', join(dir, 'out.json')],
          'npm',
        );
        await run.untilStdout('keeps running');
        expect(dataFolders(dir)).toHaveLength(1);
        run.signal('SIGINT');
        const result = await run.ended;
        // npm re-raises the signal its script ended by; a shell shows either as 130.
        expect(result.status ?? 128 + 2).toBe(130);
        expect(result.stderr).toContain('interrupted: stopping the processor, kinesalite and PostgreSQL, removing the local data');
        expect(result.stdout + result.stderr).not.toMatch(STACK_TRACE);
        expect(result.stderr).not.toContain('57P01');
        expect(result.groupAlive).toBe(false);
        expect(dataFolders(dir)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);

    test.each([
      ['Ctrl-C', 130, 'SIGINT'],
      ['a hang-up', 129, 'SIGHUP'],
    ] as const)(
      '%s during start-up, once the data folder exists: status %d',
      async (_name, status, signal) => {
        const dir = runDir();
        try {
          const run = launch(['--records', '20', '--dir', dir, '--outputs', join(dir, 'out.json')]);
          await untilDataFolder(dir);
          run.signal(signal);
          const result = await run.ended;
          expect(result).toMatchObject({ status, signal: null, groupAlive: false });
          expect(result.stdout + result.stderr).not.toMatch(STACK_TRACE);
          expect(dataFolders(dir)).toEqual([]);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
      120_000,
    );

    test('its output pipe closed after three lines (npm run local | head -3): status 141, as for SIGPIPE', async () => {
      const dir = runDir();
      try {
        const run = launch(['--records', '20', '--invalid', '2', '--shards', '1', '--dir', dir, '--outputs', join(dir, 'out.json')]);
        await run.untilStdout('[2/5]');
        // The reader goes away: every later write fails with EPIPE (the processor is being started by then).
        run.child.stdout!.destroy();
        const result = await run.ended;
        expect(result).toMatchObject({ status: 141, signal: null, groupAlive: false });
        expect(result.stderr).toContain(
          'output closed (EPIPE): stopping the processor, kinesalite and PostgreSQL, removing the local data',
        );
        expect(result.stderr).not.toMatch(STACK_TRACE);
        expect(dataFolders(dir)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  });

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
