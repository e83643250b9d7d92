// Generated from lib/config/cdk-context.schema.json by scripts/generators/generate-config-types.ts: do not edit.
// A test (test/lib/config/generated.test.ts) fails while this file is stale.

/** A 12-digit AWS account id. */
export type AccountId = string;

/** An AWS region code of the commercial aws partition, such as eu-west-2. */
export type Region = string;

/** The ARN of a KMS key. */
export type KmsKeyArn = string;

/** An e-mail address. */
export type Email = string;

/** A git branch name. */
export type BranchName = string;

/** The name of an EXISTING Secrets Manager secret. */
export type SecretName = string;

/** development: non-production with synthetic data only (dev, previews, personal environments): cheap, single-AZ where allowed, short retention, destroyed with the stage. production: Multi-AZ, deletion protection, snapshots on delete, 6-year log retention. */
export type Profile = 'development' | 'production';

/** dedicated: the stage creates its own CloudTrail trail; shared: it relies on the one shared trail of the account and region, which records data events for every stream of the project (CloudTrail allows 5 trails per region). */
export type TrailMode = 'dedicated' | 'shared';

/** CDK context of the app. Keys the CDK itself owns (feature flags "@aws-cdk/...", "aws:cdk:...", look-up results) are allowed by pattern; any other unknown key is refused. */
export interface RawContext {
  /** Project name, the first part of every physical name: 2-12 lowercase letters, digits and single hyphens, starting with a letter. */
  readonly project: string;
  /** AWS region of the pipeline and of every environment. Default: CDK_DEFAULT_REGION, else eu-west-2. */
  readonly region?: Region;
  /** Default AWS account of environments without their own. Default: CDK_DEFAULT_ACCOUNT (account-agnostic without one). */
  readonly account?: AccountId;
  /** The delivery pipeline. Without it, the environments are synthesized as plain stages. */
  readonly pipeline?: RawPipeline;
  /** Preview environments: one per feature branch or pull request, in the sandbox account. */
  readonly previews?: RawPreviews;
  /** Long-lived environments by suffix, deployed in this order (non-production first, then production behind an approval). */
  readonly environments?: Readonly<Record<string, RawEnvironment>>;
  /** CDK CLI telemetry (https://docs.aws.amazon.com/cdk/v2/guide/cli-telemetry.html); false opts out. */
  readonly 'cli-telemetry'?: true | false | 'true' | 'false';
  /** CDK notices acknowledged with cdk acknowledge. */
  readonly 'acknowledged-issue-numbers'?: readonly number[];
  /** CLI only (-c branch=<name>): synthesize the preview environment of that branch. */
  readonly branch?: string;
  /** CLI only (-c environmentSuffix=<name>): synthesize one personal environment. */
  readonly environmentSuffix?: string;
  /** CLI only, with environmentSuffix: profile of the personal environment. */
  readonly profile?: Profile;
  /** CLI only, with environmentSuffix: the personal environment's database secret. */
  readonly databaseSecretName?: SecretName;
  /** CLI only, with environmentSuffix: the key of that secret. */
  readonly databaseSecretKeyArn?: KmsKeyArn;
  /** CLI only, with environmentSuffix: the personal environment's VPC CIDR. */
  readonly vpcCidr?: string;
  /** CLI only, with environmentSuffix: the personal environment's trail mode. */
  readonly trailMode?: TrailMode;
  /** CLI only, with environmentSuffix: where the personal environment's security alarms are e-mailed. */
  readonly alarmEmail?: Email;
  /** CLI only, with environmentSuffix, as JSON: -c 'sizing={"streamShardCount":2}'. */
  readonly sizing?: RawSizing;
}

