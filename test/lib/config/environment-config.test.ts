import { parseEnvironmentConfig, PROFILE_DEFAULTS } from '../../../lib/config';
import { ConfigError } from '../../../lib/contract';

const base = { project: 'hipaa-fhir', environmentSuffix: 'dev' };

function errorOf(raw: Record<string, unknown>): string {
  try {
    parseEnvironmentConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseEnvironmentConfig', () => {
  test('defaults to the development profile in eu-west-2 with pinned zones', () => {
    const config = parseEnvironmentConfig(base);
    expect(config.profile).toBe('development');
    expect(config.region).toBe('eu-west-2');
    expect(config.network.availabilityZones).toEqual(['eu-west-2a', 'eu-west-2b']);
    expect(config.account).toBeUndefined();
    expect(config.database.masterSecretName).toBe('hipaa-fhir/dev/db-credentials');
    expect(config.tags).toEqual({ Project: 'hipaa-fhir', EnvironmentSuffix: 'dev', Profile: 'development', Compliance: 'HIPAA' });
  });

  test('development and production profiles differ where compliance and cost trade off', () => {
    const eph = parseEnvironmentConfig({ ...base, profile: 'development' });
    const prod = parseEnvironmentConfig({ ...base, profile: 'production' });
    expect(eph.destroyOnRemoval).toBe(true);
    expect(prod.destroyOnRemoval).toBe(false);
    expect(prod.logRetentionDays).toBe(2192);
    expect(eph.logRetentionDays).toBeLessThan(30);
    expect(prod.database).toMatchObject({ multiAz: true, deletionProtection: true, snapshotOnDelete: true, awsBackupPlan: true });
    expect(eph.database).toMatchObject({ multiAz: false, deletionProtection: false, snapshotOnDelete: false, awsBackupPlan: false });
    expect(eph.audit.trailMode).toBe('shared');
    expect(prod.audit.trailMode).toBe('dedicated');
    expect(eph.network.endpointAzCount).toBe(1);
    expect(prod.network.endpointAzCount).toBe(2);
  });

  test('stream and processor sizing: one shard and one task in development; on demand with 2 to 8 tasks in production, or at most one task per shard', () => {
    const eph = parseEnvironmentConfig({ ...base, profile: 'development' });
    const prod = parseEnvironmentConfig({ ...base, profile: 'production' });
    expect([eph.stream, eph.processor]).toEqual([
      { shardCount: 1, retentionHours: 24 },
      { cpu: 512, memoryMiB: 1024, minTasks: 1, maxTasks: 1 },
    ]);
    // A shard count of 0 is an on-demand stream: the profile's maximum applies.
    expect([prod.stream, prod.processor]).toEqual([
      { shardCount: 0, retentionHours: 168 },
      { cpu: 1024, memoryMiB: 2048, minTasks: 2, maxTasks: 8 },
    ]);
    expect(parseEnvironmentConfig({ ...base, profile: 'production', sizing: { streamShardCount: 4 } }).processor).toMatchObject({
      minTasks: 2,
      maxTasks: 4,
    });
    // Never below the minimum, even with fewer shards.
    expect(parseEnvironmentConfig({ ...base, profile: 'production', sizing: { streamShardCount: 1 } }).processor).toMatchObject({
      minTasks: 2,
      maxTasks: 2,
    });
  });

  test('sizing overrides apply on top of the profile', () => {
    const config = parseEnvironmentConfig({
      ...base,
      sizing: { dbInstanceType: 'r7g.large', streamShardCount: 4, dbAllocatedStorageGiB: 200, dbMaxAllocatedStorageGiB: 400 },
    });
    expect(config.database.instanceType).toBe('r7g.large');
    expect(config.database.allocatedStorageGiB).toBe(200);
    expect(config.stream.shardCount).toBe(4);
    expect(config.database.multiAz).toBe(PROFILE_DEFAULTS.development.database.multiAz);
  });

  test('accepts an explicit account, secret, key and alarm e-mail', () => {
    const config = parseEnvironmentConfig({
      ...base,
      account: '123456789012',
      databaseSecretName: 'shared/ephemeral/db-credentials',
      databaseSecretKeyArn: 'arn:aws:kms:eu-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
      alarmEmail: 'security@example.org',
      trailMode: 'dedicated',
    });
    expect(config.account).toBe('123456789012');
    expect(config.database.masterSecretName).toBe('shared/ephemeral/db-credentials');
    expect(config.audit).toEqual({ trailMode: 'dedicated', alarmEmail: 'security@example.org' });
  });

  test.each([
    [
      { environmentSuffix: 'Feature/ABC_1' },
      'environmentSuffix "Feature/ABC_1" is invalid: use 1-20 lowercase letters, digits and single hyphens, not starting or ending with a hyphen',
    ],
    [{ environmentSuffix: 'a--b' }, 'environmentSuffix "a--b" is invalid'],
    [{ environmentSuffix: '-dev' }, 'environmentSuffix "-dev" is invalid'],
    [{ environmentSuffix: 'x'.repeat(21) }, `environmentSuffix "${'x'.repeat(21)}" is invalid`],
    [{ environmentSuffix: undefined }, 'environmentSuffix is required'],
    [{ project: 'HIPAA' }, 'project "HIPAA" is invalid'],
    [{ project: 'a-very-long-project' }, 'project "a-very-long-project" is invalid'],
    [{ profile: 'staging' }, 'profile "staging" is invalid: use one of development, production'],
    [{ region: 'london' }, 'region "london" is invalid: use an AWS region code such as eu-west-2'],
    [
      { region: 'us-gov-west-1' },
      'region "us-gov-west-1" is invalid: use a region of the commercial aws partition such as eu-west-2 (us-gov-west-1 is in aws-us-gov, whose ARNs this app does not write)',
    ],
    [
      { region: 'cn-north-1' },
      'region "cn-north-1" is invalid: use a region of the commercial aws partition such as eu-west-2 (cn-north-1 is in aws-cn, whose ARNs this app does not write)',
    ],
    [{ account: '1234' }, 'account "1234" is invalid: use a 12-digit AWS account id'],
    [{ account: 123456789012 }, 'account 123456789012 is invalid: expected a string'],
    [{ availabilityZones: ['eu-west-2a'] }, 'availabilityZones ["eu-west-2a"] is invalid'],
    [{ availabilityZones: ['us-east-1a', 'us-east-1b'] }, 'list two distinct zones of eu-west-2'],
    [{ availabilityZones: ['eu-west-2a', 'eu-west-2a'] }, 'availabilityZones ["eu-west-2a","eu-west-2a"] is invalid'],
    [{ vpcCidr: '10.0.0.0/24' }, 'vpcCidr "10.0.0.0/24" is invalid: use an IPv4 CIDR block from /16 to /22'],
    [{ vpcCidr: '300.0.0.0/16' }, 'vpcCidr "300.0.0.0/16" is invalid'],
    [{ databaseSecretName: 'bad name!' }, 'databaseSecretName "bad name!" is invalid'],
    [
      { databaseSecretName: 'hipaa-fhir/dev/db-master' },
      'databaseSecretName "hipaa-fhir/dev/db-master" is invalid: a name ending in a hyphen and six characters is mistaken for the random suffix',
    ],
    [{ databaseSecretKeyArn: 'alias/foo' }, 'databaseSecretKeyArn "alias/foo" is invalid: use a KMS key ARN'],
    [{ databaseName: 'Patient-DB' }, 'databaseName "Patient-DB" is invalid'],
    [{ trailMode: 'none' }, 'trailMode "none" is invalid: use one of dedicated, shared'],
    [{ alarmEmail: 'not-an-email' }, 'alarmEmail "not-an-email" is invalid: use an e-mail address'],
    [
      { sizing: { dbInstanceType: 'db.t4g.micro' } },
      'sizing.dbInstanceType "db.t4g.micro" is invalid: use an RDS instance class without the "db." prefix',
    ],
    [{ sizing: { dbAllocatedStorageGiB: 10 } }, 'sizing.dbAllocatedStorageGiB 10 is invalid: expected a whole number from 20 to 65536'],
    [
      { sizing: { dbAllocatedStorageGiB: 100, dbMaxAllocatedStorageGiB: 50 } },
      'sizing.dbMaxAllocatedStorageGiB 50 is invalid: expected a whole number from 100 to 65536',
    ],
    [{ sizing: { streamShardCount: 1.5 } }, 'sizing.streamShardCount 1.5 is invalid'],
    [{ sizing: { shards: 2 } }, 'unknown sizing key "sizing.shards"'],
    [{ sizing: [] }, 'sizing [] is invalid: expected an object'],
    [{ secretName: 'x' }, 'unknown configuration key "secretName"'],
  ])('rejects %j with one precise line', (overrides, expected) => {
    const message = errorOf({ ...base, ...overrides });
    expect(message).toContain(expected);
    expect(message).not.toContain('\n');
  });

  test.each([
    // Issue 9: the VPC would have been built on another range (10.41.0.0/16 from 10.40.1.0/16 in synth).
    [{ vpcCidr: '10.40.1.0/16' }, 'vpcCidr "10.40.1.0/16" is invalid: host bits are set; use the network address 10.40.0.0/16'],
    [{ vpcCidr: '10.40.0.1/22' }, 'vpcCidr "10.40.0.1/22" is invalid: host bits are set; use the network address 10.40.0.0/22'],
    [{ vpcCidr: '192.168.7.0/21' }, 'vpcCidr "192.168.7.0/21" is invalid: host bits are set; use the network address 192.168.0.0/21'],
    [
      { availabilityZones: ['eu-west-2a', 'eu-west-2z'] },
      'availabilityZones ["eu-west-2a","eu-west-2z"] is invalid: list two distinct zones of eu-west-2 (the region code and a letter a-f), e.g. ["eu-west-2a", "eu-west-2b"]',
    ],
    [
      { availabilityZones: ['eu-west-2a', 'eu-west-2g'] },
      'availabilityZones ["eu-west-2a","eu-west-2g"] is invalid: list two distinct zones of eu-west-2 (the region code and a letter a-f), e.g. ["eu-west-2a", "eu-west-2b"]',
    ],
  ])('rejects %j with exactly this line', (overrides, expected) => {
    expect(errorOf({ ...base, ...overrides })).toBe(expected);
  });

  test.each(['10.40.0.0/16', '10.41.0.0/16', '172.16.4.0/22', '192.168.0.0/21'])('accepts the network address %s', (vpcCidr) => {
    expect(parseEnvironmentConfig({ ...base, vpcCidr }).network.vpcCidr).toBe(vpcCidr);
  });

  test('accepts zones a-f of the region', () => {
    expect(
      parseEnvironmentConfig({ ...base, region: 'us-east-1', availabilityZones: ['us-east-1a', 'us-east-1f'] }).network.availabilityZones,
    ).toEqual(['us-east-1a', 'us-east-1f']);
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
    [
      { branch: 'feature/x', expiresAt: '2026-11-25T09:00:00Z', profile: 'production' },
      'profile "production" is invalid: a preview environment must use the development profile',
    ],
  ])('%j', (raw, message) => {
    expect(() => parseEnvironmentConfig({ ...base, ...raw })).toThrow(message);
  });
});
