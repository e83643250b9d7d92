import { longLivedSuffixProblem, Naming, PREVIEW_TAG, PROCESSOR_DB_USER, suffixProblem } from '../contract';
import type { DefaultedEnvironment, Profile, RawEnvironment, TrailMode } from './generated/cdk-context';
import { Problems } from './problems';
import { restoreDrillSettings, RestoreDrillSettings } from './restore-drill-config';
import { withDefaults } from './schema';

export type { Profile, TrailMode } from './generated/cdk-context';

export interface DatabaseSettings {
  /** RDS instance class without the `db.` prefix, e.g. `t4g.micro`. */
  readonly instanceType: string;
  readonly allocatedStorageGiB: number;
  /** Storage autoscaling ceiling. */
  readonly maxAllocatedStorageGiB: number;
  readonly multiAz: boolean;
  readonly deletionProtection: boolean;
  /** Snapshot on stack deletion (production) or delete outright (development). */
  readonly snapshotOnDelete: boolean;
  readonly backupRetentionDays: number;
  readonly performanceInsights: boolean;
  /** An AWS Backup plan (daily 35 days, monthly 1 year) on top of RDS automated backups. */
  readonly awsBackupPlan: boolean;
  readonly databaseName: string;
  /** Where the master user's password lives: an EXISTING secret, or (previews) one RDS creates and rotates. */
  readonly master: MasterCredentials;
  /** The processor's own login (IAM authentication), created by migration 10. */
  readonly processorUser: string;
  /** A vault in another account every AWS Backup recovery point is copied to. @default no copy */
  readonly backupCopyVaultArn?: string;
}

/**
 * The database master user's credentials.
 * - `existing-secret` (every long-lived and personal environment): an EXISTING Secrets Manager secret, JSON with
 *   `username` and `password`, read and never written by the stacks.
 * - `rds-managed` (preview environments): RDS generates the password, keeps it in a secret of its own
 *   (`rds!db-...`, encrypted with the AWS managed key `aws/secretsmanager`), rotates it every 7 days and deletes
 *   it with the instance (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html):
 *   one secret per preview that nobody creates or deletes by hand, and no secret shared between previews.
 */
export type MasterCredentials =
  | {
      readonly source: 'existing-secret';
      readonly secretName: string;
      readonly secretKeyArn?: string;
      /** Days between rotations of the secret by the environment's rotation function. @default no rotation */
      readonly rotationDays?: number;
    }
  | { readonly source: 'rds-managed'; readonly username: string };

/** The master user of a preview's database (RDS-managed password); a letter first, not a PostgreSQL reserved word. */
export const PREVIEW_MASTER_USER = 'fhir_admin';

export interface StreamSettings {
  /** 0 means on-demand capacity. */
  readonly shardCount: number;
  readonly retentionHours: number;
  /** The largest record the stream accepts (partition key included), in KiB: also the processor's MAX_RECORD_BYTES. */
  readonly maxRecordSizeKiB: number;
}

export interface NetworkSettings {
  readonly vpcCidr: string;
  /** Pinned so synth needs no AZ look-up. */
  readonly availabilityZones: readonly string[];
  /** AZs that get an interface endpoint ENI; fewer AZs cost less, traffic crosses AZs instead. */
  readonly endpointAzCount: number;
}

export interface ProcessorSettings {
  /** Fargate task CPU units (256, 512, 1024, ...). */
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly minTasks: number;
  /** Never more than the shard count: a task without a shard lease has nothing to do. */
  readonly maxTasks: number;
}

export interface AuditSettings {
  readonly trailMode: TrailMode;
  /** Where security alarms are e-mailed; the SNS topic exists either way. */
  readonly alarmEmail?: string;
  /** Object Lock (compliance mode) days on the trail bucket and the audit archive; 0 is none. */
  readonly lockDays: number;
}

export interface ProducerSettings {
  /** Account ids or IAM role/user ARNs that may assume the producer role; empty: the environment's own account. */
  readonly trustedPrincipals: readonly string[];
}

/** One environment, fully resolved and validated. Everything below `bin/` receives this. */
export interface EnvironmentConfig {
  readonly project: string;
  readonly environmentSuffix: string;
  /** AWS account; undefined leaves the stacks account-agnostic (synth without credentials). */
  readonly account?: string;
  readonly region: string;
  readonly profile: Profile;
  readonly naming: Naming;
  readonly logRetentionDays: number;
  /** Whether every resource is destroyed with its stack (development) or retained (production). */
  readonly destroyOnRemoval: boolean;
  /** KMS key deletion waiting period. */
  readonly keyPendingWindowDays: number;
  readonly database: DatabaseSettings;
  readonly stream: StreamSettings;
  readonly network: NetworkSettings;
  readonly audit: AuditSettings;
  readonly processor: ProcessorSettings;
  /** Who may put records on the stream, through the environment's producer role. */
  readonly producer: ProducerSettings;
  /** The scheduled restore drill (production profile: weekly; development: off). */
  readonly restoreDrill: RestoreDrillSettings;
  /** Principals that may assume the reader role, the one identity of the FHIR read API (cdk.json `readers`). */
  readonly readers: readonly string[];
  /** For a preview environment: its branch and when the sweeper may delete it. */
  readonly preview?: { readonly branch: string; readonly expiresAt: string };
  /** Tags added to every taggable resource of the environment. */
  readonly tags: Readonly<Record<string, string>>;
}