/** CDK context of the app. Keys the CDK itself owns (feature flags "@aws-cdk/...", "aws:cdk:...", look-up results) are allowed by pattern; any other unknown key is refused. With the schema's defaults applied. */
export interface DefaultedContext {
  /** Project name, the first part of every physical name: 2-12 lowercase letters, digits and single hyphens, starting with a letter. */
  readonly project: string;
  /** AWS region of the pipeline and of every environment. Default: CDK_DEFAULT_REGION, else eu-west-2. */
  readonly region: Region;
  /** Default AWS account of environments without their own. Default: CDK_DEFAULT_ACCOUNT (account-agnostic without one). */
  readonly account?: AccountId;
  /** The delivery pipeline. Without it, the environments are synthesized as plain stages. */
  readonly pipeline?: DefaultedPipeline;
  /** Preview environments: one per feature branch or pull request, in the sandbox account. */
  readonly previews: DefaultedPreviews;
  /** Long-lived environments by suffix, deployed in this order (non-production first, then production behind an approval). */
  readonly environments?: Readonly<Record<string, RawEnvironment>>;
  /** CDK CLI telemetry (https://docs.aws.amazon.com/cdk/v2/guide/cli-telemetry.html); false opts out. */
  readonly 'cli-telemetry'?: true | false | 'true' | 'false';
  /** CDK notices acknowledged with cdk acknowledge. */
  readonly 'acknowledged-issue-numbers'?: readonly number[];
  /** CLI only (-c branch=<name>): synthesize the preview environment of that branch. */
  readonly branch?: string;
  /** CLI only (-c environmentSuffix=<name>): synthesize one personal environment. */
  readonly environmentSuffix?: string;
  /** CLI only, with environmentSuffix: profile of the personal environment. */
  readonly profile?: Profile;
  /** CLI only, with environmentSuffix: the personal environment's database secret. */
  readonly databaseSecretName?: SecretName;
  /** CLI only, with environmentSuffix: the key of that secret. */
  readonly databaseSecretKeyArn?: KmsKeyArn;
  /** CLI only, with environmentSuffix: the personal environment's VPC CIDR. */
  readonly vpcCidr?: string;
  /** CLI only, with environmentSuffix: the personal environment's trail mode. */
  readonly trailMode?: TrailMode;
  /** CLI only, with environmentSuffix: where the personal environment's security alarms are e-mailed. */
  readonly alarmEmail?: Email;
  /** CLI only, with environmentSuffix, as JSON: -c 'sizing={"streamShardCount":2}'. */
  readonly sizing?: RawSizing;
}

/** The delivery pipeline. Without it, the environments are synthesized as plain stages. */
export interface RawPipeline {
  /** owner/name of the repository behind the connection. */
  readonly repository: string;
  /** Branch the pipeline deploys. Default: main. */
  readonly branch?: BranchName;
  /** CodeConnections (or CodeStar connections) ARN, in the pipeline region. */
  readonly connectionArn: string;
  /** Tooling account of the pipeline. Default: the context account, else the connection account. */
  readonly account?: AccountId;
  /** Where failure and approval notifications are e-mailed. Default: topic only. */
  readonly notificationEmail?: Email;
  /** A non-production pipeline whose artifact bucket is deleted with the stack. Default: false. */
  readonly destroyable?: boolean;
  /** Globs whose changes alone do not start the pipeline. Default: ["**\/*.md","docs/**"]. */
  readonly ignoredPaths?: readonly string[];
}

/** The delivery pipeline. Without it, the environments are synthesized as plain stages. With the schema's defaults applied. */
export interface DefaultedPipeline {
  /** owner/name of the repository behind the connection. */
  readonly repository: string;
  /** Branch the pipeline deploys. Default: main. */
  readonly branch: BranchName;
  /** CodeConnections (or CodeStar connections) ARN, in the pipeline region. */
  readonly connectionArn: string;
  /** Tooling account of the pipeline. Default: the context account, else the connection account. */
  readonly account?: AccountId;
  /** Where failure and approval notifications are e-mailed. Default: topic only. */
  readonly notificationEmail?: Email;
  /** A non-production pipeline whose artifact bucket is deleted with the stack. Default: false. */
  readonly destroyable: boolean;
  /** Globs whose changes alone do not start the pipeline. Default: ["**\/*.md","docs/**"]. */
  readonly ignoredPaths: readonly string[];
}

/** Preview environments: one per feature branch or pull request, in the sandbox account. */
export interface RawPreviews {
  /** Sandbox account of preview environments; never one holding a production environment. Default: the pipeline account. */
  readonly account?: AccountId;
  /** Qualifier of the sandbox account CDK bootstrap. Default: hnb659fds. */
  readonly bootstrapQualifier?: string;
  /** Branch globs whose pushes create an environment. Default: ["feature/*"]. */
  readonly branchPatterns?: readonly string[];
  /** Pull requests into this branch create and destroy an environment. Default: main. */
  readonly pullRequestBaseBranch?: BranchName;
  /** Hours after the last deploy when the sweeper may delete an environment. Default: 72. */
  readonly ttlHours?: number;
  /** Most preview environments at once; each has its own VPC. Default: 4, because an account has 5 VPCs per region by default and a fresh account's default VPC uses one (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html); more than 4 needs a VPC quota increase in the sandbox account first. */
  readonly maxEnvironments?: number;
}

