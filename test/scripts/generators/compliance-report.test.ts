import { readFileSync } from 'fs';
import { UsageError } from '../../../scripts/shared/cli';
import { acknowledgedFindings, decisions, splitRule } from '../../../lib/compliance/findings-report';
import { REGISTER_PATH, parseReportArgs, renderReport } from '../../../scripts/generators/compliance-report';
import { referenceApp } from '../../../scripts/generators/reference-app';

describe('compliance register (docs/compliance.md)', () => {
  const { document, counts } = renderReport();
  const findings = acknowledgedFindings(referenceApp());

  test('docs/compliance.md is exactly the register of the code', () => {
    // If this fails after changing an acknowledgement: npm run compliance:report -- --write
    expect(readFileSync(REGISTER_PATH, 'utf8')).toBe(document);
  });

  test('every acknowledgement appears under its decision, with its resource and where it applies', () => {
    for (const f of findings) {
      const { rule, finding } = splitRule(f.rule);
      const at = document.indexOf(`\n${f.reason}\n`);
      expect([f.rule, f.reason, at > 0]).toEqual([f.rule, f.reason, true]);
      // The decision's heading names the rule, and its list names the resource with this stage or stack.
      const heading = document.lastIndexOf('\n### D', at);
      expect(document.slice(heading, at)).toContain(`\`${rule}\``);
      const list = document.slice(at, document.indexOf('\n### ', at + 1) >= 0 ? document.indexOf('\n### ', at + 1) : undefined);
      const line = list.split('\n').find((l) => l.startsWith(`- \`${f.stack}/${f.resource}\` (`));
      expect([f.rule, `${f.stack}/${f.resource}`, line !== undefined]).toEqual([f.rule, `${f.stack}/${f.resource}`, true]);
      expect(line).toContain(f.stage || f.stack);
      if (finding !== undefined) expect(line).toContain(`\`${finding.replace(/\|/g, '\\|')}\``);
    }
  });

  test('one decision per reason and part: HIPAA and NIST rules that share a reason are one decision', () => {
    const all = decisions(findings);
    expect(new Set(all.map((d) => `${d.section}|${d.reason}`)).size).toBe(all.length);
    const inline = all.find((d) => d.rules.has('IAMNoInlinePolicy') && d.section === 'tooling')!;
    expect([...inline.rules.get('IAMNoInlinePolicy')!].sort()).toEqual(['HIPAA.Security', 'NIST.800.53.R5']);
    // The pipeline's stages are environments: their findings are workload, never tooling.
    expect(
      all
        .filter((d) => d.section === 'tooling')
        .flatMap((d) => [...d.resources.keys()])
        .every((r) => /^(Pipeline|Previews|PreviewSandbox)\//.test(r)),
    ).toBe(true);
    expect(
      all
        .filter((d) => d.section === 'workload')
        .flatMap((d) => [...d.resources.values()].flatMap((v) => [...v.where]))
        .some((w) => w === 'dev'),
    ).toBe(true);
  });

  test('the counts per pack are the distinct (resource, rule) pairs, stated in the document', () => {
    const pairs = (pack: string) =>
      new Set(findings.filter((f) => splitRule(f.rule).pack === pack).map((f) => `${f.stack}/${f.resource}|${f.rule}`)).size;
    for (const pack of Object.keys(counts)) expect([pack, counts[pack]]).toEqual([pack, pairs(pack)]);
    expect(document).toContain(`\`AwsSolutions\` ${counts.AwsSolutions}`);
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
});
