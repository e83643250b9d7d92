/**
 * Prints every acknowledged compliance finding as a Markdown table (docs/compliance.md) and
 * the count per rule pack, for a reference app with one stage per configuration that changes
 * the findings: development (shared trail), development with a dedicated trail, production,
 * the shared trail stack, a preview environment (with its deploy-time cap), and the pipeline
 * (with its dev and prod stages).
 *
 *   npx ts-node --transpile-only scripts/compliance-report.ts            print the table and counts
 *   npx ts-node --transpile-only scripts/compliance-report.ts --check    exit 1 if docs/compliance.md is out of date
 *   npx ts-node --transpile-only scripts/compliance-report.ts --write    rewrite the table in docs/compliance.md
 */
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { acknowledgedFindings, countByPack, findingsTable } from '../lib/compliance/findings-report';
import { referenceApp } from '../test/helpers/reference-app';
import { parseFlags, runCli, UsageError } from './cli';

export const USAGE = `usage: compliance-report.ts [--check | --write]
  (no flag)   print the acknowledged-findings table and the count per rule pack
  --check     exit 1 if docs/compliance.md is out of date
  --write     rewrite the table in docs/compliance.md`;

/** Strict flags; undefined means --help. */
export function parseReportArgs(argv: readonly string[]): { mode: 'print' | 'check' | 'write' } | undefined {
  const parsed = parseFlags(argv, { check: { type: 'boolean' }, write: { type: 'boolean' } });
  if (!parsed) return undefined;
  const { check, write } = parsed.flags;
  if (check && write) throw new UsageError('use either --check or --write, not both');
  return { mode: check ? 'check' : write ? 'write' : 'print' };
}

export const README_START = '<!-- acknowledged-findings:start -->';
export const README_END = '<!-- acknowledged-findings:end -->';

export function renderReport(): { table: string; counts: Record<string, number> } {
  const findings = acknowledgedFindings(referenceApp());
  return { table: findingsTable(findings), counts: countByPack(findings) };
}

/** The README section between the markers, or undefined when the markers are missing. */
export function readmeTable(readme: string): string | undefined {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) return undefined;
  return readme.slice(start + README_START.length, end).trim();
}

function main(argv: string[]): number {
  const options = parseReportArgs(argv);
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const { table, counts } = renderReport();
  const readmePath = join(__dirname, '..', 'docs', 'compliance.md');
  if (options.mode !== 'print') {
    const readme = readFileSync(readmePath, 'utf8');
    const current = readmeTable(readme);
    if (current === undefined) {
      console.error(`docs/compliance.md has no ${README_START} ... ${README_END} section`);
      return 1;
    }
    if (options.mode === 'write') {
      const start = readme.indexOf(README_START) + README_START.length;
      writeFileSync(readmePath, `${readme.slice(0, start)}\n${table}\n${readme.slice(readme.indexOf(README_END))}`);
      console.log('docs/compliance.md findings table updated');
      return 0;
    }
    if (current !== table) {
      console.error('docs/compliance.md is out of date: run npm run compliance:report -- --write');
      return 1;
    }
    console.log('docs/compliance.md is up to date');
    return 0;
  }
  console.log(table);
  console.log();
  for (const [pack, count] of Object.entries(counts).sort()) console.log(`${pack}: ${count} acknowledged`);
  return 0;
}

if (require.main === module) runCli('compliance-report', USAGE, async () => main(process.argv.slice(2)));
