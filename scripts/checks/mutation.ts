/**
 * `npm run test:mutation`: StrykerJS over the processor's core and the configuration, one module at a time
 * against the test files that exercise it (a whole-suite run per mutant would take hours), printing each
 * module's figures and failing when any scores below the threshold. Too slow for `npm test`: the pipeline
 * runs it as its own step (lib/pipeline), and CONTRIBUTING says when to run it by hand.
 *
 * The score is Stryker's: killed and timed-out mutants over every mutant that was tested or had no test
 * reaching it. Mutants marked equivalent with a `// Stryker disable` comment (each with its reason) and
 * mutants that do not compile are left out.
 */
import { spawn } from 'child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'fs';
import { join } from 'path';
import { parseFlags, runCli, UsageError } from '../shared/cli';

export interface MutationModule {
  /** The source file Stryker mutates. */
  readonly module: string;
  /** The test files whose tests exercise it (Stryker runs only these). */
  readonly tests: readonly string[];
}

/**
 * Every module under mutation testing, with the test files that exercise it. A module that takes the place of
 * one of these after a redesign, or a new module of the processor's core, is added here.
 */
export const MUTATION_MODULES: readonly MutationModule[] = [
  {
    module: 'lib/processor/records.ts',
    tests: ['test/lib/processor/records.test.ts', 'test/lib/processor/batch-order.test.ts'],
  },
  {
    module: 'lib/processor/fhir/validate.ts',
    // The rules' tests, not validate-corpus.test.ts: its corpus and fuzz tests reach every mutant and would run for each.
    tests: [
      'test/lib/processor/fhir/validate.test.ts',
      'test/lib/processor/fhir/record-acceptance.test.ts',
      'test/lib/processor/fhir/exact-json.test.ts',
    ],
  },
  {
    module: 'lib/processor/fhir/patient.ts',
    tests: [
      'test/lib/processor/fhir/validate.test.ts',
      'test/lib/processor/fhir/validate-corpus.test.ts',
      'test/lib/processor/fhir/record-acceptance.test.ts',
    ],
  },
  {
    module: 'lib/processor/fhir/structure.ts',
    tests: [
      'test/lib/processor/fhir/validate.test.ts',
      'test/lib/processor/fhir/structure-rules.test.ts',
      'test/lib/processor/fhir/invariants.test.ts',
    ],
  },
  {
    module: 'lib/config/environment-config.ts',
    tests: ['test/lib/config/environment-config.test.ts', 'test/lib/config/resolve-app.test.ts', 'test/lib/config/config-refusals.test.ts'],
  },
  {
    module: 'lib/config/resolve-app.ts',
    tests: ['test/lib/config/resolve-app.test.ts', 'test/lib/config/config-refusals.test.ts'],
  },
  {
    module: 'lib/processor/db/persist.ts',
    tests: ['test/component/persist.test.ts', 'test/component/exactly-once.test.ts'],
  },
  {
    module: 'lib/processor/db/write.ts',
    tests: ['test/lib/processor/db/write.test.ts', 'test/component/persist.test.ts', 'test/component/exactly-once.test.ts'],
  },
];

export const DEFAULT_THRESHOLD = 90;

/** The figures of one module, from Stryker's JSON report. */
export interface ModuleScore {
  readonly module: string;
  readonly mutants: number;
  readonly killed: number;
  readonly timeout: number;
  readonly survived: number;
  readonly noCoverage: number;
  /** Marked equivalent with a Stryker disable comment. */
  readonly ignored: number;
  /** Did not compile or crashed the run: not counted. */
  readonly errors: number;
  /** Percentage; NaN when no mutant was tested. */
  readonly score: number;
}

interface Report {
  readonly files: Record<string, { readonly mutants: readonly { readonly status: string }[] }>;
}

/** The figures of `module` in a mutation-testing-report-schema report. */
export function scoreOf(module: string, report: Report): ModuleScore {
  const count = (status: string) =>
    Object.values(report.files)
      .flatMap((file) => file.mutants)
      .filter((m) => m.status === status).length;
  const killed = count('Killed');
  const timeout = count('Timeout');
  const survived = count('Survived');
  const noCoverage = count('NoCoverage');
  const ignored = count('Ignored');
  const errors = count('CompileError') + count('RuntimeError');
  const valid = killed + timeout + survived + noCoverage;
  return {
    module,
    mutants: valid + ignored + errors,
    killed,
    timeout,
    survived,
    noCoverage,
    ignored,
    errors,
    score: valid === 0 ? NaN : ((killed + timeout) / valid) * 100,
  };
}

