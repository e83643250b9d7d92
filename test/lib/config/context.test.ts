import { readFileSync } from 'fs';
import { join } from 'path';
import Ajv from 'ajv';
import { CDK_CONTEXT_SCHEMA, closestKey, levenshtein, PERSONAL_OVERRIDE_KEYS, validateContext } from '../../../lib/config';
import { ConfigError } from '../../../lib/contract';
import { cdkJsonContext } from '../../helpers';

const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
const shipped = cdkJsonContext();
const env = shipped.environments as Record<string, Record<string, unknown>>;

function problems(context: Record<string, unknown>): readonly string[] {
  try {
    validateContext(context);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

function error(context: Record<string, unknown>): string {
  const found = problems(context);
  expect(found).toHaveLength(1);
  return found[0];
}

describe('the CDK context schema', () => {
  test('accepts the shipped cdk.json, its feature flags and the keys the CDK CLI adds', () => {
    expect(() =>
      validateContext({
        ...shipped,
        'aws:cdk:enable-path-metadata': true,
        'aws:cdk:version-reporting': false,
        'aws:cdk:bundling-stacks': ['**'],
        'acknowledged-issue-numbers': [32775],
        'availability-zones:account=111111111111:region=eu-west-2': ['eu-west-2a'],
        '@aws-cdk/core:newStyleStackSynthesis': true,
      }),
    ).not.toThrow();
    expect(shipped['cli-telemetry']).toBe(false);
  });

  test('cdk.json names the schema for editors, and the whole file validates against it as an editor would check it', () => {
    const ajv = new Ajv({ strict: true });
    ajv.addKeyword('patternErrorMessage');
    ajv.addKeyword('profileDefaults');
    const check = ajv.compile(CDK_CONTEXT_SCHEMA);
    expect((cdkJson as Record<string, unknown>).$schema).toBe('./lib/config/cdk-context.schema.json');
    expect(check(cdkJson)).toBe(true);
    expect(check({ ...cdkJson, context: { ...shipped, regoin: 'eu-west-1' } })).toBe(false);
  });

  test.each([
    [{ regoin: 'eu-west-1' }, 'unknown key "regoin" at the top level of the CDK context (did you mean "region"?)'],
    [{ Project: 'x' }, 'unknown key "Project" at the top level of the CDK context (did you mean "project"?)'],
    [{ environment: {} }, 'unknown key "environment" at the top level of the CDK context (did you mean "environments"?)'],
    [{ 'cli-telemtry': false }, 'unknown key "cli-telemtry" at the top level of the CDK context (did you mean "cli-telemetry"?)'],
    [
      { pipeline: { ...(shipped.pipeline as object), conectionArn: 'x' } },
      'unknown key "conectionArn" in pipeline (did you mean "connectionArn"?)',
    ],
    [{ previews: { ...(shipped.previews as object), ttlHour: 3 } }, 'unknown key "ttlHour" in previews (did you mean "ttlHours"?)'],
    // 0.2.0 renamed "ephemeral" (three meanings): the old names are refused with their successors named.
    [
      { ephemeral: { ttlHours: 3 } },
      'unknown key "ephemeral" at the top level of the CDK context: it was renamed to "previews" (see "Migrating from 0.1" in CHANGELOG.md)',
    ],
    [
      { environments: { ...env, dev: { ...env.dev, profile: 'ephemeral' } } },
      'environments.dev.profile "ephemeral" is invalid: "ephemeral" was renamed to "development" (see "Migrating from 0.1" in CHANGELOG.md)',
    ],
    [
      { environments: { ...env, dev: { ...env.dev, databaseRotationDays: 1001 } } },
      'environments.dev.databaseRotationDays 1001 is invalid: expected a whole number from 0 to 1000',
    ],
    [
      { environments: { ...env, dev: { ...env.dev, databaseRotationDays: 2.5 } } },
      'environments.dev.databaseRotationDays 2.5 is invalid: expected a whole number',
    ],
    [
      { environments: { ...env, dev: { ...env.dev, acount: '222222222222' } } },
      'unknown key "acount" in environments.dev (did you mean "account"?)',
    ],
    [
      { environments: { ...env, dev: { ...env.dev, sizing: { streamShardCont: 2 } } } },
      'unknown key "streamShardCont" in environments.dev.sizing (did you mean "streamShardCount"?)',
    ],
    [
      { environments: { ...env, dev: { ...env.dev, sizing: { zzz: 2 } } } },
      'unknown key "zzz" in environments.dev.sizing (allowed: dbInstanceType, dbAllocatedStorageGiB, dbMaxAllocatedStorageGiB, streamShardCount, streamMaxRecordSizeKiB, streamRetentionHours, processorMaxTasks)',
    ],
    [
      { environments: { ...env, dev: { ...env.dev, profile: 'prod' } } },
      'environments.dev.profile "prod" is invalid: use one of development, production',
    ],
    [
      { environments: { ...env, dev: { ...env.dev, sizing: { streamShardCount: 2.5 } } } },
      'environments.dev.sizing.streamShardCount 2.5 is invalid: expected a whole number',
    ],
    [{ environments: { ...env, dev: 'x' } }, 'environments.dev "x" is invalid: expected an object'],
    [{ region: 'eu-west' }, 'region "eu-west" is invalid: use an AWS region code such as eu-west-2'],
    [{ account: 'abc' }, 'account "abc" is invalid: use a 12-digit AWS account id'],
    [{ previews: { ...(shipped.previews as object), ttlHours: '72' } }, 'previews.ttlHours "72" is invalid: expected a whole number'],
    [
      { previews: { ...(shipped.previews as object), ttlHours: 0 } },
      'previews.ttlHours 0 is invalid: expected a whole number from 1 to 720',
    ],
    [
      { previews: { ...(shipped.previews as object), maxEnvironments: 51 } },
      'previews.maxEnvironments 51 is invalid: expected a whole number from 1 to 50',
    ],
    [
      { previews: { ...(shipped.previews as object), branchPatterns: [] } },
      'previews.branchPatterns [] is invalid: expected a list of 1 to 8 items',
    ],
    [
      { previews: { ...(shipped.previews as object), branchPatterns: ['feature/ bad'] } },
      'previews.branchPatterns.0 "feature/ bad" is invalid: use branch globs such as "feature/*"',
    ],
    [
      { previews: { ...(shipped.previews as object), pullRequestBaseBranch: '' } },
      'previews.pullRequestBaseBranch "" is invalid: use a git branch name such as main',
    ],
    [
      { previews: { ...(shipped.previews as object), account: '1234' } },
      'previews.account "1234" is invalid: use a 12-digit AWS account id',
    ],
    [
      { previews: { ...(shipped.previews as object), databaseSecretName: 'hipaa-fhir/previews/db-credentials' } },
      'previews.databaseSecretName was removed: each preview database now has its own master password, which RDS creates, rotates and deletes with it; delete the key (see docs/deploying.md, step 4)',
    ],
    [
      { previews: { ...(shipped.previews as object), databaseSecretKeyArn: 'arn:aws:kms:eu-west-2:444444444444:key/x' } },
      "previews.databaseSecretKeyArn was removed: each preview database's RDS-managed secret is encrypted with the AWS managed key aws/secretsmanager; delete the key (see docs/deploying.md, step 4)",
    ],
    [
      // The same key where it still exists is no removed key: an environment's entry names its existing secret.
      { environments: { dev: { databaseSecretKeyArn: 'alias/x' } } },
      'environments.dev.databaseSecretKeyArn "alias/x" is invalid: use a KMS key ARN, arn:aws:kms:<region>:<account>:key/<key-id>',
    ],
    [
      { previews: { ...(shipped.previews as object), bootstrapQualifier: 'Too-Long-Qualifier' } },
      'previews.bootstrapQualifier "Too-Long-Qualifier" is invalid: use 1-10 lowercase letters and digits, as passed to cdk bootstrap --qualifier',
    ],
    [{ branch: '  ' }, 'branch "  " is invalid: use a git branch name'],
    [
      { project: undefined },
      'project is required: Project name, the first part of every physical name: 2-12 lowercase letters, digits and single hyphens, starting with a letter.',
    ],
    [{ pipeline: 'x' }, 'context "pipeline" is not valid JSON: pass an object, e.g. -c \'pipeline={...}\''],
    [{ environments: null }, 'environments null is invalid: expected an object'],
    [
      { environments: { ...env, dev: { ...env.dev, project: 'x' } } },
      'unknown key "project" in environments.dev (allowed: account, region, profile, availabilityZones, vpcCidr, databaseSecretName, databaseSecretKeyArn, databaseRotationDays, databaseName, trailMode, alarmEmail, auditLockDays, backupCopyVaultArn, producerPrincipals, sizing, restoreDrill, readers)',
    ],
    [
      { pipeline: { repository: 'a/b' } },
      'pipeline.connectionArn is required: CodeConnections (or CodeStar connections) ARN, in the pipeline region.',
    ],
    [{ 'cli-telemetry': 'no' }, 'cli-telemetry "no" is invalid: use one of true, false'],
  ])('%j is refused with one line', (overrides, message) => {
    expect(error({ ...shipped, ...overrides })).toBe(message);
  });

  test('an empty environments map is one line, not a stack trace', () => {
    expect(error({ ...shipped, environments: {} })).toBe(
      '"environments" in cdk.json is empty: define at least one, e.g. "environments": {"dev": {"profile": "development"}}, or pass -c environmentSuffix=<name>',
    );
    const { environments: _unused, ...without } = shipped;
    expect(error(without)).toMatch(/^"environments" in cdk.json is empty/);
    // A single personal or preview environment needs none.
    expect(() => validateContext({ ...shipped, environments: {}, environmentSuffix: 'alice' })).not.toThrow();
    expect(() => validateContext({ ...shipped, environments: {}, branch: 'feature/x' })).not.toThrow();
  });

  describe('-c overrides (the CDK CLI passes every -c value as a string, dotted keys flat)', () => {
    test('a dotted override is refused, with the JSON form to use instead', () => {
      expect(error({ ...shipped, 'sizing.streamShardCount': '2' })).toBe(
        'context key "sizing.streamShardCount" is a dotted override, which the CDK does not nest: edit cdk.json, or pass the whole object as JSON, e.g. -c \'sizing={"streamShardCount":2}\'',
      );
      expect(error({ ...shipped, 'environments.dev.vpcCidr': '10.1.0.0/16' })).toBe(
        'context key "environments.dev.vpcCidr" is a dotted override, which the CDK does not nest: edit cdk.json, or pass the whole object as JSON, e.g. -c \'environments={"dev":{"vpcCidr":"10.1.0.0/16"}}\'',
      );
      // The example has the type the schema expects there: an account id stays a string.
      expect(error({ ...shipped, 'environments.prod.account': '333333333333' })).toMatch(
        /e\.g\. -c 'environments=\{"prod":\{"account":"333333333333"\}\}'$/,
      );
      expect(error({ ...shipped, 'previews.ttlHours': '24' })).toMatch(/e\.g\. -c 'previews=\{"ttlHours":24\}'$/);
    });

    test("-c 'sizing={...}' with a personal environment is parsed and checked by the schema", () => {
      expect(validateContext({ ...shipped, environmentSuffix: 'alice', sizing: '{"streamShardCount":2}' }).sizing).toEqual({
        streamShardCount: 2,
      });
      expect(error({ ...shipped, environmentSuffix: 'alice', sizing: '{"streamShardCount":"2"}' })).toBe(
        'sizing.streamShardCount "2" is invalid: expected a whole number',
      );
      expect(error({ ...shipped, environmentSuffix: 'alice', sizing: '{streamShardCount:2}' })).toBe(
        'context "sizing" is not valid JSON: pass an object, e.g. -c \'sizing={...}\'',
      );
    });

    test('personal-environment overrides without -c environmentSuffix are refused, never ignored', () => {
      expect(error({ ...shipped, vpcCidr: '10.1.0.0/16' })).toBe(
        'context "vpcCidr" applies only to a personal environment (-c environmentSuffix=<name>): for a configured environment set environments.<name>.vpcCidr in cdk.json',
      );
      expect(error({ ...shipped, branch: 'feature/x', sizing: '{"streamShardCount":2}' })).toMatch(
        /^context "sizing" applies only to a personal environment/,
      );
    });

    test('branch and environmentSuffix together are refused', () => {
      expect(error({ ...shipped, branch: 'feature/x', environmentSuffix: 'x' })).toBe(
        'use either -c branch=<name> or -c environmentSuffix=<name>, not both',
      );
    });
  });

  test('every problem is reported at once, one line each, whatever finds it', () => {
    expect(
      problems({
        ...shipped,
        regoin: 'eu-west-1',
        'sizing.streamShardCount': '2',
        vpcCidr: '10.1.0.0/16',
        pipeline: { ...(shipped.pipeline as object), branch: 'feature//x', notificationEmail: 'nope' },
        previews: { ...(shipped.previews as object), ttlHour: 3, ttlHours: 0 },
        environments: { ...env, dev: { ...env.dev, acount: '222222222222', sizing: { streamShardCount: -1 } } },
      }),
    ).toEqual([
      'context key "sizing.streamShardCount" is a dotted override, which the CDK does not nest: edit cdk.json, or pass the whole object as JSON, e.g. -c \'sizing={"streamShardCount":2}\'',
      'unknown key "regoin" at the top level of the CDK context (did you mean "region"?)',
      'pipeline.branch "feature//x" is invalid: use a git branch name such as main',
      'pipeline.notificationEmail "nope" is invalid: use an e-mail address',
      'unknown key "ttlHour" in previews (did you mean "ttlHours"?)',
      'previews.ttlHours 0 is invalid: expected a whole number from 1 to 720',
      'unknown key "acount" in environments.dev (did you mean "account"?)',
      'environments.dev.sizing.streamShardCount -1 is invalid: expected a whole number from 0 to 500',
      'context "vpcCidr" applies only to a personal environment (-c environmentSuffix=<name>): for a configured environment set environments.<name>.vpcCidr in cdk.json',
    ]);
  });

  test('the defaults of the schema apply to what the context leaves out: region, previews and the pipeline', () => {
    const { region: _region, previews: _previews, pipeline, ...rest } = shipped;
    const context = validateContext({
      ...rest,
      pipeline: { repository: 'a/b', connectionArn: (pipeline as { connectionArn: string }).connectionArn },
    });
    expect(context.region).toBe('eu-west-2');
    expect(context.previews).toEqual({
      bootstrapQualifier: 'hnb659fds',
      branchPatterns: ['feature/*'],
      pullRequestBaseBranch: 'main',
      ttlHours: 72,
      maxEnvironments: 4,
    });
    expect(context.pipeline).toMatchObject({ branch: 'main', destroyable: false, ignoredPaths: ['**/*.md', 'docs/**'] });
    // Entries of environments are defaulted once resolved, after their -c overrides (resolveApp).
    expect(context.environments).toEqual(env);
  });

  test('the -c overrides of a personal environment are the environment settings the context refers to', () => {
    expect(PERSONAL_OVERRIDE_KEYS).toEqual([
      'profile',
      'databaseSecretName',
      'databaseSecretKeyArn',
      'vpcCidr',
      'trailMode',
      'alarmEmail',
      'sizing',
    ]);
  });

  test('every pattern of the schema has a message for the editor and for synth', () => {
    const missing: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${path}/${i}`));
      else if (node !== null && typeof node === 'object') {
        const obj = node as Record<string, unknown>;
        if (typeof obj.pattern === 'string' && typeof obj.patternErrorMessage !== 'string') missing.push(path);
        for (const [k, v] of Object.entries(obj)) walk(v, `${path}/${k}`);
      }
    };
    walk(CDK_CONTEXT_SCHEMA, '#');
    expect(missing).toEqual([]);
  });

  test('did-you-mean: edit distance, and no guess when nothing is close', () => {
    expect(levenshtein('regoin', 'region')).toBe(2);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(closestKey('regoin', ['project', 'region'])).toBe('region');
    expect(closestKey('zzzzzz', ['project', 'region'])).toBeUndefined();
  });
});
