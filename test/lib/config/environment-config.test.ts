import { PROFILE_DEFAULTS } from '../../../lib/config';
import { ConfigError } from '../../../lib/contract';
import { testConfig, TestEnvironment } from '../../helpers';

/** Every problem of a one-environment cdk.json (environment "dev" unless the overrides name another), one line each. */
function problemsOf(overrides: Record<string, unknown>): readonly string[] {
  try {
    testConfig(overrides as TestEnvironment);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const COPY_VAULT = 'arn:aws:backup:eu-west-2:555555555555:backup-vault:hipaa-fhir-copies';

function errorOf(overrides: Record<string, unknown>): string {
  const problems = problemsOf(overrides);
  expect(problems).toHaveLength(1);
  return problems[0];
}

describe('an environment of cdk.json, resolved', () => {
  test('defaults to the development profile in eu-west-2 with pinned zones', () => {
    const config = testConfig();
    expect(config.profile).toBe('development');
    expect(config.region).toBe('eu-west-2');
    expect(config.network.availabilityZones).toEqual(['eu-west-2a', 'eu-west-2b']);
    expect(config.network.vpcCidr).toBe('10.40.0.0/16');
    expect(config.account).toBeUndefined();
    expect(config.database.master).toEqual({ source: 'existing-secret', secretName: 'hipaa-fhir/dev/db-credentials', rotationDays: 30 });
    expect(config.database.databaseName).toBe('fhir');
    expect(config.tags).toEqual({ Project: 'hipaa-fhir', EnvironmentSuffix: 'dev', Profile: 'development', Compliance: 'HIPAA' });
  });

  test('the master secret is rotated every 30 days unless databaseRotationDays says otherwise; 0 turns rotation off', () => {
    const rotationDays = (overrides: Parameters<typeof testConfig>[0]) => {
      const { master } = testConfig(overrides).database;
      return master.source === 'existing-secret' ? master.rotationDays : 'not an existing secret';
    };
    expect(rotationDays({})).toBe(30);
    expect(rotationDays({ profile: 'production' })).toBe(30);
    expect(rotationDays({ databaseRotationDays: 7 })).toBe(7);
    expect(rotationDays({ databaseRotationDays: 0 })).toBeUndefined();
  });

  test('development and production profiles differ where compliance and cost trade off', () => {
    const eph = testConfig({ profile: 'development' });
    const prod = testConfig({ profile: 'production' });
    expect(eph.destroyOnRemoval).toBe(true);
    expect(prod.destroyOnRemoval).toBe(false);
    expect(prod.logRetentionDays).toBe(2192);
    expect(eph.logRetentionDays).toBeLessThan(30);
    expect(prod.database).toMatchObject({
      multiAz: true,
      deletionProtection: true,
      snapshotOnDelete: true,
      awsBackupPlan: true,
      performanceInsights: true,
    });
    expect(eph.database).toMatchObject({
      multiAz: false,
      deletionProtection: false,
      snapshotOnDelete: false,
      awsBackupPlan: false,
      performanceInsights: false,
    });
    expect([eph.database.instanceType, prod.database.instanceType]).toEqual(['t4g.micro', 'm7g.large']);
    expect([eph.database.allocatedStorageGiB, eph.database.maxAllocatedStorageGiB]).toEqual([20, 50]);
    expect([prod.database.allocatedStorageGiB, prod.database.maxAllocatedStorageGiB]).toEqual([100, 1000]);
    expect(eph.audit.trailMode).toBe('shared');
    expect(prod.audit.trailMode).toBe('dedicated');
    expect(eph.network.endpointAzCount).toBe(1);
    expect(prod.network.endpointAzCount).toBe(2);
  });

  test('stream and processor sizing: one shard and one task in development; on demand with 2 to 8 tasks in production, or at most one task per shard', () => {
    const eph = testConfig({ profile: 'development' });
    const prod = testConfig({ profile: 'production' });
    expect([eph.stream, eph.processor]).toEqual([
      { shardCount: 1, retentionHours: 24, maxRecordSizeKiB: 1024 },
      { cpu: 512, memoryMiB: 1024, minTasks: 1, maxTasks: 1 },
    ]);
    // A shard count of 0 is an on-demand stream: the profile's maximum applies.
    expect([prod.stream, prod.processor]).toEqual([
      { shardCount: 0, retentionHours: 168, maxRecordSizeKiB: 1024 },
      { cpu: 1024, memoryMiB: 2048, minTasks: 2, maxTasks: 8 },
    ]);
    expect(testConfig({ profile: 'production', sizing: { streamShardCount: 4 } }).processor).toMatchObject({ minTasks: 2, maxTasks: 4 });
    // Never below the minimum, even with fewer shards.
    expect(testConfig({ profile: 'production', sizing: { streamShardCount: 1 } }).processor).toMatchObject({ minTasks: 2, maxTasks: 2 });
  });

  test('producerPrincipals: account ids and IAM role or user ARNs of any account; anything else is one line naming the fix', () => {
    expect(testConfig().producer).toEqual({ trustedPrincipals: [] });
    const listed = ['444455556666', 'arn:aws:iam::777788889999:role/hospital-feed', 'arn:aws:iam::123456789012:user/etl'];
    expect(testConfig({ producerPrincipals: listed }).producer.trustedPrincipals).toEqual(listed);
    expect(errorOf({ producerPrincipals: ['arn:aws:iam::123456789012:group/admins'] })).toBe(
      'environments.dev.producerPrincipals.0 "arn:aws:iam::123456789012:group/admins" is invalid: use a 12-digit AWS account id or an IAM role or user ARN (arn:aws:iam::123456789012:role/name), another account allowed',
    );
  });

  test('the stream accepts records of 1 MiB unless sizing.streamMaxRecordSizeKiB raises it (up to 10 MiB, as Kinesis allows)', () => {
    expect(testConfig({ sizing: { streamMaxRecordSizeKiB: 10240 } }).stream.maxRecordSizeKiB).toBe(10240);
    expect(errorOf({ sizing: { streamMaxRecordSizeKiB: 512 } })).toBe(
      'environments.dev.sizing.streamMaxRecordSizeKiB 512 is invalid: expected a whole number from 1024 to 10240',
    );
    expect(errorOf({ sizing: { streamMaxRecordSizeKiB: 10241 } })).toBe(
      'environments.dev.sizing.streamMaxRecordSizeKiB 10241 is invalid: expected a whole number from 1024 to 10240',
    );
  });

  test('the stream keeps records 24 hours in development, 7 days in production, or as long as sizing.streamRetentionHours says', () => {
    expect([testConfig().stream.retentionHours, testConfig({ profile: 'production' }).stream.retentionHours]).toEqual([24, 168]);
    expect(testConfig({ profile: 'production', sizing: { streamRetentionHours: 720 } }).stream).toEqual({
      shardCount: 0,
      retentionHours: 720,
      maxRecordSizeKiB: 1024,
    });
    expect(errorOf({ sizing: { streamRetentionHours: 12 } })).toBe(
      'environments.dev.sizing.streamRetentionHours 12 is invalid: expected a whole number from 24 to 8760',
    );
  });

  test('sizing overrides apply on top of the profile, the others keep their profile defaults', () => {
    const config = testConfig({
      profile: 'production',
      sizing: { dbInstanceType: 'r7g.large', streamShardCount: 4, dbAllocatedStorageGiB: 200 },
    });
    expect(config.database.instanceType).toBe('r7g.large');
    expect(config.database.allocatedStorageGiB).toBe(200);
    expect(config.database.maxAllocatedStorageGiB).toBe(1000);
    expect(config.stream.shardCount).toBe(4);
    expect(config.database.multiAz).toBe(PROFILE_DEFAULTS.production.database.multiAz);
  });

  test('accepts an explicit account, region, secret, key and alarm e-mail', () => {
    const config = testConfig({
      account: '123456789012',
      region: 'us-east-1',
      databaseSecretName: 'shared/ephemeral/db-credentials',
      databaseSecretKeyArn: 'arn:aws:kms:eu-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
      alarmEmail: 'security@example.org',
      trailMode: 'dedicated',
    });
    expect(config.account).toBe('123456789012');
    expect(config.region).toBe('us-east-1');
    expect(config.network.availabilityZones).toEqual(['us-east-1a', 'us-east-1b']);
    expect(config.database.master).toEqual({
      source: 'existing-secret',
      secretName: 'shared/ephemeral/db-credentials',
      secretKeyArn: 'arn:aws:kms:eu-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
      rotationDays: 30,
    });
    expect(config.audit).toEqual({ trailMode: 'dedicated', alarmEmail: 'security@example.org', lockDays: 0 });
  });

  test.each([
    [
      { environmentSuffix: 'Feature/ABC_1' },
      'environmentSuffix "Feature/ABC_1" is invalid: use 1-20 lowercase letters, digits and single hyphens, not starting or ending with a hyphen',
    ],
    [{ environmentSuffix: 'a--b' }, 'environmentSuffix "a--b" is invalid'],
    [{ environmentSuffix: '-dev' }, 'environmentSuffix "-dev" is invalid'],
    [{ environmentSuffix: 'x'.repeat(21) }, `environmentSuffix "${'x'.repeat(21)}" is invalid`],
    [{ project: 'HIPAA' }, 'project "HIPAA" is invalid'],
    [{ project: 'a-very-long-project' }, 'project "a-very-long-project" is invalid'],
    [{ profile: 'staging' }, 'environments.dev.profile "staging" is invalid: use one of development, production'],
    [{ region: 'london' }, 'environments.dev.region "london" is invalid: use an AWS region code such as eu-west-2'],
    [
      { region: 'us-gov-west-1' },
      'environments.dev.region "us-gov-west-1" is invalid: use a region of the commercial aws partition such as eu-west-2 (China and GovCloud regions are in the aws-cn and aws-us-gov partitions, whose ARNs this app does not write)',
    ],
    [{ region: 'cn-north-1' }, 'environments.dev.region "cn-north-1" is invalid: use a region of the commercial aws partition'],
    [{ account: '1234' }, 'environments.dev.account "1234" is invalid: use a 12-digit AWS account id'],
    [{ account: 123456789012 }, 'environments.dev.account 123456789012 is invalid: expected a string'],
    [{ availabilityZones: ['eu-west-2a'] }, 'environments.dev.availabilityZones ["eu-west-2a"] is invalid: expected a list of 2 items'],
    [{ availabilityZones: ['us-east-1a', 'us-east-1b'] }, 'list two distinct zones of eu-west-2'],
    [{ availabilityZones: ['eu-west-2a', 'eu-west-2a'] }, 'environments.dev.availabilityZones ["eu-west-2a","eu-west-2a"] is invalid'],
    [{ vpcCidr: '10.0.0.0/24' }, 'environments.dev.vpcCidr "10.0.0.0/24" is invalid: use an IPv4 CIDR block from /16 to /22'],
    [{ vpcCidr: '300.0.0.0/16' }, 'environments.dev.vpcCidr "300.0.0.0/16" is invalid'],
    [{ databaseSecretName: 'bad name!' }, 'environments.dev.databaseSecretName "bad name!" is invalid'],
    [
      { databaseSecretName: 'hipaa-fhir/dev/db-master' },
      'environments.dev.databaseSecretName "hipaa-fhir/dev/db-master" is invalid: a name ending in a hyphen and six characters is mistaken for the random suffix',
    ],
    [{ databaseSecretKeyArn: 'alias/foo' }, 'environments.dev.databaseSecretKeyArn "alias/foo" is invalid: use a KMS key ARN'],
    [{ databaseName: 'Patient-DB' }, 'environments.dev.databaseName "Patient-DB" is invalid'],
    [{ trailMode: 'none' }, 'environments.dev.trailMode "none" is invalid: use one of dedicated, shared'],
    [{ alarmEmail: 'not-an-email' }, 'environments.dev.alarmEmail "not-an-email" is invalid: use an e-mail address'],
    [
      { sizing: { dbInstanceType: 'db.t4g.micro' } },
      'environments.dev.sizing.dbInstanceType "db.t4g.micro" is invalid: use an RDS instance class without the "db." prefix',
    ],
    [
      { sizing: { dbAllocatedStorageGiB: 10 } },
      'environments.dev.sizing.dbAllocatedStorageGiB 10 is invalid: expected a whole number from 20 to 65536',
    ],
    [
      { sizing: { dbAllocatedStorageGiB: 100, dbMaxAllocatedStorageGiB: 50 } },
      'environments.dev.sizing.dbMaxAllocatedStorageGiB 50 is invalid: the storage autoscaling ceiling must be at least dbAllocatedStorageGiB (100); use a whole number from 100 to 65536',
    ],
    // The production profile's default ceiling (1000) is below this allocation: the ceiling must be raised with it.
    [
      { profile: 'production', sizing: { dbAllocatedStorageGiB: 2000 } },
      'environments.dev.sizing.dbMaxAllocatedStorageGiB 1000 is invalid: the storage autoscaling ceiling must be at least dbAllocatedStorageGiB (2000)',
    ],
    [
      { profile: 'production', sizing: { processorMaxTasks: 1 } },
      'environments.dev.sizing.processorMaxTasks 1 is invalid: the production profile runs at least 2 tasks; use a whole number from 2 to 100',
    ],
    [{ sizing: { streamShardCount: 1.5 } }, 'environments.dev.sizing.streamShardCount 1.5 is invalid: expected a whole number'],
    [{ sizing: { shards: 2 } }, 'unknown key "shards" in environments.dev.sizing (allowed: '],
    [{ sizing: [] }, 'environments.dev.sizing [] is invalid: expected an object'],
    [{ secretName: 'x' }, 'unknown key "secretName" in environments.dev'],
  ])('rejects %j with one precise line', (overrides, expected) => {
    const message = errorOf(overrides);
    expect(message).toContain(expected);
    expect(message).not.toContain('\n');
  });

  test.each([
    // Issue 9: the VPC would have been built on another range (10.41.0.0/16 from 10.40.1.0/16 in synth).
    [
      { vpcCidr: '10.40.1.0/16' },
      'environments.dev.vpcCidr "10.40.1.0/16" is invalid: host bits are set; use the network address 10.40.0.0/16',
    ],
    [
      { vpcCidr: '10.40.0.1/22' },
      'environments.dev.vpcCidr "10.40.0.1/22" is invalid: host bits are set; use the network address 10.40.0.0/22',
    ],
    [
      { vpcCidr: '192.168.7.0/21' },
      'environments.dev.vpcCidr "192.168.7.0/21" is invalid: host bits are set; use the network address 192.168.0.0/21',
    ],
    [
      { availabilityZones: ['eu-west-2a', 'eu-west-2z'] },
      'environments.dev.availabilityZones ["eu-west-2a","eu-west-2z"] is invalid: list two distinct zones of eu-west-2 (the region code and a letter a-f), e.g. ["eu-west-2a", "eu-west-2b"]',
    ],
    [
      { availabilityZones: ['eu-west-2a', 'eu-west-2ab'] },
      'environments.dev.availabilityZones ["eu-west-2a","eu-west-2ab"] is invalid: list two distinct zones of eu-west-2 (the region code and a letter a-f), e.g. ["eu-west-2a", "eu-west-2b"]',
    ],
    [
      { availabilityZones: ['eu-west-2a', 'eu-west-2g'] },
      'environments.dev.availabilityZones ["eu-west-2a","eu-west-2g"] is invalid: list two distinct zones of eu-west-2 (the region code and a letter a-f), e.g. ["eu-west-2a", "eu-west-2b"]',
    ],
  ])('rejects %j with exactly this line', (overrides, expected) => {
    expect(errorOf(overrides)).toBe(expected);
  });

  test('every problem of the shape is reported at once, one line per setting', () => {
    expect(
      problemsOf({
        profile: 'staging',
        vpcCidr: '10.0.0.0/8',
        databaseSecretKeyArn: 'alias/foo',
        sizing: { dbAllocatedStorageGiB: 10, streamShardCount: 'two' },
        restoreDrill: { rtoTargetMinutes: 0 },
      }),
    ).toEqual([
      'environments.dev.profile "staging" is invalid: use one of development, production',
      'environments.dev.vpcCidr "10.0.0.0/8" is invalid: use an IPv4 CIDR block from /16 to /22, e.g. 10.40.0.0/16',
      'environments.dev.databaseSecretKeyArn "alias/foo" is invalid: use a KMS key ARN, arn:aws:kms:<region>:<account>:key/<key-id>',
      'environments.dev.sizing.dbAllocatedStorageGiB 10 is invalid: expected a whole number from 20 to 65536',
      'environments.dev.sizing.streamShardCount "two" is invalid: expected a whole number',
      'environments.dev.restoreDrill.rtoTargetMinutes 0 is invalid: expected a whole number from 5 to 1440',
    ]);
  });

  test('so is every problem between settings, once the shape is right', () => {
    expect(
      problemsOf({
        environmentSuffix: 'br-x',
        vpcCidr: '10.40.1.0/16',
        availabilityZones: ['eu-west-2a', 'eu-west-2z'],
        sizing: { dbAllocatedStorageGiB: 100, dbMaxAllocatedStorageGiB: 50 },
      }),
    ).toEqual([
      'environmentSuffix "br-x" is invalid: suffixes starting with (or containing) "br-" are reserved for preview environments; rename the environment',
      'environments.br-x.availabilityZones ["eu-west-2a","eu-west-2z"] is invalid: list two distinct zones of eu-west-2 (the region code and a letter a-f), e.g. ["eu-west-2a", "eu-west-2b"]',
      'environments.br-x.vpcCidr "10.40.1.0/16" is invalid: host bits are set; use the network address 10.40.0.0/16',
      'environments.br-x.sizing.dbMaxAllocatedStorageGiB 50 is invalid: the storage autoscaling ceiling must be at least dbAllocatedStorageGiB (100); use a whole number from 100 to 65536',
    ]);
  });

  test('production locks its audit buckets for six years and may copy backups to another account; development does neither', () => {
    const prod = testConfig({ profile: 'production', account: '333333333333', backupCopyVaultArn: COPY_VAULT });
    expect(prod.audit.lockDays).toBe(2192);
    expect(prod.database.backupCopyVaultArn).toBe(COPY_VAULT);
    expect(testConfig({ profile: 'production' }).database.backupCopyVaultArn).toBeUndefined();
    expect(testConfig().audit.lockDays).toBe(0);
  });

  test.each([
    [
      { auditLockDays: 30 },
      'environments.dev.auditLockDays 30 is invalid: the development profile destroys its buckets with the stage, which Object Lock would forbid for 30 days; use 0, or the production profile',
    ],
    [
      { backupCopyVaultArn: COPY_VAULT },
      `environments.dev.backupCopyVaultArn "${COPY_VAULT}" is invalid: the development profile has no AWS Backup plan whose recovery points could be copied; remove it, or use the production profile`,
    ],
    [
      { profile: 'production', account: '555555555555', backupCopyVaultArn: COPY_VAULT },
      `environments.dev.backupCopyVaultArn "${COPY_VAULT}" is invalid: the copy must be in another account than the environment's (555555555555), so that no one in it can delete both; use a vault of your backup or log-archive account`,
    ],
    [
      { profile: 'production', backupCopyVaultArn: 'arn:aws:backup:eu-west-2:555555555555:vault/x' },
      'environments.dev.backupCopyVaultArn "arn:aws:backup:eu-west-2:555555555555:vault/x" is invalid: use a backup vault ARN, arn:aws:backup:<region>:<account>:backup-vault:<name>',
    ],
  ])('refuses the audit and backup settings %j with one line', (overrides, expected) => {
    expect(errorOf(overrides)).toBe(expected);
  });

  test.each(['10.40.0.0/16', '10.41.0.0/16', '172.16.4.0/22', '192.168.0.0/21'])('accepts the network address %s', (vpcCidr) => {
    expect(testConfig({ vpcCidr }).network.vpcCidr).toBe(vpcCidr);
  });

  test('accepts a storage autoscaling ceiling equal to the allocated storage (no autoscaling headroom)', () => {
    const config = testConfig({ sizing: { dbAllocatedStorageGiB: 100, dbMaxAllocatedStorageGiB: 100 } });
    expect([config.database.allocatedStorageGiB, config.database.maxAllocatedStorageGiB]).toEqual([100, 100]);
  });

  test('the reader role trusts the readers listed, and no one when none are', () => {
    const reader = 'arn:aws:iam::444444444444:role/clinical-app';
    expect(testConfig({ readers: [reader] }).readers).toEqual([reader]);
    expect(testConfig().readers).toEqual([]);
  });

  test('accepts zones a-f of the region', () => {
    expect(testConfig({ region: 'us-east-1', availabilityZones: ['us-east-1a', 'us-east-1f'] }).network.availabilityZones).toEqual([
      'us-east-1a',
      'us-east-1f',
    ]);
  });
});

describe('a preview environment, resolved', () => {
  test('its branch and expiry (previews.ttlHours after the synth) become tags; the development profile; a master password RDS manages, not an existing secret', () => {
    const c = testConfig({ branch: 'feature/abc-1 x#y' });
    expect(c.environmentSuffix).toMatch(/^br-abc-1-x-y/);
    expect(c.profile).toBe('development');
    // RDS manages (and rotates) a preview's password: no rotation function of ours, no setting for it.
    expect(c.database.master).toEqual({ source: 'rds-managed', username: 'fhir_admin' });
    expect(c.preview).toEqual({ branch: 'feature/abc-1 x#y', expiresAt: '2026-12-01T09:00:00Z' });
    expect(c.tags).toMatchObject({ Preview: 'true', Branch: 'feature/abc-1 x_y', ExpiresAt: '2026-12-01T09:00:00Z' });
  });
});
