import {
  ConfigError,
  longLivedSuffixProblem,
  Naming,
  PREVIEW_SUFFIX_PREFIX,
  PREVIEW_TAG,
  PROCESSOR_DB_USER,
  projectProblem,
  suffixProblem,
} from '../contract';
import { ENVIRONMENT_ENTRY_KEYS, SIZING_KEYS } from './context';
import { parseRestoreDrill, RestoreDrillSettings } from './restore-drill-config';

/**
 * `development`: non-production environments with synthetic data only (the long-lived `dev`,
 * preview environments, personal environments): cheap, single-AZ where allowed, short retention,
 * everything destroyed with the stage.
 * `production`: Multi-AZ, deletion protection, snapshots on delete, 6-year log retention.
 */
export type Profile = 'development' | 'production';
export const PROFILES: readonly Profile[] = ['development', 'production'];

/**
 * `dedicated`: the stage creates its own CloudTrail trail.
 * `shared`: the stage relies on the one shared trail of the account and region (SharedTrailStack),
 * which records data events for every stream of the project. CloudTrail allows five trails
 * per region, so development environments must not each need one.
 */
export type TrailMode = 'dedicated' | 'shared';
export const TRAIL_MODES: readonly TrailMode[] = ['dedicated', 'shared'];

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
  /** The EXISTING Secrets Manager secret (JSON with `username` and `password`). */
  readonly masterSecretName: string;
  /** The CMK that encrypts the existing secret, when it is not the AWS managed key. */
  readonly masterSecretKeyArn?: string;
  /** The processor's own login (IAM authentication), created by migration 10. */
  readonly processorUser: string;
}

export interface StreamSettings {
  /** 0 means on-demand capacity. */
  readonly shardCount: number;
  readonly retentionHours: number;
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
  /** The scheduled restore drill (production profile: weekly; development: off). */
  readonly restoreDrill: RestoreDrillSettings;
  /** For a preview environment: its branch and when the sweeper may delete it. */
  readonly preview?: { readonly branch: string; readonly expiresAt: string };
  /** Tags added to every taggable resource of the environment. */
  readonly tags: Readonly<Record<string, string>>;
}

interface ProfileDefaults {
  readonly logRetentionDays: number;
  readonly destroyOnRemoval: boolean;
  readonly keyPendingWindowDays: number;
  readonly database: Omit<DatabaseSettings, 'databaseName' | 'masterSecretName' | 'masterSecretKeyArn' | 'processorUser'>;
  readonly stream: StreamSettings;
  readonly endpointAzCount: number;
  readonly trailMode: TrailMode;
  readonly processor: ProcessorSettings;
}

export const PROFILE_DEFAULTS: Readonly<Record<Profile, ProfileDefaults>> = {
  development: {
    logRetentionDays: 7,
    destroyOnRemoval: true,
    keyPendingWindowDays: 7,
    database: {
      instanceType: 't4g.micro',
      allocatedStorageGiB: 20,
      maxAllocatedStorageGiB: 50,
      multiAz: false,
      deletionProtection: false,
      snapshotOnDelete: false,
      backupRetentionDays: 1,
      performanceInsights: false,
      awsBackupPlan: false,
    },
    stream: { shardCount: 1, retentionHours: 24 },
    endpointAzCount: 1,
    trailMode: 'shared',
    processor: { cpu: 512, memoryMiB: 1024, minTasks: 1, maxTasks: 1 },
  },
  production: {
    // HIPAA requires documentation to be kept six years (45 CFR 164.316(b)(2)).
    logRetentionDays: 2192,
    destroyOnRemoval: false,
    keyPendingWindowDays: 30,
    database: {
      instanceType: 'm7g.large',
      allocatedStorageGiB: 100,
      maxAllocatedStorageGiB: 1000,
      multiAz: true,
      deletionProtection: true,
      snapshotOnDelete: true,
      backupRetentionDays: 35,
      performanceInsights: true,
      awsBackupPlan: true,
    },
    stream: { shardCount: 0, retentionHours: 168 },
    endpointAzCount: 2,
    trailMode: 'dedicated',
    processor: { cpu: 1024, memoryMiB: 2048, minTasks: 2, maxTasks: 8 },
  },
};

/** The raw shape accepted from CDK context (cdk.json `environments.<suffix>` plus top-level keys). */
export interface RawEnvironmentConfig {
  readonly [key: string]: unknown;
}

// The entry keys of cdk-context.schema.json, plus what bin/app.ts adds (suffix, project, preview fields).
const KNOWN_KEYS = new Set(['project', 'environmentSuffix', ...Object.keys(ENVIRONMENT_ENTRY_KEYS), 'branch', 'expiresAt']);
const KNOWN_SIZING_KEYS = new Set(Object.keys(SIZING_KEYS));

const REGION_PATTERN = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const ACCOUNT_PATTERN = /^\d{12}$/;
const CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const SECRET_NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const KMS_KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/;
const INSTANCE_TYPE_PATTERN = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const DB_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function fail(key: string, value: unknown, rule: string): never {
  throw new ConfigError(`${key} ${JSON.stringify(value)} is invalid: ${rule}`);
}

