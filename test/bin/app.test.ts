import { spawnSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const cdkJson = require('../../cdk.json') as { context: Record<string, unknown> };
const root = join(__dirname, '..', '..');

/** Runs bin/app.ts the way the CDK CLI does: context in CDK_CONTEXT_JSON, output in CDK_OUTDIR, no AWS config. */
function runApp(context: Record<string, unknown>) {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: tmpdir(), CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, ...context }) };
  const result = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'bin/app.ts'], { cwd: root, env, encoding: 'utf8' });
  return { ...result, outdir };
}

describe('bin/app.ts', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test('synthesizes the pipeline with its dev and prod stages, and the shared trail, with no AWS credentials or look-ups', () => {
    const run = runApp({});
    dirs.push(run.outdir);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('stage dev (ephemeral): hipaa-fhir-network-dev, hipaa-fhir-data-dev, hipaa-fhir-audit-dev, hipaa-fhir-compute-dev');
    expect(run.stderr).toContain('stage prod (production): hipaa-fhir-network-prod, hipaa-fhir-data-prod, hipaa-fhir-audit-prod, hipaa-fhir-compute-prod');
    expect(readdirSync(run.outdir)).toEqual(expect.arrayContaining(['Pipeline.template.json', 'assembly-Pipeline-dev', 'assembly-Pipeline-prod', 'SharedTrail.template.json']));
    // A context look-up would be listed as "missing" for the CLI to resolve against AWS.
    const manifest = JSON.parse(readFileSync(join(run.outdir, 'manifest.json'), 'utf8')) as { missing?: unknown[] };
    expect(manifest.missing ?? []).toEqual([]);
  }, 60_000);

  test('-c environmentSuffix=<name> builds one ephemeral sandbox stage, with no look-up even for a known account', () => {
    const run = runApp({ environmentSuffix: 'alice', account: '123456789012' });
    dirs.push(run.outdir);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('stage alice (ephemeral): hipaa-fhir-network-alice');
    expect(run.stderr).not.toContain('stage dev');
    const manifest = JSON.parse(readFileSync(join(run.outdir, 'manifest.json'), 'utf8')) as { missing?: unknown[] };
    expect(manifest.missing ?? []).toEqual([]);
  }, 60_000);

  test('-c branch=<name> builds one per-branch environment with the derived suffix and a TTL tag', () => {
    const run = runApp({ branch: 'feature/ABC-123_Add-Labs' });
    dirs.push(run.outdir);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('stage abc-123-add-labs (ephemeral): hipaa-fhir-network-abc-123-add-labs');
    const manifest = JSON.parse(readFileSync(join(run.outdir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, unknown> };
    expect(Object.keys(manifest.artifacts)).not.toContain('Pipeline');
    const nested = JSON.parse(readFileSync(join(run.outdir, 'assembly-abc-123-add-labs', 'manifest.json'), 'utf8')) as { artifacts: Record<string, { properties?: { tags?: Record<string, string> } }> };
    const tags = Object.values(nested.artifacts).find((a) => a.properties?.tags)!.properties!.tags!;
    expect(tags).toMatchObject({ Ephemeral: 'true', Branch: 'feature/ABC-123_Add-Labs', EnvironmentSuffix: 'abc-123-add-labs' });
    const hours = (Date.parse(tags.ExpiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(71);
    expect(hours).toBeLessThanOrEqual(72);
  }, 60_000);

  test('branch and environmentSuffix together are refused', () => {
    const run = runApp({ branch: 'feature/x', environmentSuffix: 'x' });
    dirs.push(run.outdir);
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe('Invalid configuration: use either -c branch=<name> or -c environmentSuffix=<name>, not both');
  }, 60_000);

  test('an invalid suffix fails synth with one precise line', () => {
    const run = runApp({ environmentSuffix: 'Feature/ABC_1' });
    dirs.push(run.outdir);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      'Invalid configuration: environmentSuffix "Feature/ABC_1" is invalid: use 1-20 lowercase letters, digits and single hyphens, not starting or ending with a hyphen',
    ]);
  }, 60_000);
});
