import { existsSync } from 'fs';
import { join } from 'path';
import { formatRow, main, MUTATION_MODULES, reportPath, scoreOf } from '../../../scripts/checks/mutation';
import { UsageError } from '../../../scripts/shared/cli';

const ROOT = join(__dirname, '..', '..', '..');
const report = (statuses: string[]) => ({ files: { 'lib/x.ts': { mutants: statuses.map((status) => ({ status })) } } });

describe('npm run test:mutation', () => {
  test('every module under mutation testing and each of its test files exists', () => {
    const missing = MUTATION_MODULES.flatMap((m) => [m.module, ...m.tests]).filter((file) => !existsSync(join(ROOT, file)));
    expect(missing).toEqual([]);
    expect(new Set(MUTATION_MODULES.map((m) => m.module)).size).toBe(MUTATION_MODULES.length);
  });

  test('the score is killed and timed-out mutants over every tested or uncovered one; equivalent and non-compiling ones are left out', () => {
    const s = scoreOf(
      'lib/x.ts',
      report(['Killed', 'Killed', 'Killed', 'Timeout', 'Survived', 'NoCoverage', 'Ignored', 'CompileError', 'RuntimeError']),
    );
    expect(s).toEqual({
      module: 'lib/x.ts',
      mutants: 9,
      killed: 3,
      timeout: 1,
      survived: 1,
      noCoverage: 1,
      ignored: 1,
      errors: 2,
      score: (4 / 6) * 100,
    });
    expect(formatRow(s)).toBe('| `lib/x.ts` | 9 | 3 | 1 | 1 | 1 | 1 | 66.7% |');
    expect(formatRow(scoreOf('lib/y.ts', report(['Ignored'])))).toBe('| `lib/y.ts` | 1 | 0 | 0 | 0 | 0 | 1 | n/a |');
  });

  test('each module has its own report file', () => {
    expect(new Set(MUTATION_MODULES.map((m) => reportPath(m.module))).size).toBe(MUTATION_MODULES.length);
    expect(reportPath('lib/processor/records.ts')).toBe(join('reports', 'mutation', 'lib_processor_records_ts.json'));
  });

  test('a module not under mutation testing, or a threshold above 100, is a usage error naming the fix', async () => {
    await expect(main(['--module', 'lib/nowhere.ts'], ROOT, () => undefined)).rejects.toThrow(
      new UsageError(
        `--module lib/nowhere.ts is not under mutation testing: use one of ${MUTATION_MODULES.map((m) => m.module).join(', ')}`,
      ),
    );
    await expect(main(['--threshold', '101'], ROOT, () => undefined)).rejects.toThrow(
      '--threshold must be a percentage from 0 to 100, not 101',
    );
    await expect(main(['--concurrency', '0'], ROOT, () => undefined)).rejects.toBeInstanceOf(UsageError);
  });

  test('--help prints the usage and runs nothing', async () => {
    let out = '';
    await expect(main(['--help'], ROOT, (t) => (out += t))).resolves.toBe(0);
    expect(out).toMatch(/^usage: npm run test:mutation/);
  });
});