/** Preview environments: one per feature branch or pull request, in the sandbox account. With the schema's defaults applied. */
export interface DefaultedPreviews {
  /** Sandbox account of preview environments; never one holding a production environment. Default: the pipeline account. */
  readonly account?: AccountId;
  /** Qualifier of the sandbox account CDK bootstrap. Default: hnb659fds. */
  readonly bootstrapQualifier: string;
  /** Branch globs whose pushes create an environment. Default: ["feature/*"]. */
  readonly branchPatterns: readonly string[];
  /** Pull requests into this branch create and destroy an environment. Default: main. */
  readonly pullRequestBaseBranch: BranchName;
  /** Hours after the last deploy when the sweeper may delete an environment. Default: 72. */
  readonly ttlHours: number;
  /** Most preview environments at once; each has its own VPC. Default: 4, because an account has 5 VPCs per region by default and a fresh account's default VPC uses one (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html); more than 4 needs a VPC quota increase in the sandbox account first. */
  readonly maxEnvironments: number;
}

/** One long-lived environment; its key is the environment suffix. */
export interface RawEnvironment {
  /** Account of the environment. Default: the context account (else the pipeline account). */
  readonly account?: AccountId;
  /** Region of the environment. Default: the context region. */
  readonly region?: Region;
  /** Profile of the environment: its sizing, retention and protection defaults. Default: development. */
  readonly profile?: Profile;
  /** Two distinct zones of the region (the region code and a letter a-f). Default: <region>a, <region>b. */
  readonly availabilityZones?: readonly string[];
  /** IPv4 CIDR block of the VPC, /16 to /22, a network address (no host bits set). Default: 10.40.0.0/16. */
  readonly vpcCidr?: string;
  /** The EXISTING database master secret. Default: <project>/<suffix>/db-credentials. */
  readonly databaseSecretName?: SecretName;
  /** ARN of the customer managed KMS key that encrypts the secret. Default: the AWS managed key. */
  readonly databaseSecretKeyArn?: KmsKeyArn;
  /** Days between automatic rotations of the database master secret by the environment's rotation function (Secrets Manager allows 1 to 1000); 0 turns automatic rotation off (the function is then not deployed). Preview environments have RDS-managed master passwords, which RDS rotates. Default: 30. */
  readonly databaseRotationDays?: number;
  /** Database name. Default: fhir. */
  readonly databaseName?: string;
  /** Whether the stage creates its own trail. Default: shared (development), dedicated (production). */
  readonly trailMode?: TrailMode;
  /** Where security alarms are e-mailed. Default: topic only. */
  readonly alarmEmail?: Email;
  /** S3 Object Lock in compliance mode on the trail bucket and the audit archive (the exported audit chain heads): no one, the root user included, can delete a locked file version for this many days; 0 turns Object Lock off. Only the production profile may lock, since a development environment is destroyed with its stage. Default: 0 (development), 2192 (production). */
  readonly auditLockDays?: number;
  /** A backup vault in another account (a backup or log-archive account of the same AWS Organization) that every recovery point of the AWS Backup plan is copied to; its access policy must allow backup:CopyIntoBackupVault from this account. Needs the AWS Backup plan (production profile). Default: no copy. */
  readonly backupCopyVaultArn?: string;
  /** Who may assume the environment's producer role (put records on its stream, nothing else): account ids or IAM role/user ARNs, another account allowed. Default: [] (none listed: only principals of the environment's own account that an IAM policy allows). */
  readonly producerPrincipals?: readonly string[];
  /** Overrides of the profile sizing. */
  readonly sizing?: RawSizing;
  /** The scheduled restore drill: restore the latest automated backup into a temporary instance, verify it against the live database, record RPO and RTO, alarm on a miss. Default: on, weekly, in the production profile; off in the development profile. */
  readonly restoreDrill?: RawRestoreDrill;
  /** IAM principals (role, user or account root ARNs; another account allowed) that may assume the environment's reader role, the one identity that reads PHI through the FHIR read API. Default: [] (no one: the reader role is then created only where the post-deploy step reads back, and trusts only that step). */
  readonly readers?: readonly string[];
}

