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
    expect(readdirSync(run.outdir)).toEqual(expect.arrayContaining(['Pipeline.template.json', 'assembly-Pipeline-dev', 'assembly-Pipeline-prod', 'SharedTrail.template.json', 'Ephemeral.template.json', 'EphemeralSandbox.template.json']));
    // Three accounts: the pipeline in tooling, dev in non-production, prod in production.
    const manifest0 = JSON.parse(readFileSync(join(run.outdir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { environment?: string }> };
    expect(manifest0.artifacts.Pipeline.environment).toBe('aws://111111111111/eu-west-2');
    expect(manifest0.artifacts.EphemeralSandbox.environment).toBe('aws://444444444444/eu-west-2');
    const stageEnvs = (dir: string) => Object.values((JSON.parse(readFileSync(join(run.outdir, dir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { type: string; environment?: string }> }).artifacts)
      .filter((a) => a.type === 'aws:cloudformation:stack').map((a) => a.environment);
    expect(new Set(stageEnvs('assembly-Pipeline-dev'))).toEqual(new Set(['aws://222222222222/eu-west-2']));
    expect(new Set(stageEnvs('assembly-Pipeline-prod'))).toEqual(new Set(['aws://333333333333/eu-west-2']));
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

  test('-c branch=<name> builds one per-branch environment with the derived suffix and a TTL tag, in the sandbox account through its own bootstrap', () => {
    const keyArn = 'arn:aws:kms:eu-west-2:444444444444:key/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b';
    const run = runApp({ branch: 'feature/ABC-123_Add-Labs', ephemeral: { ...(cdkJson.context.ephemeral as object), databaseSecretKeyArn: keyArn } });
    dirs.push(run.outdir);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('stage br-abc-123-add-labs (ephemeral): hipaa-fhir-network-br-abc-123-add-labs');
    const manifest = JSON.parse(readFileSync(join(run.outdir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, unknown> };
    expect(Object.keys(manifest.artifacts)).not.toContain('Pipeline');
    const nested = JSON.parse(readFileSync(join(run.outdir, 'assembly-br-abc-123-add-labs', 'manifest.json'), 'utf8')) as { artifacts: Record<string, { type: string; environment?: string; properties?: { tags?: Record<string, string>; assumeRoleArn?: string } }> };
    const stacks = Object.values(nested.artifacts).filter((a) => a.type === 'aws:cloudformation:stack');
    expect(stacks).toHaveLength(4);
    for (const stack of stacks) {
      expect(stack.environment).toBe('aws://444444444444/eu-west-2');
      // The sandbox's own bootstrap (qualifier "branches"), never the default one.
      expect(stack.properties!.assumeRoleArn).toBe('arn:${AWS::Partition}:iam::444444444444:role/cdk-branches-deploy-role-444444444444-eu-west-2');
    }
    // Issue 8, defect 2: the per-branch environment's role that reads the secret (the migration task's) may decrypt its CMK.
    const compute = JSON.parse(readFileSync(join(run.outdir, 'assembly-br-abc-123-add-labs', readdirSync(join(run.outdir, 'assembly-br-abc-123-add-labs')).find((f) => /Compute.*\.template\.json$/.test(f))!), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const policies = Object.values(compute.Resources).filter((r) => r.Type === 'AWS::IAM::Policy').map((r) => JSON.stringify(r.Properties));
    expect(policies.some((doc) => doc.includes('"kms:Decrypt"') && doc.includes(keyArn) && doc.includes('MigrationExecutionRole'))).toBe(true);
    // The stage's post-deploy role trusts exactly the per-branch integration build of the tooling account.
    const trust = Object.values(compute.Resources).find((r) => r.Type === 'AWS::IAM::Role' && r.Properties.RoleName === 'hipaa-fhir-post-deploy-br-abc-123-add-labs')!.Properties.AssumeRolePolicyDocument;
    expect(JSON.stringify(trust)).toContain('"aws:PrincipalArn":"arn:aws:iam::111111111111:role/hipaa-fhir-ephemeral-integ-test"');
    const tags = stacks.find((a) => a.properties?.tags)!.properties!.tags!;
    expect(tags).toMatchObject({ Ephemeral: 'true', Branch: 'feature/ABC-123_Add-Labs', EnvironmentSuffix: 'br-abc-123-add-labs' });
    const hours = (Date.parse(tags.ExpiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(71);
    expect(hours).toBeLessThanOrEqual(72);
  }, 60_000);

  test('per-branch environments in the production account fail synth with one line', () => {
    const run = runApp({ ephemeral: { ...(cdkJson.context.ephemeral as object), account: '333333333333' } });
    dirs.push(run.outdir);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      'Invalid configuration: ephemeral.account 333333333333 holds the production environment "prod": per-branch environments must deploy into a separate sandbox account; set ephemeral.account to your sandbox (or non-production) account id, or give environments.prod.account its own production account',
    ]);
    // The same layout is refused when only a per-branch environment is synthesized.
    const branch = runApp({ branch: 'feature/x', ephemeral: { ...(cdkJson.context.ephemeral as object), account: '333333333333' } });
    dirs.push(branch.outdir);
    expect(branch.status).toBe(1);
  }, 60_000);

  test('branch and environmentSuffix together are refused', () => {
    const run = runApp({ branch: 'feature/x', environmentSuffix: 'x' });
    dirs.push(run.outdir);
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe('Invalid configuration: use either -c branch=<name> or -c environmentSuffix=<name>, not both');
  }, 60_000);

  // Issue 9: a typo at the top level used to deploy to the default region without a word.
  test('an unknown top-level key fails synth with one line and a did-you-mean hint, before anything is built', () => {
    const run = runApp({ regoin: 'eu-west-1' });
    dirs.push(run.outdir);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual(['Invalid configuration: unknown key "regoin" at the top level of the CDK context (did you mean "region"?)']);
    expect(readdirSync(run.outdir)).toEqual([]);
  }, 60_000);

  test('an empty environments map, a dotted -c override and a region that does not match the connection fail synth with one line each', () => {
    const empty = runApp({ environments: {} });
    dirs.push(empty.outdir);
    expect(empty.status).toBe(1);
    expect(empty.stderr.trim().split('\n')).toEqual(['Invalid configuration: "environments" in cdk.json is empty: define at least one, e.g. "environments": {"dev": {"profile": "ephemeral"}}, or pass -c environmentSuffix=<name>']);
    const dottedRun = runApp({ 'sizing.streamShardCount': '2' });
    dirs.push(dottedRun.outdir);
    expect(dottedRun.status).toBe(1);
    expect(dottedRun.stderr.trim().split('\n')).toEqual(['Invalid configuration: context key "sizing.streamShardCount" is a dotted override, which the CDK does not nest: edit cdk.json, or pass the whole object as JSON, e.g. -c \'sizing={"streamShardCount":2}\'']);
    const region = runApp({ region: 'eu-west-1' });
    dirs.push(region.outdir);
    expect(region.status).toBe(1);
    expect(region.stderr.trim().split('\n')).toEqual(['Invalid configuration: region "eu-west-1" does not match pipeline.connectionArn, whose connection is in eu-west-2: the pipeline runs in the connection\'s region; set "region" to eu-west-2 or use a connection created in eu-west-1']);
  }, 60_000);

  test('-c \'sizing={...}\' applies to a sandbox stage', () => {
    const run = runApp({ environmentSuffix: 'alice', sizing: '{"streamShardCount":3}' });
    dirs.push(run.outdir);
    expect(run.status).toBe(0);
    const data = JSON.parse(readFileSync(join(run.outdir, 'assembly-alice', readdirSync(join(run.outdir, 'assembly-alice')).find((f) => /Data.*\.template\.json$/.test(f))!), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const streams = Object.values(data.Resources).filter((r) => r.Type === 'AWS::Kinesis::Stream');
    expect(streams.map((s) => s.Properties.ShardCount)).toEqual([3]);
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