function optionalString(raw: RawEnvironmentConfig, key: string): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail(key, value, 'expected a string');
  return value;
}

function requiredString(raw: RawEnvironmentConfig, key: string, hint: string): string {
  const value = optionalString(raw, key);
  if (value === undefined || value === '') throw new ConfigError(`${key} is required: ${hint}`);
  return value;
}

function integerIn(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(key, value, `expected a whole number from ${min} to ${max}`);
  }
  return value;
}

function oneOf<T extends string>(key: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) fail(key, value, `use one of ${allowed.join(', ')}`);
  return value as T;
}

function parseCidr(value: string): string {
  const m = CIDR_PATTERN.exec(value);
  const octetsOk = m !== null && m.slice(1, 5).every((o) => Number(o) <= 255);
  const prefix = m ? Number(m[5]) : -1;
  // Two AZs x two subnet groups of /24 need at least a /22.
  if (!octetsOk || prefix < 16 || prefix > 22) fail('vpcCidr', value, 'use an IPv4 CIDR block from /16 to /22, e.g. 10.40.0.0/16');
  // The VPC construct would silently mask the host bits and build a different range than the one written.
  const address = m.slice(1, 5).reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - prefix);
  const network = address - (address % size);
  if (network !== address) {
    const octets = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
    fail('vpcCidr', value, `host bits are set; use the network address ${octets}/${prefix}`);
  }
  return value;
}

/**
 * Parses and validates one environment's configuration. Throws a ConfigError whose
 * message is a single line naming the setting, its value and the rule it breaks.
 */