/** One long-lived environment; its key is the environment suffix. With the schema's defaults applied. */
export interface DefaultedEnvironment {
  /** Account of the environment. Default: the context account (else the pipeline account). */
  readonly account?: AccountId;
  /** Region of the environment. Default: the context region. */
  readonly region?: Region;
  /** Profile of the environment: its sizing, retention and protection defaults. Default: development. */
  readonly profile: Profile;
  /** Two distinct zones of the region (the region code and a letter a-f). Default: <region>a, <region>b. */
  readonly availabilityZones?: readonly string[];
  /** IPv4 CIDR block of the VPC, /16 to /22, a network address (no host bits set). Default: 10.40.0.0/16. */
  readonly vpcCidr: string;
  /** The EXISTING database master secret. Default: <project>/<suffix>/db-credentials. */
  readonly databaseSecretName?: SecretName;
  /** ARN of the customer managed KMS key that encrypts the secret. Default: the AWS managed key. */
  readonly databaseSecretKeyArn?: KmsKeyArn;
  /** Days between automatic rotations of the database master secret by the environment's rotation function (Secrets Manager allows 1 to 1000); 0 turns automatic rotation off (the function is then not deployed). Preview environments have RDS-managed master passwords, which RDS rotates. Default: 30. */
  readonly databaseRotationDays: number;
  /** Database name. Default: fhir. */
  readonly databaseName: string;
  /** Whether the stage creates its own trail. Default: shared (development), dedicated (production). */
  readonly trailMode: TrailMode;
  /** Where security alarms are e-mailed. Default: topic only. */
  readonly alarmEmail?: Email;
  /** S3 Object Lock in compliance mode on the trail bucket and the audit archive (the exported audit chain heads): no one, the root user included, can delete a locked file version for this many days; 0 turns Object Lock off. Only the production profile may lock, since a development environment is destroyed with its stage. Default: 0 (development), 2192 (production). */
  readonly auditLockDays: number;
  /** A backup vault in another account (a backup or log-archive account of the same AWS Organization) that every recovery point of the AWS Backup plan is copied to; its access policy must allow backup:CopyIntoBackupVault from this account. Needs the AWS Backup plan (production profile). Default: no copy. */
  readonly backupCopyVaultArn?: string;
  /** Who may assume the environment's producer role (put records on its stream, nothing else): account ids or IAM role/user ARNs, another account allowed. Default: [] (none listed: only principals of the environment's own account that an IAM policy allows). */
  readonly producerPrincipals: readonly string[];
  /** Overrides of the profile sizing. */
  readonly sizing: DefaultedSizing;
  /** The scheduled restore drill: restore the latest automated backup into a temporary instance, verify it against the live database, record RPO and RTO, alarm on a miss. Default: on, weekly, in the production profile; off in the development profile. */
  readonly restoreDrill: DefaultedRestoreDrill;
  /** IAM principals (role, user or account root ARNs; another account allowed) that may assume the environment's reader role, the one identity that reads PHI through the FHIR read API. Default: [] (no one: the reader role is then created only where the post-deploy step reads back, and trusts only that step). */
  readonly readers: readonly string[];
}

/** Overrides of the profile sizing. */
export interface RawSizing {
  /** RDS instance class without "db.". Default: t4g.micro (development), m7g.large (production). */
  readonly dbInstanceType?: string;
  /** Default: 20 (development), 100 (production). */
  readonly dbAllocatedStorageGiB?: number;
  /** Storage autoscaling ceiling, at least dbAllocatedStorageGiB. Default: 50 (development), 1000 (production). */
  readonly dbMaxAllocatedStorageGiB?: number;
  /** 0 is on-demand capacity. Default: 1 (development), 0 (production). */
  readonly streamShardCount?: number;
  /** The largest record the stream accepts (KiB, partition key included; Kinesis allows 1024-10240), and so the processor's MAX_RECORD_BYTES, which is never lower than what the stream accepts. Default: 1024 (development), 1024 (production). */
  readonly streamMaxRecordSizeKiB?: number;
  /** How long the stream keeps a record (hours): the longest the processor may be down, or a record waiting to be replayed, before records are lost. Above 24 hours Kinesis charges extended retention, above 168 long-term retention. Default: 24 (development), 168 (production). */
  readonly streamRetentionHours?: number;
  /** Most processor tasks: at least the profile's minimum (1 development, 2 production), capped at the shard count. Default: 1 (development), 8 (production). */
  readonly processorMaxTasks?: number;
}

