import { AppPlan, plannedEnvironments, resolveApp } from '../../../lib/config';
import { ConfigError } from '../../../lib/contract';
import { cdkJsonContext } from '../../helpers';

const shipped = cdkJsonContext();
const NOW = new Date('2026-12-01T10:00:00.000Z');
const resolve = (overrides: Record<string, unknown> = {}, env = {}) => resolveApp({ ...shipped, ...overrides }, env, NOW);
const error = (overrides: Record<string, unknown>, env = {}): string => {
  try {
    resolve(overrides, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};
function expectMode<M extends AppPlan['mode']>(plan: AppPlan, mode: M): Extract<AppPlan, { mode: M }> {
  expect(plan.mode).toBe(mode);
  return plan as Extract<AppPlan, { mode: M }>;
}

describe('resolveApp (what one synth builds)', () => {
  test('the shipped cdk.json is the delivery pipeline: dev then prod in their own accounts, the preview tooling, and the shared trail', () => {
    const plan = expectMode(resolve(), 'delivery');
    expect(plan.pipeline.account).toBe('111111111111');
    expect(plan.pipeline.environments.map((e) => [e.environmentSuffix, e.profile, e.account])).toEqual([
      ['dev', 'development', '222222222222'],
      ['prod', 'production', '333333333333'],
    ]);
    expect(plan.previews).toMatchObject({ account: '444444444444', bootstrapQualifier: 'branches', maxEnvironments: 4, ttlHours: 72 });
    // dev uses the shared trail (development default), so the account-wide trail stack is part of the plan.
    expect(plan.sharedTrail).toEqual({ project: 'hipaa-fhir', account: '222222222222', region: 'eu-west-2' });
    expect(plannedEnvironments(plan).map((e) => e.environmentSuffix)).toEqual(['dev', 'prod']);
  });

  test('-c environmentSuffix=<name> is one personal environment with the development profile, and its -c overrides apply', () => {
    const plan = expectMode(resolve({ environmentSuffix: 'alice', account: '123456789012', sizing: '{"streamShardCount":3}' }), 'personal');
    expect(plan.environments).toHaveLength(1);
    expect(plan.environments[0]).toMatchObject({
      environmentSuffix: 'alice',
      profile: 'development',
      account: '123456789012',
      stream: { shardCount: 3 },
    });
    expect(plan.environments[0].preview).toBeUndefined();
  });

  test("-c branch=<name> is that branch's preview: derived suffix, sandbox account, TTL from the given time, post-deploy trust of the preview integration build", () => {
    const plan = expectMode(resolve({ branch: 'feature/ABC-123_Add-Labs' }), 'preview');
    const { environment } = plan;
    expect(environment.environmentSuffix).toBe('br-abc-123-add-labs');
    expect(environment.account).toBe('444444444444');
    expect(environment.database.master).toEqual({ source: 'rds-managed', username: 'fhir_admin' });
    expect(environment.preview).toEqual({ branch: 'feature/ABC-123_Add-Labs', expiresAt: '2026-12-04T10:00:00Z' });
    expect(environment.tags).toMatchObject({
      Preview: 'true',
      Branch: 'feature/ABC-123_Add-Labs',
      ExpiresAt: '2026-12-04T10:00:00Z',
      Profile: 'development',
    });
    expect(plan.postDeployTrustedRoleArn).toBe('arn:aws:iam::111111111111:role/hipaa-fhir-preview-integ-test');
    expect(plannedEnvironments(plan)).toEqual([environment]);
    expect(plan.previews.bootstrapQualifier).toBe('branches');
  });

  test('a personal environment named after a configured one deploys that environment as configured', () => {
    const plan = expectMode(resolve({ environmentSuffix: 'prod' }), 'personal');
    expect(plan.environments.map((e) => [e.environmentSuffix, e.profile, e.account])).toEqual([['prod', 'production', '333333333333']]);
    expect(plannedEnvironments(plan)).toEqual(plan.environments);
    // Its trail is its own (dedicated, the production default): there is no account-wide trail to deploy.
    expect(plan.sharedTrail).toBeUndefined();
  });

  test('the sandbox account gets a shared trail of its own, unless a shared-trail environment already has one in its account and region', () => {
    const environments = shipped.environments as Record<string, object>;
    const previews = (account: string) => ({ previews: { ...(shipped.previews as object), account } });
    const sandboxTrail = (overrides: Record<string, unknown>) => expectMode(resolve(overrides), 'delivery').sandboxTrail;
    expect(sandboxTrail({})).toEqual({ project: 'hipaa-fhir', account: '444444444444', region: 'eu-west-2' });
    // Previews in dev's account and region: dev's shared trail already records them.
    expect(sandboxTrail(previews('222222222222'))).toBeUndefined();
    // Same account, but dev is in another region than the pipeline (where previews deploy).
    expect(
      sandboxTrail({ ...previews('222222222222'), environments: { ...environments, dev: { ...environments.dev, region: 'us-east-1' } } }),
    ).toEqual({
      project: 'hipaa-fhir',
      account: '222222222222',
      region: 'eu-west-2',
    });
    // No environment has a shared trail: the sandbox still needs one.
    expect(sandboxTrail({ ...previews('222222222222'), environments: { prod: environments.prod } })).toEqual({
      project: 'hipaa-fhir',
      account: '222222222222',
      region: 'eu-west-2',
    });
  });

  test("without a pipeline the environments are plain stages, and the CLI's default account and region fill the gaps", () => {
    const { pipeline: _pipeline, region: _region, ...noPipeline } = shipped;
    const plan = expectMode(
      resolveApp(
        { ...noPipeline, environments: { dev: {} } },
        { CDK_DEFAULT_REGION: 'eu-west-1', CDK_DEFAULT_ACCOUNT: '555555555555' },
        NOW,
      ),
      'environments',
    );
    expect(plan.environments.map((e) => [e.environmentSuffix, e.region, e.account])).toEqual([['dev', 'eu-west-1', '555555555555']]);
  });

  test.each([
    [
      { previews: { ...(shipped.previews as object), account: '333333333333' } },
      'previews.account 333333333333 holds the production environment "prod": preview environments must deploy into a separate sandbox account; set previews.account to your sandbox (or non-production) account id, or give environments.prod.account its own production account',
    ],
    // The same layout is refused when only a preview is synthesized.
    [
      { branch: 'feature/x', previews: { ...(shipped.previews as object), account: '333333333333' } },
      'previews.account 333333333333 holds the production environment "prod"',
    ],
    [{ branch: 'feature/x', environmentSuffix: 'x' }, 'use either -c branch=<name> or -c environmentSuffix=<name>, not both'],
    [{ regoin: 'eu-west-1' }, 'unknown key "regoin" at the top level of the CDK context (did you mean "region"?)'],
    [
      { environments: {} },
      '"environments" in cdk.json is empty: define at least one, e.g. "environments": {"dev": {"profile": "development"}}, or pass -c environmentSuffix=<name>',
    ],
    [
      { 'sizing.streamShardCount': '2' },
      'context key "sizing.streamShardCount" is a dotted override, which the CDK does not nest: edit cdk.json, or pass the whole object as JSON, e.g. -c \'sizing={"streamShardCount":2}\'',
    ],
    [
      { region: 'eu-west-1' },
      'region "eu-west-1" does not match pipeline.connectionArn, whose connection is in eu-west-2: the pipeline runs in the connection\'s region; set "region" to eu-west-2 or use a connection created in eu-west-1',
    ],
    [
      { environmentSuffix: 'Feature/ABC_1' },
      'environmentSuffix "Feature/ABC_1" is invalid: use 1-20 lowercase letters, digits and single hyphens, not starting or ending with a hyphen',
    ],
    [
      { ephemeral: { ttlHours: 3 } },
      'unknown key "ephemeral" at the top level of the CDK context: it was renamed to "previews" (see "Migrating from 0.1" in CHANGELOG.md)',
    ],
    [{ branch: '  ' }, 'branch "  " is invalid: use a git branch name'],
  ])('%j fails with one line', (overrides, message) => {
    expect(error(overrides)).toContain(message);
  });

  test("the CLI's default region is checked like a written one", () => {
    expect(error({ region: undefined, pipeline: undefined }, { CDK_DEFAULT_REGION: 'cn-north-1' })).toMatch(
      /^region "cn-north-1" is invalid: use a region of the commercial aws partition/,
    );
  });

  test('every problem between settings is reported at once, across environments, with the path of each setting', () => {
    const environments = {
      dev: { ...(shipped.environments as Record<string, object>).dev, vpcCidr: '10.40.1.0/16' },
      prod: { ...(shipped.environments as Record<string, object>).prod, sizing: { processorMaxTasks: 1 } },
    };
    expect(() => resolve({ environments, region: 'eu-west-1' })).toThrow(
      [
        'environments.dev.vpcCidr "10.40.1.0/16" is invalid: host bits are set; use the network address 10.40.0.0/16',
        'environments.prod.sizing.processorMaxTasks 1 is invalid: the production profile runs at least 2 tasks; use a whole number from 2 to 100',
        'region "eu-west-1" does not match pipeline.connectionArn, whose connection is in eu-west-2: the pipeline runs in the connection\'s region; set "region" to eu-west-2 or use a connection created in eu-west-1',
      ].join('\n'),
    );
  });

  test("a personal environment's -c override is named as given, its cdk.json settings by their path, each once", () => {
    const environments = { ...(shipped.environments as object), alice: { vpcCidr: '10.40.1.0/16' } };
    expect(() =>
      resolve({ environments, environmentSuffix: 'alice', sizing: '{"dbAllocatedStorageGiB":100,"dbMaxAllocatedStorageGiB":50}' }),
    ).toThrow(
      [
        'environments.alice.vpcCidr "10.40.1.0/16" is invalid: host bits are set; use the network address 10.40.0.0/16',
        'sizing.dbMaxAllocatedStorageGiB 50 is invalid: the storage autoscaling ceiling must be at least dbAllocatedStorageGiB (100); use a whole number from 100 to 65536',
      ].join('\n'),
    );
  });

  test('is pure: the same input gives the same plan, and the time decides only ExpiresAt', () => {
    const a = resolveApp({ ...shipped, branch: 'feature/x' }, {}, NOW);
    const b = resolveApp({ ...shipped, branch: 'feature/x' }, {}, NOW);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const later = expectMode(resolveApp({ ...shipped, branch: 'feature/x' }, {}, new Date(NOW.getTime() + 3_600_000)), 'preview');
    expect(later.environment.preview!.expiresAt).toBe('2026-12-04T11:00:00Z');
  });
});