export function parseEnvironmentConfig(raw: RawEnvironmentConfig): EnvironmentConfig {
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key)) throw new ConfigError(`unknown configuration key "${key}": use one of ${[...KNOWN_KEYS].join(', ')}`);
  }

  const project = requiredString(raw, 'project', 'set "project" in cdk.json context');
  const projectIssue = projectProblem(project);
  if (projectIssue) fail('project', project, projectIssue);

  const environmentSuffix = requiredString(
    raw,
    'environmentSuffix',
    'pass -c environmentSuffix=<name> or define it under "environments" in cdk.json',
  );
  const suffixIssue = suffixProblem(environmentSuffix);
  if (suffixIssue) fail('environmentSuffix', environmentSuffix, suffixIssue);

  const profile = oneOf('profile', raw.profile ?? 'development', PROFILES);
  const defaults = PROFILE_DEFAULTS[profile];

  const account = optionalString(raw, 'account');
  if (account !== undefined && !ACCOUNT_PATTERN.test(account)) fail('account', account, 'use a 12-digit AWS account id');

  const region = optionalString(raw, 'region') ?? 'eu-west-2';
  if (!REGION_PATTERN.test(region)) fail('region', region, 'use an AWS region code such as eu-west-2');
  // IAM policies, pipeline roles and trust relationships name ARNs in the commercial partition (arn:aws:...).
  // China (aws-cn) and GovCloud (aws-us-gov) regions need other ARNs and accounts of their own:
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
  if (/^cn-|-gov-/.test(region))
    fail(
      'region',
      region,
      `use a region of the commercial aws partition such as eu-west-2 (${region} is in ${region.startsWith('cn-') ? 'aws-cn' : 'aws-us-gov'}, whose ARNs this app does not write)`,
    );

  const azsRaw = raw.availabilityZones ?? [`${region}a`, `${region}b`];
  if (
    !Array.isArray(azsRaw) ||
    azsRaw.length !== 2 ||
    new Set(azsRaw).size !== 2 ||
    // Zone names are the region code and one letter; no region has more than six (a-f).
    !azsRaw.every((az) => typeof az === 'string' && az.startsWith(region) && /^[a-f]$/.test(az.slice(region.length)))
  ) {
    fail(
      'availabilityZones',
      azsRaw,
      `list two distinct zones of ${region} (the region code and a letter a-f), e.g. ["${region}a", "${region}b"]`,
    );
  }
  const availabilityZones = azsRaw as string[];

  const vpcCidr = parseCidr(optionalString(raw, 'vpcCidr') ?? '10.40.0.0/16');

  const masterSecretName = optionalString(raw, 'databaseSecretName') ?? `${project}/${environmentSuffix}/db-credentials`;
  if (!SECRET_NAME_PATTERN.test(masterSecretName)) {
    fail('databaseSecretName', masterSecretName, 'use the name of an existing Secrets Manager secret (letters, digits and /_+=.@-)');
  }
  if (/-[A-Za-z0-9]{6}$/.test(masterSecretName)) {
    // Partial-ARN look-ups (CloudFormation, ECS) read "-xxxxxx" as the random ARN suffix and fail.
    fail(
      'databaseSecretName',
      masterSecretName,
      'a name ending in a hyphen and six characters is mistaken for the random suffix of a full secret ARN; rename the secret, e.g. ".../db-credentials"',
    );
  }
  const masterSecretKeyArn = optionalString(raw, 'databaseSecretKeyArn');
  if (masterSecretKeyArn !== undefined && !KMS_KEY_ARN_PATTERN.test(masterSecretKeyArn)) {
    fail('databaseSecretKeyArn', masterSecretKeyArn, 'use a KMS key ARN, arn:aws:kms:<region>:<account>:key/<key-id>');
  }
  const databaseName = optionalString(raw, 'databaseName') ?? 'fhir';
  if (!DB_NAME_PATTERN.test(databaseName))
    fail('databaseName', databaseName, 'use 1-63 lowercase letters, digits and underscores, starting with a letter');

  const trailMode = oneOf('trailMode', raw.trailMode ?? defaults.trailMode, TRAIL_MODES);
  const alarmEmail = optionalString(raw, 'alarmEmail');
  if (alarmEmail !== undefined && !EMAIL_PATTERN.test(alarmEmail)) fail('alarmEmail', alarmEmail, 'use an e-mail address');

  const sizingRaw = raw.sizing ?? {};
  if (typeof sizingRaw !== 'object' || sizingRaw === null || Array.isArray(sizingRaw)) fail('sizing', sizingRaw, 'expected an object');
  const sizing = sizingRaw as Record<string, unknown>;
  for (const key of Object.keys(sizing)) {
    if (!KNOWN_SIZING_KEYS.has(key))
      throw new ConfigError(`unknown sizing key "sizing.${key}": use one of ${[...KNOWN_SIZING_KEYS].join(', ')}`);
  }
  const instanceType = sizing.dbInstanceType ?? defaults.database.instanceType;
  if (typeof instanceType !== 'string' || !INSTANCE_TYPE_PATTERN.test(instanceType) || instanceType.startsWith('db.')) {
    fail('sizing.dbInstanceType', instanceType, 'use an RDS instance class without the "db." prefix, e.g. t4g.micro');
  }
  const allocatedStorageGiB = integerIn(
    'sizing.dbAllocatedStorageGiB',
    sizing.dbAllocatedStorageGiB ?? defaults.database.allocatedStorageGiB,
    20,
    65536,
  );
  const maxAllocatedStorageGiB = integerIn(
    'sizing.dbMaxAllocatedStorageGiB',
    sizing.dbMaxAllocatedStorageGiB ?? defaults.database.maxAllocatedStorageGiB,
    allocatedStorageGiB,
    65536,
  );
  const shardCount = integerIn('sizing.streamShardCount', sizing.streamShardCount ?? defaults.stream.shardCount, 0, 500);

  const processorMaxTasks = integerIn(
    'sizing.processorMaxTasks',
    sizing.processorMaxTasks ?? defaults.processor.maxTasks,
    defaults.processor.minTasks,
    100,
  );
  const maxTasks = shardCount > 0 ? Math.max(defaults.processor.minTasks, Math.min(processorMaxTasks, shardCount)) : processorMaxTasks;

  const branch = optionalString(raw, 'branch');
  const expiresAt = optionalString(raw, 'expiresAt');
  if ((branch === undefined) !== (expiresAt === undefined))
    throw new ConfigError('branch and expiresAt go together: a preview environment needs both');
  if (
    expiresAt !== undefined &&
    (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(expiresAt) || Number.isNaN(Date.parse(expiresAt)))
  ) {
    fail('expiresAt', expiresAt, 'use an ISO-8601 UTC time such as 2026-11-25T09:00:00Z');
  }
  if (branch !== undefined && profile !== 'development') fail('profile', profile, 'a preview environment must use the development profile');
  // Preview names must be told apart from long-lived ones by pattern (IAM resources, see PREVIEW_SUFFIX_PREFIX).
  const longLivedIssue = branch === undefined ? longLivedSuffixProblem(environmentSuffix) : undefined;
  if (longLivedIssue) fail('environmentSuffix', environmentSuffix, longLivedIssue);
  if (branch !== undefined && !environmentSuffix.startsWith(PREVIEW_SUFFIX_PREFIX))
    fail('environmentSuffix', environmentSuffix, `a preview suffix starts with "${PREVIEW_SUFFIX_PREFIX}" (use suffixFromBranch)`);
  const preview = branch !== undefined ? { branch, expiresAt: expiresAt! } : undefined;

  const naming = new Naming(project, environmentSuffix);
  return {
    project,
    environmentSuffix,
    account,
    region,
    profile,
    naming,
    logRetentionDays: defaults.logRetentionDays,
    destroyOnRemoval: defaults.destroyOnRemoval,
    keyPendingWindowDays: defaults.keyPendingWindowDays,
    database: {
      ...defaults.database,
      instanceType,
      allocatedStorageGiB,
      maxAllocatedStorageGiB,
      databaseName,
      masterSecretName,
      masterSecretKeyArn,
      processorUser: PROCESSOR_DB_USER,
    },
    stream: { ...defaults.stream, shardCount },
    network: { vpcCidr, availabilityZones, endpointAzCount: defaults.endpointAzCount },
    audit: { trailMode, alarmEmail },
    processor: { ...defaults.processor, maxTasks },
    restoreDrill: parseRestoreDrill(raw.restoreDrill, profile),
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
