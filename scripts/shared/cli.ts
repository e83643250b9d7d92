/**
 * Flag parsing and exit codes shared by the scripts: strict (unknown flags, missing values and
 * non-numbers are usage errors, exit 2, with the usage text), and one line per failure.
 */
import { parseArgs } from 'util';
import { InputError, UsageError } from '../../lib/contract/errors';

// The scripts' flag errors are the contract's; re-exported so each script imports its CLI kit from one place.
export { InputError, UsageError };

export interface FlagSpec {
  readonly type: 'string' | 'boolean' | 'integer';
  /** For integers: the smallest accepted value. @default 0 */
  readonly min?: number;
  readonly default?: string | boolean | number;
}

type Parsed<S extends Record<string, FlagSpec>> = {
  [K in keyof S]: S[K]['type'] extends 'boolean'
    ? boolean
    : S[K]['type'] extends 'integer'
      ? S[K] extends { default: number }
        ? number
        : number | undefined
      : S[K] extends { default: string }
        ? string
        : string | undefined;
};

/** Parses `argv` against `spec`; `--help` returns undefined (the caller prints usage and exits 0). */
export function parseFlags<S extends Record<string, FlagSpec>>(
  argv: readonly string[],
  spec: S,
  options: { positionals?: boolean } = {},
): { flags: Parsed<S>; positionals: string[] } | undefined {
  const config = Object.fromEntries(
    Object.entries(spec).map(([name, s]) => [name, { type: s.type === 'boolean' ? ('boolean' as const) : ('string' as const) }]),
  );
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: { ...config, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: options.positionals ?? false,
    }));
  } catch (error) {
    const first = (error as Error).message.split('\n')[0].replace(/\.$/, '');
    // Node calls a flag followed by a dash-led token (`--suffix --yes`, `--records -5`) ambiguous.
    const ambiguous = /^Option '--([\w-]+)' argument is ambiguous$/.exec(first);
    if (ambiguous) throw new UsageError(`--${ambiguous[1]} needs a value (for one that starts with "-", write --${ambiguous[1]}=<value>)`);
    // Node's other messages name the flag; keep their first sentence only.
    throw new UsageError(first);
  }
  if (values.help) return undefined;
  const flags: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(spec)) {
    const raw = values[name];
    if (raw === undefined) {
      flags[name] = s.default ?? (s.type === 'boolean' ? false : undefined);
      continue;
    }
    if (s.type === 'string' && typeof raw === 'string' && (raw === '' || raw.startsWith('--')))
      throw new UsageError(`--${name} needs a value`);
    if (s.type === 'integer') {
      const text = String(raw);
      const min = s.min ?? 0;
      if (!/^-?\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text)))
        throw new UsageError(`--${name} must be a whole number ≥ ${min}, not "${text}"`);
      flags[name] = Number(text);
    } else flags[name] = raw;
  }
  return { flags: flags as Parsed<S>, positionals };
}

/** True when an AWS SDK error means "no credentials could be found". */
export function isMissingCredentials(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return e?.name === 'CredentialsProviderError' || /Could not load credentials|Unable to locate credentials/.test(e?.message ?? '');
}

/**
 * Runs a script's main: exit 2 with usage on a usage error, the error's exit code with one line per
 * problem on any other bad input, exit 1 with one line on any other failure (never a stack trace),
 * and never cuts piped output short.
 */
export function runCli(name: string, usage: string, main: () => Promise<number>): void {
  const exit = (code: number) => {
    // A reader that went away (`| head`) makes this flush fail: exit with the status all the same, not a stack trace.
    process.stdout.once('error', () => process.exit(code));
    process.stdout.write('', () => process.exit(code));
  };
  main().then(exit, (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${name}: ${error.message}\n${usage.trimEnd()}\n`);
      exit(error.exitCode);
    } else if (error instanceof InputError) {
      process.stderr.write(error.problems.map((problem) => `${name}: ${problem}\n`).join(''));
      exit(error.exitCode);
    } else if (isMissingCredentials(error)) {
      process.stderr.write(
        `${name}: no AWS credentials found: set AWS_PROFILE (after aws sso login) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run inside the pipeline's CodeBuild role\n`,
      );
      exit(1);
    } else {
      process.stderr.write(`${name}: ${(error as Error)?.message ?? String(error)}\n`);
      exit(1);
    }
  });
}

/** Progress on one line: `\r` rewrites on a terminal; in CI and logs, whole lines at most every `everyMs`. */
export function progressPrinter(
  stream: NodeJS.WriteStream = process.stdout,
  everyMs = 2_000,
): { update(line: string): void; done(line?: string): void } {
  let last = 0;
  let pending: string | undefined;
  // In a log, the final line is not repeated when it was the last one printed.
  let printed: string | undefined;
  return {
    update(line: string) {
      if (stream.isTTY) {
        stream.write(`\r${line}`);
        return;
      }
      pending = line;
      const now = Date.now();
      if (now - last >= everyMs) {
        stream.write(`${line}\n`);
        last = now;
        printed = line;
        pending = undefined;
      }
    },
    done(line?: string) {
      const final = line ?? pending;
      if (stream.isTTY) stream.write(final !== undefined ? `\r${final}\n` : '\n');
      else if (final !== undefined && final !== printed) stream.write(`${final}\n`);
      pending = undefined;
    },
  };
}