interface ProfileDefaults {
  readonly logRetentionDays: number;
  readonly destroyOnRemoval: boolean;
  readonly keyPendingWindowDays: number;
  readonly database: Omit<
    DatabaseSettings,
    'instanceType' | 'allocatedStorageGiB' | 'maxAllocatedStorageGiB' | 'databaseName' | 'master' | 'processorUser' | 'backupCopyVaultArn'
  >;
  readonly endpointAzCount: number;
  readonly processor: Omit<ProcessorSettings, 'maxTasks'>;
}

/**
 * What a profile decides that is not a setting (the settings' profile defaults are the schema's
 * `profileDefaults`): protection, retention and the sizes no environment overrides.
 */
export const PROFILE_DEFAULTS: Readonly<Record<Profile, ProfileDefaults>> = {
  development: {
    logRetentionDays: 7,
    destroyOnRemoval: true,
    keyPendingWindowDays: 7,
    database: {
      multiAz: false,
      deletionProtection: false,
      snapshotOnDelete: false,
      backupRetentionDays: 1,
      performanceInsights: false,
      awsBackupPlan: false,
    },
    endpointAzCount: 1,
    processor: { cpu: 512, memoryMiB: 1024, minTasks: 1 },
  },
  production: {
    // HIPAA requires documentation to be kept six years (45 CFR 164.316(b)(2)).
    logRetentionDays: 2192,
    destroyOnRemoval: false,
    keyPendingWindowDays: 30,
    database: {
      multiAz: true,
      deletionProtection: true,
      snapshotOnDelete: true,
      backupRetentionDays: 35,
      performanceInsights: true,
      awsBackupPlan: true,
    },
    endpointAzCount: 2,
    processor: { cpu: 1024, memoryMiB: 2048, minTasks: 2 },
  },
};

/** One environment as resolveApp assembles it: its entry (with any -c overrides) and what the context adds. */
export interface EnvironmentInput {
  readonly project: string;
  readonly environmentSuffix: string;
  /** The context region (the entry may name its own). */
  readonly region: string;
  /** The context account (the entry may name its own). */
  readonly account?: string;
  readonly entry: RawEnvironment;
  /** For a preview environment: its branch and when the sweeper may delete it. */
  readonly preview?: { readonly branch: string; readonly expiresAt: string };
  /** Where a setting of the entry is written, for messages (`environments.dev.vpcCidr`, or `vpcCidr` from -c). */
  readonly pathOf: (setting: string) => string;
}

/** The rules between an environment's settings that a schema cannot state; each problem is added to `problems`. */
function checkEnvironment(input: EnvironmentInput, settings: DefaultedEnvironment, region: string, problems: Problems): void {
  const { pathOf } = input;
  const suffixIssue =
    suffixProblem(input.environmentSuffix) ?? (input.preview ? undefined : longLivedSuffixProblem(input.environmentSuffix));
  // Preview names must be told apart from long-lived ones by pattern (IAM resources, see PREVIEW_SUFFIX_PREFIX).
  if (suffixIssue) problems.invalid('environmentSuffix', input.environmentSuffix, suffixIssue);

  const zones = settings.availabilityZones;
  // Zone names are the region code and one letter; no region has more than six (a-f).
  if (zones && !zones.every((zone) => zone.startsWith(region) && /^[a-f]$/.test(zone.slice(region.length)))) {
    problems.invalid(
      pathOf('availabilityZones'),
      zones,
      `list two distinct zones of ${region} (the region code and a letter a-f), e.g. ["${region}a", "${region}b"]`,
    );
  }

  // The VPC construct would silently mask the host bits and build a different range than the one written.
  const [address, prefix] = settings.vpcCidr.split('/');
  const value = address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(prefix));
  const network = value - (value % size);
  if (network !== value) {
    const octets = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
    problems.invalid(pathOf('vpcCidr'), settings.vpcCidr, `host bits are set; use the network address ${octets}/${prefix}`);
  }

  const { sizing } = settings;
  if (sizing.dbMaxAllocatedStorageGiB < sizing.dbAllocatedStorageGiB) {
    problems.invalid(
      `${pathOf('sizing')}.dbMaxAllocatedStorageGiB`,
      sizing.dbMaxAllocatedStorageGiB,
      `the storage autoscaling ceiling must be at least dbAllocatedStorageGiB (${sizing.dbAllocatedStorageGiB}); use a whole number from ${sizing.dbAllocatedStorageGiB} to 65536`,
    );
  }
  const defaults = PROFILE_DEFAULTS[settings.profile];
  // A development environment is destroyed with its stage: locked objects would keep its buckets, and the stack, from being deleted.
  if (settings.auditLockDays > 0 && defaults.destroyOnRemoval) {
    problems.invalid(
      pathOf('auditLockDays'),
      settings.auditLockDays,
      `the ${settings.profile} profile destroys its buckets with the stage, which Object Lock would forbid for ${settings.auditLockDays} days; use 0, or the production profile`,
    );
  }
  const copyVault = settings.backupCopyVaultArn;
  if (copyVault !== undefined) {
    const copyAccount = copyVault.split(':')[4];
    const account = settings.account ?? input.account;
    if (!defaults.database.awsBackupPlan) {
      problems.invalid(
        pathOf('backupCopyVaultArn'),
        copyVault,
        `the ${settings.profile} profile has no AWS Backup plan whose recovery points could be copied; remove it, or use the production profile`,
      );
    } else if (account !== undefined && copyAccount === account) {
      problems.invalid(
        pathOf('backupCopyVaultArn'),
        copyVault,
        `the copy must be in another account than the environment's (${account}), so that no one in it can delete both; use a vault of your backup or log-archive account`,
      );
    }
  }
  const { minTasks } = defaults.processor;
  if (sizing.processorMaxTasks < minTasks) {
    problems.invalid(
      `${pathOf('sizing')}.processorMaxTasks`,
      sizing.processorMaxTasks,
      `the ${settings.profile} profile runs at least ${minTasks} tasks; use a whole number from ${minTasks} to 100`,
    );
  }
}