const HEADER = '| module | mutants | killed | timeout | survived | no coverage | equivalent | score |';

export function formatRow(s: ModuleScore): string {
  return `| \`${s.module}\` | ${s.mutants} | ${s.killed} | ${s.timeout} | ${s.survived} | ${s.noCoverage} | ${s.ignored} | ${Number.isNaN(s.score) ? 'n/a' : `${s.score.toFixed(1)}%`} |`;
}

/** The report file of one module. */
export const reportPath = (module: string): string => join('reports', 'mutation', `${module.replace(/[/.]/g, '_')}.json`);

/** Runs Stryker for one module; resolves with its exit status. */
function runStryker(m: MutationModule, concurrency: number, cwd: string): Promise<number> {
  const stryker = join(cwd, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
  const env = {
    ...process.env,
    MUTATION_TEST_FILES: m.tests.join(','),
    MUTATION_REPORT: reportPath(m.module),
    MUTATION_CONCURRENCY: String(concurrency),
  };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [stryker, 'run', 'stryker.config.mjs', '--mutate', m.module], { cwd, env, stdio: 'inherit' });
    child.on('error', () => resolve(1));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const USAGE = `usage: npm run test:mutation [-- --module PATH] [--concurrency N] [--threshold PERCENT]
  StrykerJS over each module of MUTATION_MODULES (scripts/checks/mutation.ts) against its own test files, one module
  after another; prints every module's figures and fails when any scores below the threshold (default ${DEFAULT_THRESHOLD}).
  --module runs one module only (its path, e.g. lib/processor/records.ts); --concurrency is Stryker's number of test
  processes (default 2)`;

export async function main(
  argv: readonly string[],
  cwd = process.cwd(),
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<number> {
  const parsed = parseFlags(argv, {
    module: { type: 'string' },
    concurrency: { type: 'integer', min: 1, default: 2 },
    threshold: { type: 'integer', min: 0, default: DEFAULT_THRESHOLD },
  });
  if (!parsed) {
    write(`${USAGE}\n`);
    return 0;
  }
  const { module, concurrency, threshold } = parsed.flags;
  if (threshold > 100) throw new UsageError(`--threshold must be a percentage from 0 to 100, not ${threshold}`);
  const modules = module === undefined ? MUTATION_MODULES : MUTATION_MODULES.filter((m) => m.module === module);
  if (modules.length === 0)
    throw new UsageError(
      `--module ${module} is not under mutation testing: use one of ${MUTATION_MODULES.map((m) => m.module).join(', ')}`,
    );
  for (const m of modules)
    for (const file of [m.module, ...m.tests])
      if (!existsSync(join(cwd, file)))
        throw new Error(`${file} (mutation testing of ${m.module}) does not exist: update MUTATION_MODULES in scripts/checks/mutation.ts`);

  const started = Date.now();
  const scores: ModuleScore[] = [];
  const crashed: string[] = [];
  for (const m of modules) {
    const report = join(cwd, reportPath(m.module));
    rmSync(report, { force: true });
    mkdirSync(join(cwd, 'reports', 'mutation'), { recursive: true });
    write(`mutation: ${m.module} against ${m.tests.join(', ')}\n`);
    const code = await runStryker(m, concurrency, cwd);
    if (code !== 0 || !existsSync(report)) {
      crashed.push(m.module);
      continue;
    }
    scores.push(scoreOf(m.module, JSON.parse(readFileSync(report, 'utf8')) as Report));
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  write(`\n${HEADER}\n| --- | --- | --- | --- | --- | --- | --- | --- |\n${scores.map(formatRow).join('\n')}\n\n`);
  write(`mutation: ${modules.length} module(s) in ${minutes} min at concurrency ${concurrency}\n`);
  const below = scores.filter((s) => !(s.score >= threshold));
  for (const s of below)
    write(
      `mutation: ${s.module} scores ${Number.isNaN(s.score) ? 'n/a' : `${s.score.toFixed(1)}%`}, below ${threshold}%: kill its survivors (reports/mutation has them) or mark true equivalents\n`,
    );
  for (const m of crashed) write(`mutation: Stryker failed on ${m} before it had a score: its output above says why\n`);
  return below.length === 0 && crashed.length === 0 ? 0 : 1;
}

if (require.main === module) runCli('mutation', USAGE, () => main(process.argv.slice(2)));
