import { parseEnvironmentConfig, parseEphemeralConfig } from '../../../lib/config';

describe('parseEphemeralConfig', () => {
  test('defaults', () => {
    expect(parseEphemeralConfig({}, 'hipaa-fhir')).toEqual({
      branchPatterns: ['feature/*'], pullRequestBaseBranch: 'main', ttlHours: 72, maxEnvironments: 5, databaseSecretName: 'hipaa-fhir/ephemeral/db-credentials',
    });
  });
  test.each([
    [{ branchPatterns: [] }, 'ephemeral.branchPatterns [] is invalid'],
    [{ branchPatterns: ['feature/ bad'] }, 'ephemeral.branchPatterns ["feature/ bad"] is invalid'],
    [{ ttlHours: 0 }, 'ephemeral.ttlHours 0 is invalid: expected a whole number of hours from 1 to 720'],
    [{ maxEnvironments: 51 }, 'ephemeral.maxEnvironments 51 is invalid'],
    [{ pullRequestBaseBranch: '' }, 'ephemeral.pullRequestBaseBranch "" is invalid'],
    [{ ttl: 3 }, 'unknown ephemeral key "ephemeral.ttl"'],
  ])('%j', (raw, message) => {
    expect(() => parseEphemeralConfig(raw, 'hipaa-fhir')).toThrow(message);
  });
});

describe('per-branch environment config', () => {
  const base = { project: 'hipaa-fhir', environmentSuffix: 'abc-1' };
  test('a branch and its expiry become tags', () => {
    const c = parseEnvironmentConfig({ ...base, branch: 'feature/abc-1 x#y', expiresAt: '2026-11-25T09:00:00Z' });
    expect(c.ephemeral).toEqual({ branch: 'feature/abc-1 x#y', expiresAt: '2026-11-25T09:00:00Z' });
    expect(c.tags).toMatchObject({ Ephemeral: 'true', Branch: 'feature/abc-1 x_y', ExpiresAt: '2026-11-25T09:00:00Z' });
  });
  test.each([
    [{ branch: 'feature/x' }, 'branch and expiresAt go together'],
    [{ branch: 'feature/x', expiresAt: 'tomorrow' }, 'expiresAt "tomorrow" is invalid: use an ISO-8601 UTC time'],
    [{ branch: 'feature/x', expiresAt: '2026-11-25T09:00:00Z', profile: 'production' }, 'profile "production" is invalid: a per-branch environment must use the ephemeral profile'],
  ])('%j', (raw, message) => {
    expect(() => parseEnvironmentConfig({ ...base, ...raw })).toThrow(message);
  });
});
