import { readFileSync } from 'fs';
import { join } from 'path';
import { readmeTable, renderReport } from '../../scripts/compliance-report';

describe('compliance report', () => {
  const { table, counts } = renderReport();

  test('the README lists exactly the acknowledged findings, with their reasons', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    // If this fails after changing an acknowledgement: npm run compliance:report -- --write
    expect(readmeTable(readme)).toBe(table);
  });

  test('each row names a rule, a resource, where it applies and a reason', () => {
    const rows = table.split('\n').slice(2);
    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows) expect(row).toMatch(/^\| `[^`]+` \| `[A-Za-z]+\/[^`]+` \| [a-zA-Z, -]+ \| .{40,} \|$/);
  });

  test('counts cover every pack', () => {
    expect(counts['HIPAA.Security']).toBeGreaterThan(0);
    expect(counts['NIST.800.53.R5']).toBeGreaterThan(0);
    expect(counts.AwsSolutions).toBeGreaterThan(0);
  });

  test('a README without the markers has no table', () => {
    expect(readmeTable('# nothing here')).toBeUndefined();
  });
});