/** Overrides of the profile sizing. With the schema's defaults applied. */
export interface DefaultedSizing {
  /** RDS instance class without "db.". Default: t4g.micro (development), m7g.large (production). */
  readonly dbInstanceType: string;
  /** Default: 20 (development), 100 (production). */
  readonly dbAllocatedStorageGiB: number;
  /** Storage autoscaling ceiling, at least dbAllocatedStorageGiB. Default: 50 (development), 1000 (production). */
  readonly dbMaxAllocatedStorageGiB: number;
  /** 0 is on-demand capacity. Default: 1 (development), 0 (production). */
  readonly streamShardCount: number;
  /** The largest record the stream accepts (KiB, partition key included; Kinesis allows 1024-10240), and so the processor's MAX_RECORD_BYTES, which is never lower than what the stream accepts. Default: 1024 (development), 1024 (production). */
  readonly streamMaxRecordSizeKiB: number;
  /** How long the stream keeps a record (hours): the longest the processor may be down, or a record waiting to be replayed, before records are lost. Above 24 hours Kinesis charges extended retention, above 168 long-term retention. Default: 24 (development), 168 (production). */
  readonly streamRetentionHours: number;
  /** Most processor tasks: at least the profile's minimum (1 development, 2 production), capped at the shard count. Default: 1 (development), 8 (production). */
  readonly processorMaxTasks: number;
}

/** The scheduled restore drill: restore the latest automated backup into a temporary instance, verify it against the live database, record RPO and RTO, alarm on a miss. Default: on, weekly, in the production profile; off in the development profile. */
export interface RawRestoreDrill {
  /** Run the drill on its schedule. Default: false (development), true (production). */
  readonly enabled?: boolean;
  /** When the drill runs: an EventBridge cron expression in UTC, once a day or once a week. Default: cron(0 3 ? * SUN *) (Sunday 03:00 UTC). */
  readonly schedule?: string;
  /** Alarm when a drill's recovery point is older than this (minutes). Default: 15. */
  readonly rpoTargetMinutes?: number;
  /** Alarm when a drill takes longer than this from start to verified restore (minutes). Default: 120. */
  readonly rtoTargetMinutes?: number;
}

/** The scheduled restore drill: restore the latest automated backup into a temporary instance, verify it against the live database, record RPO and RTO, alarm on a miss. Default: on, weekly, in the production profile; off in the development profile. With the schema's defaults applied. */
export interface DefaultedRestoreDrill {
  /** Run the drill on its schedule. Default: false (development), true (production). */
  readonly enabled: boolean;
  /** When the drill runs: an EventBridge cron expression in UTC, once a day or once a week. Default: cron(0 3 ? * SUN *) (Sunday 03:00 UTC). */
  readonly schedule: string;
  /** Alarm when a drill's recovery point is older than this (minutes). Default: 15. */
  readonly rpoTargetMinutes: number;
  /** Alarm when a drill takes longer than this from start to verified restore (minutes). Default: 120. */
  readonly rtoTargetMinutes: number;
}

/** Settings of an environment that -c gives a personal environment (-c environmentSuffix=<name>). */
export type PersonalOverrideKey = 'profile' | 'databaseSecretName' | 'databaseSecretKeyArn' | 'vpcCidr' | 'trailMode' | 'alarmEmail' | 'sizing';

/** Every object definition of the schema, as written. */
export interface RawDefinitions {
  context: RawContext;
  pipeline: RawPipeline;
  previews: RawPreviews;
  environment: RawEnvironment;
  sizing: RawSizing;
  restoreDrill: RawRestoreDrill;
}

/** Every object definition of the schema, with its defaults applied. */
export interface DefaultedDefinitions {
  context: DefaultedContext;
  pipeline: DefaultedPipeline;
  previews: DefaultedPreviews;
  environment: DefaultedEnvironment;
  sizing: DefaultedSizing;
  restoreDrill: DefaultedRestoreDrill;
}