/**
 * One environment, resolved: the schema's defaults for its profile applied to its entry, the rules
 * between its settings checked. Adds every problem to `problems` and returns undefined if there is any.
 * The entry must have passed the schema (validateContext).
 */
export function resolveEnvironment(input: EnvironmentInput, problems: Problems): EnvironmentConfig | undefined {
  const settings = withDefaults('environment', input.entry);
  const { project, environmentSuffix, preview } = input;
  const region = settings.region ?? input.region;
  const before = problems.count;
  checkEnvironment(input, settings, region, problems);
  if (problems.count > before) return undefined;

  const defaults = PROFILE_DEFAULTS[settings.profile];
  const { sizing } = settings;
  const shardCount = sizing.streamShardCount;
  // A task without a shard lease has nothing to do; 0 shards is on-demand capacity.
  const maxTasks =
    shardCount > 0 ? Math.max(defaults.processor.minTasks, Math.min(sizing.processorMaxTasks, shardCount)) : sizing.processorMaxTasks;
  const profile = settings.profile;
  return {
    project,
    environmentSuffix,
    account: settings.account ?? input.account,
    region,
    profile,
    naming: new Naming(project, environmentSuffix),
    logRetentionDays: defaults.logRetentionDays,
    destroyOnRemoval: defaults.destroyOnRemoval,
    keyPendingWindowDays: defaults.keyPendingWindowDays,
    database: {
      ...defaults.database,
      instanceType: sizing.dbInstanceType,
      allocatedStorageGiB: sizing.dbAllocatedStorageGiB,
      maxAllocatedStorageGiB: sizing.dbMaxAllocatedStorageGiB,
      databaseName: settings.databaseName,
      master: preview
        ? { source: 'rds-managed', username: PREVIEW_MASTER_USER }
        : {
            source: 'existing-secret',
            secretName: settings.databaseSecretName ?? `${project}/${environmentSuffix}/db-credentials`,
            secretKeyArn: settings.databaseSecretKeyArn,
            rotationDays: settings.databaseRotationDays === 0 ? undefined : settings.databaseRotationDays,
          },
      processorUser: PROCESSOR_DB_USER,
      backupCopyVaultArn: settings.backupCopyVaultArn,
    },
    stream: { shardCount, retentionHours: sizing.streamRetentionHours, maxRecordSizeKiB: sizing.streamMaxRecordSizeKiB },
    network: {
      vpcCidr: settings.vpcCidr,
      availabilityZones: settings.availabilityZones ?? [`${region}a`, `${region}b`],
      endpointAzCount: defaults.endpointAzCount,
    },
    audit: { trailMode: settings.trailMode, alarmEmail: settings.alarmEmail, lockDays: settings.auditLockDays },
    processor: { ...defaults.processor, maxTasks },
    producer: { trustedPrincipals: settings.producerPrincipals },
    restoreDrill: restoreDrillSettings(settings.restoreDrill),
    // Stryker disable next-line ArrayDeclaration: unreachable, withDefaults has applied the schema's default [] to readers
    readers: settings.readers ?? [],
    preview,
    tags: {
      Project: project,
      EnvironmentSuffix: environmentSuffix,
      Profile: profile,
      Compliance: 'HIPAA',
      // Tag values allow letters, digits, spaces and _ . : / = + - @ only.
      ...(preview
        ? {
            [PREVIEW_TAG.key]: PREVIEW_TAG.value,
            Branch: preview.branch.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '_').slice(0, 256),
            ExpiresAt: preview.expiresAt,
          }
        : {}),
    },
  };
}
