import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Check, main, Outcome, runChecks, runLive, runScript, runWith } from '../../../scripts/checks/checks';

const CHECKS: Check[] = [
  { script: 'a', what: 'Alpha' },
  { script: 'b', what: 'Beta' },
  { script: 'c', what: 'Gamma' },
];

/** Fake scripts that end in the order the test releases them, so nothing depends on timing. */
function controlled(outcomes: Record<string, Outcome>) {
  const releases = new Map<string, () => void>();
  const started: string[] = [];
  const run = (script: string) =>
    new Promise<Outcome>((resolve) => {
      started.push(script);
      releases.set(script, () => resolve(outcomes[script]));
    });
  return { run, started, release: (script: string) => releases.get(script)!() };
}

describe('npm run checks', () => {
  test('starts every check before any ends, prints each one whole as it ends, and fails naming each that failed', async () => {
    const fake = controlled({
      a: { code: 0, output: '' },
      b: { code: 1, output: 'b.ts:1:1 error one\nb.ts:2:1 error two' },
      c: { code: 2, output: 'c.ts(3,4): error TS2322\n' },
    });
    const out: string[] = [];
    const done = runChecks(CHECKS, fake.run, (t) => out.push(t));
    await Promise.resolve();
    expect(fake.started).toEqual(['a', 'b', 'c']);
    fake.release('c');
    fake.release('a');
    fake.release('b');
    expect(await done).toBe(1);
    const text = out.join('');
    expect(text.split('\n').map((l) => l.replace(/, [\d.]+ s\)/, ')'))).toEqual([
      'FAILED Gamma (npm run c)',
      'c.ts(3,4): error TS2322',
      'ok     Alpha (npm run a)',
      'FAILED Beta (npm run b)',
      'b.ts:1:1 error one',
      'b.ts:2:1 error two',
      'checks: Gamma failed: run npm run c to see it alone',
      'checks: Beta failed: run npm run b to see it alone',
      '',
    ]);
  });

  test('all passing: 0, one line each, and what a passing check printed', async () => {
    const fake = controlled({ a: { code: 0, output: 'All matched files use Prettier code style!\n' }, b: { code: 0, output: '' } });
    const out: string[] = [];
    const done = runChecks(CHECKS.slice(0, 2), fake.run, (t) => out.push(t));
    await Promise.resolve();
    fake.release('b');
    fake.release('a');
    expect(await done).toBe(0);
    expect(out.join('').replace(/, [\d.]+ s\)/g, ')')).toBe(
      'ok     Beta (npm run b)\nok     Alpha (npm run a)\nAll matched files use Prettier code style!\n',
    );
  });

  test('runScript runs a real npm script: its exit status and its output, stdout and stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'checks-'));
    try {
      const scripts = {
        good: 'node -e "console.log(1)"',
        bad: 'node -e "console.log(2); console.error(3); process.exit(3)"',
      };
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fake', version: '1.0.0', scripts }));
      expect(await runScript('good', dir)).toEqual({ code: 0, output: '1\n' });
      const bad = await runScript('bad', dir);
      expect(bad.code).toBe(3);
      expect(bad.output.split('\n').sort()).toEqual(['', '2', '3']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("runScript keeps ESLint's and tsc's compile cache out of the temp directory: under node_modules/.cache unless NODE_COMPILE_CACHE says where", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'checks-'));
    const saved = process.env.NODE_COMPILE_CACHE;
    try {
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ name: 'fake', version: '1.0.0', scripts: { where: 'node -e "console.log(process.env.NODE_COMPILE_CACHE)"' } }),
      );
      delete process.env.NODE_COMPILE_CACHE;
      expect(await runScript('where', dir)).toEqual({ code: 0, output: `${join(dir, 'node_modules', '.cache', 'node-compile-cache')}\n` });
      process.env.NODE_COMPILE_CACHE = join(dir, 'elsewhere');
      expect(await runScript('where', dir)).toEqual({ code: 0, output: `${join(dir, 'elsewhere')}\n` });
    } finally {
      if (saved === undefined) delete process.env.NODE_COMPILE_CACHE;
      else process.env.NODE_COMPILE_CACHE = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test('--with: the other script and the checks run at the same time; 1 naming the script when it failed, 1 when a check did', async () => {
    for (const [other, own, expected, lines] of [
      [0, 0, 0, []],
      [3, 0, 1, ['checks: npm run test:unit failed (exit 3)\n']],
      [0, 1, 1, []],
    ] as const) {
      const events: string[] = [];
      let endOther: (code: number) => void = () => undefined;
      let endOwn: (code: number) => void = () => undefined;
      const out: string[] = [];
      const done = runWith(
        'test:unit',
        () => new Promise<number>((resolve) => (events.push('other started'), (endOther = resolve))),
        () => new Promise<number>((resolve) => (events.push('checks started'), (endOwn = resolve))),
        (t) => out.push(t),
      );
      // Both have started before either ends.
      expect(events).toEqual(['other started', 'checks started']);
      endOwn(own);
      endOther(other);
      expect(await done).toBe(expected);
      expect(out).toEqual(lines);
    }
  });

  test('runScript can start a check at a lower CPU priority, which its own children inherit; runLive relays the exit status', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'checks-'));
    try {
      // The niceness of the node process npm starts for the script (a grandchild of runScript's child).
      const nice = 'node -e "console.log(require(\'os\').getPriority())"';
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ name: 'fake', version: '1.0.0', scripts: { nice, fail: 'node -e "process.exit(4)"' } }),
      );
      const base = Number((await runScript('nice', dir)).output.trim());
      expect(Number((await runScript('nice', dir, { lowPriority: true })).output.trim())).toBe(Math.min(base + 10, 19));
      expect(await runLive('fail', dir)).toBe(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test('flags: --help prints the usage; anything else is a usage error', async () => {
    const log = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await main(['--help'])).toBe(0);
      expect(String(log.mock.calls[0][0])).toMatch(/^usage: npm run checks/);
    } finally {
      log.mockRestore();
    }
    await expect(main(['--fast'])).rejects.toThrow("Unknown option '--fast'");
  });
});
