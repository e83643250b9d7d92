import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { Writable } from 'stream';
import { ConfigError, EnvironmentError, InputError } from '../../../lib/contract';
import { isMissingCredentials, parseFlags, progressPrinter, runCli, UsageError } from '../../../scripts/shared/cli';
import { TS_HOOK } from '../../../scripts/shared/child';

const spec = {
  suffix: { type: 'string' },
  max: { type: 'integer', min: 1, default: 5 },
  yes: { type: 'boolean' },
} as const;

describe('parseFlags', () => {
  test('parses typed values and applies defaults', () => {
    expect(parseFlags(['--suffix', 'pr-1', '--yes'], spec)?.flags).toEqual({ suffix: 'pr-1', max: 5, yes: true });
    expect(parseFlags(['--max', '12'], spec)?.flags.max).toBe(12);
  });

  test.each([
    [['--max', 'abc'], '--max must be a whole number ≥ 1, not "abc"'],
    [['--max', '0'], '--max must be a whole number ≥ 1, not "0"'],
    [['--max', '1.5'], '--max must be a whole number ≥ 1, not "1.5"'],
    [['--record', '5'], "Unknown option '--record'"],
    [['--suffix'], "Option '--suffix <value>' argument missing"],
    [['--suffix', '--yes'], '--suffix needs a value (for one that starts with "-", write --suffix=<value>)'],
    [['--suffix='], '--suffix needs a value'],
    [['--max', '-5'], '--max needs a value (for one that starts with "-", write --max=<value>)'],
    [['--max=-5'], '--max must be a whole number ≥ 1, not "-5"'],
    [['stray'], "Unexpected argument 'stray'. This command does not take positional arguments"],
  ])('%j is a usage error: %s', (argv, message) => {
    let error: unknown;
    try {
      parseFlags(argv, spec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(message);
  });

  test('--help returns undefined instead of flags', () => {
    expect(parseFlags(['--help'], spec)).toBeUndefined();
    expect(parseFlags(['-h'], spec)).toBeUndefined();
  });
});

describe('isMissingCredentials', () => {
  test('recognises the SDK credential-chain failure and nothing else', () => {
    expect(
      isMissingCredentials(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' })),
    ).toBe(true);
    expect(isMissingCredentials(new Error('Rate exceeded'))).toBe(false);
  });
});

describe('runCli stops by the kind of error', () => {
  /** Runs a main that fails with `error`; resolves with the exit code once runCli exits, and what it wrote to stderr. */
  async function stop(error: unknown): Promise<{ code: number; stderr: string }> {
    const written: string[] = [];
    const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    // runCli exits once stdout is flushed; the flush completes here whatever stdout Jest gave this process.
    const flush = jest.spyOn(process.stdout, 'write').mockImplementation((...args: unknown[]) => {
      const done = args.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      done?.();
      return true;
    });
    let exited!: (code: number) => void;
    const code = new Promise<number>((resolve) => (exited = resolve));
    const exit = jest.spyOn(process, 'exit').mockImplementation(((c?: number) => exited(c ?? 0)) as () => never);
    try {
      runCli('demo', 'usage: demo --suffix S\n', () => Promise.reject(error));
      return { code: await code, stderr: written.join('') };
    } finally {
      exit.mockRestore();
      flush.mockRestore();
      write.mockRestore();
    }
  }

  test('a usage error: exit 2, its line, then the usage', async () => {
    expect(await stop(new UsageError('--suffix is required'))).toEqual({
      code: 2,
      stderr: 'demo: --suffix is required\nusage: demo --suffix S\n',
    });
  });

  test.each([
    [new InputError('outputs.json describes environment "dev", not "prod": pass the outputs of prod'), 1],
    [new ConfigError('stack x has no account: set the accounts in cdk.json'), 1],
    [new EnvironmentError('AWS_REGION must be a region code such as eu-west-2'), 2],
  ])('other bad input (%p): its exit code and its line, no usage and no stack', async (error, code) => {
    expect(await stop(error)).toEqual({ code, stderr: `demo: ${error.message}\n` });
  });

  test('every problem of one error is a line of its own', async () => {
    expect(await stop(new ConfigError(['a is wrong: set b', 'c is wrong: set d']))).toEqual({
      code: 1,
      stderr: 'demo: a is wrong: set b\ndemo: c is wrong: set d\n',
    });
  });

  test('any other failure: exit 1 and its message in one line, never the stack', async () => {
    const failure = new Error('no complete stacks named hipaa-fhir-<layer>-dev in eu-west-2');
    expect(failure.stack).toContain('\n    at ');
    expect(await stop(failure)).toEqual({ code: 1, stderr: 'demo: no complete stacks named hipaa-fhir-<layer>-dev in eu-west-2\n' });
  });
});

describe('progressPrinter', () => {
  function sink(isTTY: boolean) {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(String(chunk));
        cb();
      },
    }) as unknown as NodeJS.WriteStream;
    (stream as { isTTY?: boolean }).isTTY = isTTY;
    return { stream, text: () => chunks.join('') };
  }

  test('off a terminal it prints whole lines, never carriage returns, and the final state', () => {
    const out = sink(false);
    const p = progressPrinter(out.stream, 60_000);
    p.update('sent 1/3');
    p.update('sent 2/3');
    p.done('sent 3/3');
    expect(out.text()).toBe('sent 1/3\nsent 3/3\n');
  });

  test('off a terminal the final state is not printed twice', () => {
    const out = sink(false);
    const p = progressPrinter(out.stream, 60_000);
    p.update('persisted 0/0');
    p.done('persisted 0/0');
    expect(out.text()).toBe('persisted 0/0\n');
  });

  test('on a terminal it rewrites one line', () => {
    const out = sink(true);
    const p = progressPrinter(out.stream);
    p.update('a');
    p.update('b');
    p.done();
    expect(out.text()).toBe('\ra\rb\n');
  });
});

