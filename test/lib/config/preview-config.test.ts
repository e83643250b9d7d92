import { checkAccountLayout, parseEnvironmentConfig, parsePreviewConfig, resolveAccounts } from '../../../lib/config';
import { ConfigError } from '../../../lib/contract';

describe('parsePreviewConfig', () => {
  test('defaults', () => {
    expect(parsePreviewConfig({}, 'hipaa-fhir')).toEqual({
      branchPatterns: ['feature/*'], pullRequestBaseBranch: 'main', ttlHours: 72, maxEnvironments: 5, databaseSecretName: 'hipaa-fhir/previews/db-credentials', bootstrapQualifier: 'hnb659fds',
    });
  });
  test('sandbox account, its bootstrap qualifier and the secret\'s CMK', () => {
    const keyArn = 'arn:aws:kms:eu-west-2:222222222222:key/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b';
    expect(parsePreviewConfig({ account: '222222222222', bootstrapQualifier: 'branches', databaseSecretKeyArn: keyArn }, 'hipaa-fhir'))
      .toMatchObject({ account: '222222222222', bootstrapQualifier: 'branches', databaseSecretKeyArn: keyArn });
  });
  test.each([
    [{ branchPatterns: [] }, 'previews.branchPatterns [] is invalid'],
    [{ branchPatterns: ['feature/ bad'] }, 'previews.branchPatterns ["feature/ bad"] is invalid'],
    [{ ttlHours: 0 }, 'previews.ttlHours 0 is invalid: expected a whole number of hours from 1 to 720'],
    [{ maxEnvironments: 51 }, 'previews.maxEnvironments 51 is invalid'],
    [{ pullRequestBaseBranch: '' }, 'previews.pullRequestBaseBranch "" is invalid'],
    [{ ttl: 3 }, 'unknown previews key "previews.ttl"'],
    [{ account: '1234' }, 'previews.account "1234" is invalid: use the 12-digit id of the sandbox account'],
    [{ databaseSecretKeyArn: 'alias/x' }, 'previews.databaseSecretKeyArn "alias/x" is invalid: use a KMS key ARN'],
    [{ bootstrapQualifier: 'Too-Long-Qualifier' }, 'previews.bootstrapQualifier "Too-Long-Qualifier" is invalid'],
  ])('%j', (raw, message) => {
    expect(() => parsePreviewConfig(raw, 'hipaa-fhir')).toThrow(message);
  });
});

describe('per-branch environment config', () => {
  const base = { project: 'hipaa-fhir', environmentSuffix: 'br-abc-1' };
  test('a branch and its expiry become tags', () => {
    const c = parseEnvironmentConfig({ ...base, branch: 'feature/abc-1 x#y', expiresAt: '2026-11-25T09:00:00Z' });
    expect(c.preview).toEqual({ branch: 'feature/abc-1 x#y', expiresAt: '2026-11-25T09:00:00Z' });
    expect(c.tags).toMatchObject({ Preview: 'true', Branch: 'feature/abc-1 x_y', ExpiresAt: '2026-11-25T09:00:00Z' });
  });
  test.each([
    [{ branch: 'feature/x' }, 'branch and expiresAt go together'],
    [{ branch: 'feature/x', expiresAt: 'tomorrow' }, 'expiresAt "tomorrow" is invalid: use an ISO-8601 UTC time'],
    [{ branch: 'feature/x', expiresAt: '2026-11-25T09:00:00Z', profile: 'production' }, 'profile "production" is invalid: a preview environment must use the development profile'],
  ])('%j', (raw, message) => {
    expect(() => parseEnvironmentConfig({ ...base, ...raw })).toThrow(message);
  });
});

describe('checkAccountLayout', () => {
  const env = (suffix: string, profile: string, account?: string) => parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: suffix, profile, account });
  const envs = [env('dev', 'development', '222222222222'), env('prod', 'production', '333333333333')];

  test('a sandbox apart from production is accepted (three accounts: tooling, non-production + sandbox, production)', () => {
    expect(() => checkAccountLayout(resolveAccounts('111111111111', envs, parsePreviewConfig({ account: '222222222222' }, 'hipaa-fhir')), envs)).not.toThrow();
  });

  test('per-branch environments in the production account fail with one line that says how to fix it', () => {
    const run = () => checkAccountLayout(resolveAccounts('111111111111', envs, parsePreviewConfig({ account: '333333333333' }, 'hipaa-fhir')), envs);
    expect(run).toThrow(ConfigError);
    expect(run).toThrow('previews.account 333333333333 holds the production environment "prod": preview environments must deploy into a separate sandbox account; set previews.account');
  });

  test('no accounts at all puts production and the sandbox in the pipeline account: refused', () => {
    const same = [env('dev', 'development'), env('prod', 'production')];
    expect(() => checkAccountLayout(resolveAccounts('111111111111', same, parsePreviewConfig({}, 'hipaa-fhir')), same)).toThrow(/holds the production environment "prod"/);
  });
});
