import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App } from 'aws-cdk-lib';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { buildApp } from '../../bin/app';
import { NO_STACK_TRACES, resolveApp } from '../../lib/config';
import { LAYERS } from '../../lib/contract';
import { cdkJsonContext } from '../helpers';
import { compileCacheEnv, TS_HOOK } from '../../scripts/shared/child';

const root = join(__dirname, '..', '..');
const NOW = new Date('2026-12-01T10:00:00.000Z');

/** Builds and synthesizes the app of a context, in this process, into a temporary directory. */
function synth(context: Record<string, unknown>): { assembly: CloudAssembly; stages: ReturnType<typeof buildApp>; outdir: string } {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
  const full = { ...cdkJsonContext(), ...context };
  const app = new App({ outdir, context: { ...full, ...NO_STACK_TRACES } });
  const stages = buildApp(app, resolveApp(full, {}, NOW));
  return { assembly: app.synth(), stages, outdir };
}

describe('bin/app.ts buildApp', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test('the delivery plan: the pipeline with its dev and prod stages, the preview tooling and the shared trail, in their accounts, with no look-up; the compliance gate passes', () => {
    const { assembly, stages, outdir } = synth({});
    dirs.push(outdir);
    expect(stages.map((s) => s.stageName)).toEqual(['dev', 'prod']);
    const top = Object.fromEntries(assembly.stacks.map((s) => [s.id, s.environment.account]));
    expect(top).toEqual({
      Pipeline: '111111111111',
      Previews: '111111111111',
      PreviewSandbox: '444444444444',
      SharedTrail: '222222222222',
      PreviewSharedTrail: '444444444444',
    });
    // Every account holding an environment in `shared` trail mode (dev; the previews, always development,
    // in the sandbox) gets the one shared trail, with the same name: CloudTrail's five trails per region
    // are never used up by environments.
    const trails = assembly.stacks.filter((s) =>
      Object.values(s.template.Resources as object).some((r) => r.Type === 'AWS::CloudTrail::Trail'),
    );
    expect(trails.map((t) => [t.id, t.stackName, t.environment.account, t.environment.region]).sort()).toEqual([
      ['PreviewSharedTrail', 'hipaa-fhir-audit-shared', '444444444444', 'eu-west-2'],
      ['SharedTrail', 'hipaa-fhir-audit-shared', '222222222222', 'eu-west-2'],
    ]);
    const stageAccounts = (id: string) =>
      new Set(
        assembly.nestedAssemblies.find((n) => n.id === `assembly-Pipeline-${id}`)!.nestedAssembly.stacks.map((s) => s.environment.account),
      );
    expect(stageAccounts('dev')).toEqual(new Set(['222222222222']));
    expect(stageAccounts('prod')).toEqual(new Set(['333333333333']));
    // A context look-up would be listed as "missing" for the CLI to resolve against AWS.
    expect(assembly.manifest.missing ?? []).toEqual([]);
  });

  test('the sandbox trail follows the previews account: none of its own when the previews share the account of the shared trail', () => {
    const context = cdkJsonContext() as { previews: object; environments: Record<string, object> };
    const shared = resolveApp({ ...context, previews: { ...context.previews, account: '222222222222' } }, {}, NOW);
    expect(shared.mode === 'delivery' && [shared.sharedTrail?.account, shared.sandboxTrail]).toEqual(['222222222222', undefined]);
    // The shared trail goes to the account of the environment that uses it, whatever the order in cdk.json.
    const { dev, prod } = context.environments;
    const reordered = resolveApp({ ...context, environments: { prod, dev } }, {}, NOW);
    expect(reordered.mode === 'delivery' && [reordered.sharedTrail?.account, reordered.sandboxTrail?.account]).toEqual([
      '222222222222',
      '444444444444',
    ]);
  });

  test("the preview plan: one stage in the sandbox account through its own bootstrap, trusted by the preview integration build, with the cap and the database's own RDS-managed secret wired", () => {
    const { assembly, stages, outdir } = synth({
      branch: 'feature/ABC-123_Add-Labs',
      previews: { ...(cdkJsonContext().previews as object), maxEnvironments: 4 },
    });
    dirs.push(outdir);
    expect(stages.map((s) => s.stageName)).toEqual(['br-abc-123-add-labs']);
    expect(assembly.stacks.map((s) => s.id)).toEqual(['SharedTrail']);
    const stacks = assembly.nestedAssemblies[0].nestedAssembly.stacks;
    expect(stacks.map((s) => s.stackName)).toEqual(LAYERS.map((layer) => `hipaa-fhir-${layer}-br-abc-123-add-labs`));
    for (const stack of stacks) {
      expect(stack.environment.account).toBe('444444444444');
      // The sandbox's own bootstrap (qualifier "branches"), never the default one.
      expect(stack.assumeRoleArn).toBe('arn:${AWS::Partition}:iam::444444444444:role/cdk-branches-deploy-role-444444444444-eu-west-2');
      expect(stack.tags).toMatchObject({
        Preview: 'true',
        Branch: 'feature/ABC-123_Add-Labs',
        EnvironmentSuffix: 'br-abc-123-add-labs',
        ExpiresAt: '2026-12-04T10:00:00Z',
      });
    }
    const compute = stacks.find((s) => s.stackName.startsWith('hipaa-fhir-compute-'))!.template as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    // The role that reads the secret (the migration task's execution role) reads the one RDS made for this
    // preview's instance (imported from the data stack), and no other; nothing decrypts with a key of ours.
    const policies = Object.values(compute.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .map((r) => JSON.stringify(r.Properties));
    const secretReaders = policies.filter((doc) => doc.includes('secretsmanager:GetSecretValue'));
    expect(secretReaders).toHaveLength(1);
    expect(secretReaders[0]).toContain('MigrationExecutionRole');
    expect(secretReaders[0]).toMatch(
      /"Fn::ImportValue":"hipaa-fhir-data-br-abc-123-add-labs:ExportsOutputFnGetAttDatabaseInstance\w*MasterUserSecretSecretArn/,
    );
    expect(policies.filter((doc) => doc.includes('kms:Decrypt') && doc.includes('MigrationExecutionRole'))).toEqual([]);
    const data = stacks.find((s) => s.stackName.startsWith('hipaa-fhir-data-'))!.template as typeof compute;
    const instance = Object.values(data.Resources).find((r) => r.Type === 'AWS::RDS::DBInstance')!.Properties;
    expect(instance).toMatchObject({ ManageMasterUserPassword: true, MasterUsername: 'fhir_admin' });
    expect(instance.MasterUserPassword).toBeUndefined();
    // RDS creates the secret, not the stack: no secret resource and no reference to an existing one.
    expect(Object.values(data.Resources).filter((r) => r.Type.startsWith('AWS::SecretsManager::'))).toEqual([]);
    expect(JSON.stringify(stacks.map((s) => s.template))).not.toContain('resolve:secretsmanager');
    const trust = Object.values(compute.Resources).find(
      (r) => r.Type === 'AWS::IAM::Role' && r.Properties.RoleName === 'hipaa-fhir-post-deploy-br-abc-123-add-labs',
    )!.Properties.AssumeRolePolicyDocument;
    expect(JSON.stringify(trust)).toContain('"aws:PrincipalArn":"arn:aws:iam::111111111111:role/hipaa-fhir-preview-integ-test"');
    const network = stacks.find((s) => s.stackName.startsWith('hipaa-fhir-network-'))!.template as {
      Resources: Record<string, { Type: string; Properties: { Environment?: { Variables?: Record<string, string> } } }>;
    };
    const caps = Object.values(network.Resources).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.MAX_ENVIRONMENTS !== undefined,
    );
    // The configured cap (previews.maxEnvironments), checked at deploy time: the same for a hand-run `cdk deploy -c branch=...`.
    expect(caps.map((r) => r.Properties.Environment!.Variables)).toEqual([
      expect.objectContaining({
        MAX_ENVIRONMENTS: '4',
        ENVIRONMENT_SUFFIX: 'br-abc-123-add-labs',
        OWN_STACK: 'hipaa-fhir-network-br-abc-123-add-labs',
      }),
    ]);
  });
});

