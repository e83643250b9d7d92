import { readFileSync } from 'fs';
import { join } from 'path';
import { UsageError } from '../../scripts/cli';
import { parseReportArgs, readmeTable, renderReport } from '../../scripts/compliance-report';

describe('compliance report', () => {
  const { table, counts } = renderReport();

  test('docs/compliance.md lists exactly the acknowledged findings, with their reasons', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'docs', 'compliance.md'), 'utf8');
    // If this fails after changing an acknowledgement: npm run compliance:report -- --write
    expect(readmeTable(readme)).toBe(table);
  });

  test('each row names a rule, a resource, where it applies and a reason', () => {
    const rows = table.split('\n').slice(2);
    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows) expect(row).toMatch(/^\| `[^`]+` \| `[A-Za-z]+\/[^`]+` \| [a-zA-Z, -]+ \| .{40,} \|$/);
  });

  test('counts per pack are the table\'s rows of that pack, and cover every pack', () => {
    // One row per distinct (rule, resource), as counted; the pack is the rule id's prefix.
    const fromRows: Record<string, number> = {};
    for (const row of table.split('\n').slice(2)) {
      const pack = /^\| `(AwsSolutions|HIPAA\.Security|NIST\.800\.53\.R5|CloudFormation-Validate)/.exec(row)?.[1];
      if (!pack) throw new Error(`row of no known pack: ${row}`);
      fromRows[pack] = (fromRows[pack] ?? 0) + 1;
    }
    expect(counts).toEqual(fromRows);
    expect(Object.keys(counts).sort()).toEqual(expect.arrayContaining(['AwsSolutions', 'HIPAA.Security', 'NIST.800.53.R5']));
  });

  test.each([
    [['--chek'], "Unknown option '--chek'"],
    [['--check', '--write'], 'use either --check or --write, not both'],
    [['README.md'], "Unexpected argument 'README.md'. This command does not take positional arguments"],
  ])('flags %j: %s', (argv, message) => {
    expect(() => parseReportArgs(argv)).toThrow(UsageError);
    expect(() => parseReportArgs(argv)).toThrow(message);
  });

  test('flags: print, check, write, help', () => {
    expect(parseReportArgs([])).toEqual({ mode: 'print' });
    expect(parseReportArgs(['--check'])).toEqual({ mode: 'check' });
    expect(parseReportArgs(['--write'])).toEqual({ mode: 'write' });
    expect(parseReportArgs(['--help'])).toBeUndefined();
  });

  test('a README without the markers has no table', () => {
    expect(readmeTable('# nothing here')).toBeUndefined();
  });
});
