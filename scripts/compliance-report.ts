/**
 * Prints every acknowledged compliance finding as a Markdown table (docs/compliance.md) and
 * the count per rule pack, for a reference app with one stage per configuration that changes
 * the findings: ephemeral (shared trail), ephemeral with a dedicated trail, production,
 * the shared trail stack, a per-branch environment (with its deploy-time cap), and the pipeline
 * (with its dev and prod stages).
 *
 *   npx ts-node --transpile-only scripts/compliance-report.ts            print the table and counts
 *   npx ts-node --transpile-only scripts/compliance-report.ts --check    exit 1 if docs/compliance.md is out of date
 *   npx ts-node --transpile-only scripts/compliance-report.ts --write    rewrite the table in docs/compliance.md
 */
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { App } from 'aws-cdk-lib';
import { acknowledgedFindings, countByPack, findingsTable } from '../lib/compliance/findings-report';
import { EphemeralConfig, Naming, parseEnvironmentConfig, parseEphemeralConfig, parsePipelineConfig, PipelineConfig, SHARED_SUFFIX, suffixFromBranch } from '../lib/config';
import { EphemeralEnvironmentsStack } from '../lib/pipeline/ephemeral-environments-stack';
import { EphemeralSandboxStack } from '../lib/pipeline/ephemeral-sandbox-stack';
import { PipelineStack } from '../lib/pipeline/pipeline-stack';
import { SharedTrailStack } from '../lib/stacks/shared-trail-stack';
import { PipelineAppStage } from '../stages/pipeline-app-stage';
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

/** The pipeline of the reference app: a dev (ephemeral) and a prod (production) environment. */
/**
 * The reference pipeline: the three-account layout of cdk.json (tooling 111111111111, non-production
 * 222222222222, production 333333333333), or all in the tooling account with `sameAccount`.
 */
export function referencePipelineConfig(overrides: Record<string, unknown> = {}, options: { sameAccount?: boolean } = {}): PipelineConfig {
  const account = (id: string) => (options.sameAccount ? {} : { account: id });
  const environments = [
    parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: 'dev', profile: 'ephemeral', ...account('222222222222') }),
    parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: 'prod', profile: 'production', ...account('333333333333') }),
  ];
  return parsePipelineConfig({
    repository: 'example-org/hipaa-fhir-pipeline',
    connectionArn: 'arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000',
    ...overrides,
  }, { project: 'hipaa-fhir', region: 'eu-west-2' }, environments);
}

/** The per-branch settings of the reference layout: a sandbox account of its own (444444444444). */
export function referenceEphemeralConfig(overrides: Record<string, unknown> = {}): EphemeralConfig {
  return parseEphemeralConfig({ account: '444444444444', bootstrapQualifier: 'branches', ...overrides }, 'hipaa-fhir');
}

/** The reference app: one stage per configuration that changes which findings exist. */
export function referenceApp(): App {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const app = new App({ context: { ...(require('../cdk.json') as { context: Record<string, unknown> }).context } });
  const variants: Array<[string, Record<string, unknown>]> = [
    ['ephemeral', { profile: 'ephemeral' }],
    ['ephemeral-dedicated-trail', { profile: 'ephemeral', trailMode: 'dedicated' }],
    ['production', { profile: 'production' }],
  ];
  for (const [id, overrides] of variants) {
    const config = parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: 'ref', ...overrides });
    new PipelineAppStage(app, id, { config });
  }
  // A per-branch environment: its network stack carries the deploy-time cap (EnvironmentCap).
  const branch = 'feature/reference';
  const perBranch = parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: suffixFromBranch(branch), branch, expiresAt: '2030-01-01T00:00:00Z' });
  new PipelineAppStage(app, 'per-branch', { config: perBranch, maxEnvironments: referenceEphemeralConfig().maxEnvironments });
  new SharedTrailStack(app, 'SharedTrail', { naming: new Naming('hipaa-fhir', SHARED_SUFFIX), env: { region: 'eu-west-2' } });
  const pipeline = referencePipelineConfig();
  new PipelineStack(app, 'Pipeline', { pipeline });
  const ephemeral = referenceEphemeralConfig();
  new EphemeralEnvironmentsStack(app, 'Ephemeral', { pipeline, ephemeral });
  new EphemeralSandboxStack(app, 'EphemeralSandbox', { pipeline, ephemeral });
  return app;
}

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