describe('bin/app.ts as the CDK CLI runs it', () => {
  /** Runs bin/app.ts the way the CDK CLI does: context in CDK_CONTEXT_JSON, output in CDK_OUTDIR, no AWS config. */
  function runApp(context: Record<string, unknown>) {
    const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: tmpdir(),
      ...compileCacheEnv(),
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJsonContext(), ...context }),
    };
    const result = spawnSync(process.execPath, [...TS_HOOK, 'bin/app.ts'], {
      cwd: root,
      env,
      encoding: 'utf8',
    });
    rmSync(outdir, { recursive: true, force: true });
    return result;
  }

  test('names every stage stack it built on stderr, with the profile', () => {
    const run = runApp({ environmentSuffix: 'alice' });
    expect(run.status).toBe(0);
    expect(run.stderr.trim().split('\n')).toEqual([
      'stage alice (development): hipaa-fhir-network-alice, hipaa-fhir-data-alice, hipaa-fhir-audit-alice, hipaa-fhir-compute-alice',
    ]);
  }, 60_000);

  test('invalid configuration exits 1 with one line per problem, every problem at once, and no stack trace', () => {
    const run = runApp({ regoin: 'eu-west-1', previews: { ...(cdkJsonContext().previews as object), ttlHours: 0 } });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      'Invalid configuration: unknown key "regoin" at the top level of the CDK context (did you mean "region"?)',
      'Invalid configuration: previews.ttlHours 0 is invalid: expected a whole number from 1 to 720',
    ]);
  }, 60_000);
});
