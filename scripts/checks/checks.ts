/**
 * `npm run checks`: ESLint, the Prettier check and `tsc --noEmit`, run at the same time. They read the same
 * files and share nothing else, so together they take about as long as the slowest one. Each check's output is
 * printed whole when it ends, never interleaved with another's; the exit status is 1 when any failed, with one
 * line naming each that did.
 *
 * `npm test` runs them `--with test:unit`: Jest runs at the same time, its output live, and the checks at a
 * lower CPU priority, so they take the CPU Jest leaves idle while its suites wait on child processes and
 * timers (docs/testing.md has the measurement).
 */
import { spawn } from 'child_process';
import { setPriority } from 'os';
import { join } from 'path';
import { parseFlags, runCli } from '../shared/cli';

export interface Check {
  /** The npm script it runs. */
  readonly script: string;
  /** What it checks, for the summary line. */
  readonly what: string;
}

export const CHECKS: readonly Check[] = [
  { script: 'lint', what: 'ESLint' },
  { script: 'format:check', what: 'Prettier' },
  { script: 'typecheck', what: 'tsc --noEmit' },
];

export interface Outcome {
  readonly code: number;
  readonly output: string;
}

/** The command line of `npm run <args>`: under npm, npm_execpath is the npm that started us, and the same one runs it. */
function npmRun(args: readonly string[]): [string, string[]] {
  const npm = process.env.npm_execpath;
  return npm ? [process.execPath, [npm, 'run', ...args]] : ['npm', ['run', ...args]];
}

/**
 * Runs `npm run -s <script>` (in `cwd`'s package) and collects its stdout and stderr in the order they came.
 * ESLint and tsc turn on Node's compile cache, which by default writes `node-compile-cache` into the system temp
 * directory and leaves it there: unless NODE_COMPILE_CACHE says where, it goes under node_modules/.cache with
 * the checks' other caches.
 */
export function runScript(script: string, cwd = process.cwd(), options: { lowPriority?: boolean } = {}): Promise<Outcome> {
  const [command, args] = npmRun(['-s', script]);
  const env = {
    ...process.env,
    NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(cwd, 'node_modules', '.cache', 'node-compile-cache'),
  };
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Niceness is inherited: ESLint, Prettier and tsc yield the CPU to whatever runs alongside (--with).
    if (options.lowPriority && child.pid !== undefined) {
      try {
        setPriority(child.pid, 10);
      } catch {
        // Not permitted here: the check runs at normal priority.
      }
    }
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (error) => resolve({ code: 1, output: `${output}${error.message}\n` }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

/** Runs every check at once; prints each one's output as it ends, then which failed. Returns the exit status. */
export async function runChecks(
  checks: readonly Check[] = CHECKS,
  run: (script: string) => Promise<Outcome> = runScript,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<number> {
  const started = Date.now();
  const failed: Check[] = [];
  await Promise.all(
    checks.map(async (check) => {
      const { code, output } = await run(check.script);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (code !== 0) failed.push(check);
      write(`${code === 0 ? 'ok    ' : 'FAILED'} ${check.what} (npm run ${check.script}, ${seconds} s)\n`);
      if (output.trim() !== '') write(output.replace(/\n?$/, '\n'));
    }),
  );
  for (const check of failed) write(`checks: ${check.what} failed: run npm run ${check.script} to see it alone\n`);
  return failed.length === 0 ? 0 : 1;
}

/** Runs `npm run <script>` with this process's standard streams (its output live); resolves with its exit status. */
export function runLive(script: string, cwd = process.cwd()): Promise<number> {
  const [command, args] = npmRun([script]);
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: 'inherit' });
    child.on('error', () => resolve(1));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** The checks and another script at the same time; 1 when either failed, with a line naming the script if it did. */
export async function runWith(
  script: string,
  alongside: () => Promise<number>,
  checks: () => Promise<number>,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<number> {
  const [other, own] = await Promise.all([alongside(), checks()]);
  if (other !== 0) write(`checks: npm run ${script} failed (exit ${other})\n`);
  return other === 0 && own === 0 ? 0 : 1;
}

const USAGE = `usage: npm run checks [-- --with SCRIPT]
  ESLint, the Prettier check and tsc --noEmit at once; --with runs npm script SCRIPT at the same time (its output
  live, the checks at a lower CPU priority) and fails when it fails`;

export async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseFlags(argv, { with: { type: 'string' } });
  if (!parsed) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const script = parsed.flags.with;
  if (script === undefined) return runChecks();
  return runWith(
    script,
    () => runLive(script),
    () => runChecks(CHECKS, (check) => runScript(check, process.cwd(), { lowPriority: true })),
  );
}

if (require.main === module) runCli('checks', USAGE, () => main(process.argv.slice(2)));