describe('usage lines', () => {
  const root = join(__dirname, '..', '..', '..');
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  // The npm scripts that run one of scripts/ with whatever flags follow `--`.
  const entries = Object.entries(scripts).flatMap(([name, command]) => {
    const file = /ts-node --transpile-only (scripts\/\S+\.ts)$/.exec(command)?.[1];
    return file ? [[name, file] as const] : [];
  });

  test('every npm script that runs a script is found', () => {
    expect(entries.map(([name]) => name)).toEqual(expect.arrayContaining(['local', 'bench', 'bench:validator', 'preview', 'redrive']));
  });

  test.each(entries)('npm run %s: its usage names the npm script, not the file', (name, file) => {
    expect(readFileSync(join(root, file), 'utf8')).toMatch(new RegExp(`usage: npm run ${name.replace(/[:]/g, '\\$&')}( |$)`, 'm'));
  });
});

describe('scripts refuse bad flags with exit 2 and usage, before touching anything', () => {
  const run = (script: string, args: string[]) =>
    spawnSync(process.execPath, [...TS_HOOK, script, ...args], {
      cwd: join(__dirname, '..', '..', '..'),
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });

  test.each([
    ['scripts/local/local.ts', ['--records', 'abc'], 'local: --records must be a whole number ≥ 0, not "abc"'],
    ['scripts/local/produce.ts', ['--records', '10'], 'produce: --stream is required'],
    ['scripts/checks/integ-local.ts', ['--fast'], "integ-local: Unknown option '--fast'"],
    ['scripts/local/postgres-server.ts', ['--dir', 'x'], 'postgres-server: --port is required'],
    ['scripts/local/postgres-server.ts', ['--dir', 'x', '--port', '70000'], 'postgres-server: --port must be at most 65535, not 70000'],
    ['scripts/bench/validator.ts', ['--fast'], "bench:validator: Unknown option '--fast'"],
    ['scripts/bench/validator.ts', ['--runs', '0'], 'bench:validator: --runs must be a whole number ≥ 1, not "0"'],
    ['scripts/bench/validator.ts', ['--corpus', 'all'], 'bench:validator: --corpus must be official or fixtures, not "all"'],
    ['scripts/bench/throughput.ts', ['--fast'], "bench: Unknown option '--fast'"],
    ['scripts/generators/generate-fhir-r4.ts', ['--chek'], "generate-fhir-r4: Unknown option '--chek'"],
  ])('%s %j', (script, args, line) => {
    const result = run(script, args);
    expect(result.status).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe(line);
    expect(result.stderr).toContain('usage:');
    expect(result.stdout).toBe('');
  });

  test('npm run bench:validator -- --help prints its usage, naming the npm script, and exits 0 without measuring', () => {
    const npm = join(dirname(process.execPath), 'npm');
    const result = spawnSync(existsSync(npm) ? npm : 'npm', ['run', '--silent', 'bench:validator', '--', '--help'], {
      cwd: join(__dirname, '..', '..', '..'),
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe(
      'usage: npm run bench:validator -- [--corpus official|fixtures] [--runs 7] [--min-ms 400] [--ajv] [--medplum]',
    );
    expect(result.stdout).not.toContain('corpus:');
  }, 60_000);

  test('postgres-server refuses a --template that is not a stopped cluster, in one line, and creates nothing', () => {
    const parent = mkdtempSync(join(tmpdir(), 'not-a-cluster-'));
    try {
      const dir = join(parent, 'data');
      const result = run('scripts/local/postgres-server.ts', ['--dir', dir, '--port', '55999', '--template', parent]);
      expect(result.status).toBe(1);
      expect(result.stderr).toBe(`postgres-server: --template ${parent} is not a PostgreSQL data folder\n`);
      expect(existsSync(dir)).toBe(false);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
