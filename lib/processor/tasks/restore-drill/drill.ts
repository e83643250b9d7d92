/**
 * The restore drill (its task's command: main.ts) (HIPAA 45 CFR 164.308(a)(7)(ii)(D), testing of the
 * contingency plan). A one-off ECS task in the isolated subnets, started weekly by EventBridge or by
 * `npm run restore-drill`, because a restore outlasts Lambda's 15 minutes:
 *
 *   1. sweep: delete earlier drill instances (this prefix, this source) whose ExpiresAt tag has passed;
 *   2. restore the live instance's automated backup to its latest restorable time into a temporary
 *      instance `<project>-drill-<suffix>-<yyyymmddhhmmss>`: same subnet group, security groups,
 *      parameter group (TLS forced, pgaudit) and KMS key, single-AZ, no public access, no deletion
 *      protection, no backups of its own, tagged with its TTL;
 *   3. wait (bounded, with progress) until it is available;
 *   4. run the verify query on it and on the live database, as the drill's own login, and compare;
 *   5. record RPO and RTO as EMF metrics (alarms in lib/constructs/restore-drill.ts);
 *   6. ALWAYS delete the temporary instance (no final snapshot, automated backups deleted), whatever
 *      failed before, and exit non-zero with one line naming the step when anything failed.
 *
 * No PHI passes through it: the verify query returns counts and timestamps only.
 */
import { Signer } from '@aws-sdk/rds-signer';
import {
  DBInstance,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  paginateDescribeDBInstances,
  RDSClient,
  RestoreDBInstanceToPointInTimeCommand,
  RestoreDBInstanceToPointInTimeCommandInput,
  Tag,
} from '@aws-sdk/client-rds';
import { Client } from 'pg';
import { EnvironmentError } from '../../../contract/errors';
import { DEFAULT_CA_BUNDLE, SslMode } from '../../config';
import { tlsOptions } from '../../db/pool';
import { DRILL_DB_USER, DRILL_TIMESTAMP_LENGTH } from '../../../contract/processor';
import { errorFields, Logger } from '../../logger';
import type { DrillMetricsSink } from './metrics';
import { Comparison, compareSummaries, querySummary, TableSummary } from './verify';
import { isTransientDbError } from '../../retry';

/** Digits of the timestamp that ends every drill instance identifier (the IAM pattern counts them). */
export { DRILL_TIMESTAMP_LENGTH };

/** `<prefix><yyyymmddhhmmss>` in UTC: at most 12 + 7 + 20 + 1 + 14 = 54 of RDS's 63 characters. */
export function drillInstanceId(prefix: string, at: Date): string {
  return `${prefix}${at
    .toISOString()
    .replace(/[^0-9]/g, '')
    .slice(0, DRILL_TIMESTAMP_LENGTH)}`;
}

/** Whether an instance identifier is one this drill creates: the prefix and exactly the timestamp digits. */
export function isDrillInstanceId(prefix: string, id: string): boolean {
  return id.startsWith(prefix) && new RegExp(`^\\d{${DRILL_TIMESTAMP_LENGTH}}$`).test(id.slice(prefix.length));
}

/** Tag naming the live instance a drill instance was restored from; the sweeper needs it too. */
export const DRILL_SOURCE_TAG = 'RestoreDrillSource';
export const EXPIRES_AT_TAG = 'ExpiresAt';

/** Instance states from which a restore never becomes available. */
const TERMINAL_STATES = new Set([
  'failed',
  'incompatible-restore',
  'incompatible-parameters',
  'incompatible-network',
  'storage-full',
  'inaccessible-encryption-credentials',
  'restore-error',
  'deleting',
]);

export interface DrillSettings {
  /** The live instance. */
  readonly sourceInstance: string;
  /** `<project>-drill-<suffix>-`: the only identifiers the drill's role may restore into and delete. */
  readonly instancePrefix: string;
  /** Tags of the temporary instance besides the drill's own (Project, EnvironmentSuffix, ...). */
  readonly tags: Readonly<Record<string, string>>;
  /** How long after the start the sweeper may delete a leftover instance. */
  readonly ttlMs: number;
  /** The most the restore may take to become available. */
  readonly availableTimeoutMs: number;
  /** The most the drill keeps trying to delete its instance (one in `creating` cannot be deleted yet). */
  readonly deleteTimeoutMs: number;
  readonly pollIntervalMs: number;
  /** Rows are compared up to this long before the restore point, so no transaction was open across it. */
  readonly compareMarginMs: number;
  /** Attempts at the first connection to the restored instance (its DNS name may lag "available"). */
  readonly connectAttempts: number;
  /** For the verdict line only; the alarms hold the same targets. */
  readonly targets?: { readonly rpoSeconds: number; readonly rtoSeconds: number };
  /**
   * The copy exports the live instance's logs (pgaudit included) into log groups the drill creates first,
   * encrypted with this key and kept this long, as the live instance's are: RDS would otherwise create them
   * unencrypted and never expiring. @default - no log exports on the copy
   */
  readonly logGroups?: { readonly kmsKeyArn: string; readonly retentionDays: number };
}

export const DEFAULT_SETTINGS = {
  ttlMs: 12 * 3600_000,
  availableTimeoutMs: 4 * 3600_000,
  deleteTimeoutMs: 3600_000,
  pollIntervalMs: 30_000,
  compareMarginMs: 5 * 60_000,
  connectAttempts: 10,
} as const;

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface DrillDeps {
  readonly rds: RDSClient;
  /** Runs the verify query as the drill's login on one instance. */
  summarize(endpoint: Endpoint, cutoff: Date, asOf: Date): Promise<TableSummary[]>;
  readonly metrics: DrillMetricsSink;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  /** Creates an encrypted log group with a retention (an existing one is kept). @default - the copy exports no logs */
  readonly createLogGroup?: (name: string, options: NonNullable<DrillSettings['logGroups']>) => Promise<void>;
}

export interface DrillReport {
  readonly ok: boolean;
  /** One line: the step that failed and why (undefined when ok). */
  readonly reason?: string;
  readonly sourceInstance: string;
  readonly targetInstance?: string;
  readonly startedAt: string;
  readonly restorePoint?: string;
  readonly cutoff?: string;
  readonly availableAt?: string;
  readonly verifiedAt?: string;
  readonly rpoSeconds?: number;
  readonly rtoSeconds?: number;
  /** Whether RPO and RTO were within the targets, when both are known. */
  readonly targetsMet?: boolean;
  readonly comparison?: Pick<Comparison, 'tables' | 'problems'> & { restoredNewest?: string; liveNewestAtStart?: string };
  /** `deleted`: deletion accepted; `absent`: the restore never created it; `left`: could not delete (the sweeper will). */
  readonly cleanup: 'deleted' | 'absent' | 'left' | 'not-needed';
  readonly swept: readonly string[];
}

/** A failure of one step, with the line the operator reads. */
export class DrillStepError extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(`${step}: ${message}`);
    this.name = 'DrillStepError';
  }
}

const errName = (error: unknown) => (error as { name?: string })?.name ?? '';
/** An error as one line of at most 400 characters. */
export const errText = (error: unknown) =>
  `${errName(error) && errName(error) !== 'Error' ? `${errName(error)}: ` : ''}${(error as Error)?.message ?? String(error)}`
    .split('\n')[0]
    .slice(0, 400);
const tagsOf = (db: DBInstance) => Object.fromEntries((db.TagList ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));

async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw error instanceof DrillStepError ? error : new DrillStepError(name, errText(error));
  }
}

async function describeOne(rds: RDSClient, id: string): Promise<DBInstance | undefined> {
  try {
    const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    return out.DBInstances?.[0];
  } catch (error) {
    if (errName(error) === 'DBInstanceNotFoundFault') return undefined;
    throw error;
  }
}

/**
 * Deletes earlier drill instances of this source whose ExpiresAt has passed. Only identifiers of the
 * drill's own form, tagged with this source and a TTL: nothing else is ever touched, and a failure
 * here is logged but does not stop the drill. Listing every instance needs rds:DescribeDBInstances on
 * db:* (the action authorizes a call without an identifier against db:*).
 */
export async function sweepLeftovers(settings: DrillSettings, deps: DrillDeps): Promise<string[]> {
  const now = deps.now().getTime();
  const swept: string[] = [];
  for await (const page of paginateDescribeDBInstances({ client: deps.rds }, {})) {
    for (const db of page.DBInstances ?? []) {
      const id = db.DBInstanceIdentifier ?? '';
      if (!isDrillInstanceId(settings.instancePrefix, id)) continue;
      const tags = tagsOf(db);
      const expiresAt = Date.parse(tags[EXPIRES_AT_TAG] ?? '');
      if (tags[DRILL_SOURCE_TAG] !== settings.sourceInstance || Number.isNaN(expiresAt)) {
        deps.logger.warn(
          { instance: id },
          `sweep: ${id} has the drill's name but not its ${DRILL_SOURCE_TAG}/${EXPIRES_AT_TAG} tags; left alone`,
        );
        continue;
      }
      if (expiresAt > now || db.DBInstanceStatus === 'deleting') continue;
      try {
        await deps.rds.send(
          new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true, DeleteAutomatedBackups: true }),
        );
        swept.push(id);
        deps.logger.info(
          { instance: id, expiresAt: tags[EXPIRES_AT_TAG] },
          `sweep: deleting leftover ${id} (expired ${tags[EXPIRES_AT_TAG]})`,
        );
      } catch (error) {
        deps.logger.warn({ instance: id, ...errorFields(error) }, `sweep: could not delete ${id}; the next drill tries again`);
      }
    }
  }
  return swept;
}

/** The restore request: the live instance's placement and settings, minus what a temporary copy must not have. */
export function restoreRequest(
  source: DBInstance,
  target: string,
  restorePoint: Date,
  tags: Readonly<Record<string, string>>,
  exportLogs = false,
): RestoreDBInstanceToPointInTimeCommandInput {
  const vpcSecurityGroupIds = (source.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId).filter((g): g is string => !!g);
  const parameterGroup = source.DBParameterGroups?.[0]?.DBParameterGroupName;
  const subnetGroup = source.DBSubnetGroup?.DBSubnetGroupName;
  if (!subnetGroup || vpcSecurityGroupIds.length === 0 || !parameterGroup) {
    throw new Error(`${source.DBInstanceIdentifier} has no DB subnet group, VPC security group or parameter group to restore into`);
  }
  return {
    SourceDBInstanceIdentifier: source.DBInstanceIdentifier,
    TargetDBInstanceIdentifier: target,
    RestoreTime: restorePoint,
    // Without these, RDS restores into the default subnet group, security group and parameter group
    // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceToPointInTime.html):
    // the isolated subnets, the database security group and TLS-forcing, pgaudit parameters are kept.
    DBSubnetGroupName: subnetGroup,
    VpcSecurityGroupIds: vpcSecurityGroupIds,
    DBParameterGroupName: parameterGroup,
    OptionGroupName: source.OptionGroupMemberships?.[0]?.OptionGroupName,
    CACertificateIdentifier: source.CACertificateIdentifier,
    // A temporary copy: one AZ, never public, deletable, no backups of its own (fewer copies of PHI).
    MultiAZ: false,
    PubliclyAccessible: false,
    DeletionProtection: false,
    BackupRetentionPeriod: 0,
    AutoMinorVersionUpgrade: false,
    CopyTagsToSnapshot: false,
    EnableIAMDatabaseAuthentication: true,
    // A full copy of PHI is audited as the live instance is: the same log exports (pgaudit is in postgresql).
    ...(exportLogs && source.EnabledCloudwatchLogsExports?.length
      ? { EnableCloudwatchLogsExports: source.EnabledCloudwatchLogsExports }
      : {}),
    Tags: Object.entries(tags).map(([Key, Value]): Tag => ({ Key, Value })),
  };
}

/** Tries to delete the drill instance until RDS accepts it (an instance still `creating` cannot be deleted yet). */
export async function deleteDrillInstance(id: string, settings: DrillSettings, deps: DrillDeps): Promise<'deleted' | 'absent'> {
  const deadline = deps.now().getTime() + settings.deleteTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true, DeleteAutomatedBackups: true }));
      deps.logger.info({ instance: id }, `deleting ${id} (no final snapshot, automated backups deleted)`);
      return 'deleted';
    } catch (error) {
      if (errName(error) === 'DBInstanceNotFoundFault') return 'absent';
      if (errName(error) !== 'InvalidDBInstanceStateFault') throw error;
      const status = (await describeOne(deps.rds, id))?.DBInstanceStatus;
      if (status === undefined) return 'absent';
      if (status === 'deleting') return 'deleted';
      if (deps.now().getTime() >= deadline)
        throw new Error(`still ${status} after ${Math.round(settings.deleteTimeoutMs / 60_000)} min of attempts`, { cause: error });
      deps.logger.info({ instance: id, status, attempt }, `${id} is ${status}; deleting it as soon as RDS allows`);
      await deps.sleep(settings.pollIntervalMs);
    }
  }
}

async function waitUntilAvailable(id: string, settings: DrillSettings, deps: DrillDeps): Promise<DBInstance> {
  const started = deps.now().getTime();
  let last: string | undefined;
  for (;;) {
    const db = await describeOne(deps.rds, id);
    const status = db?.DBInstanceStatus ?? 'not visible yet';
    const minutes = Math.round((deps.now().getTime() - started) / 60_000);
    if (status !== last) deps.logger.info({ instance: id, status, minutes }, `restore: ${id} is ${status} after ${minutes} min`);
    last = status;
    if (db && status === 'available') return db;
    if (TERMINAL_STATES.has(status)) throw new Error(`${id} is ${status}: the restore cannot complete`);
    if (deps.now().getTime() - started >= settings.availableTimeoutMs) {
      throw new Error(`${id} not available after ${Math.round(settings.availableTimeoutMs / 60_000)} min (last status ${status})`);
    }
    await deps.sleep(settings.pollIntervalMs);
  }
}

async function summarizeWithRetry(
  endpoint: Endpoint,
  cutoff: Date,
  asOf: Date,
  settings: DrillSettings,
  deps: DrillDeps,
): Promise<TableSummary[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.summarize(endpoint, cutoff, asOf);
    } catch (error) {
      if (!isTransientDbError(error) || attempt >= settings.connectAttempts) throw error;
      deps.logger.warn({ host: endpoint.host, attempt, ...errorFields(error) }, 'restored instance not reachable yet; retrying');
      await deps.sleep(Math.min(settings.pollIntervalMs, 10_000));
    }
  }
}

const secondsBetween = (from: Date, to: Date) => Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));
const endpointOf = (db: DBInstance): Endpoint => {
  if (!db.Endpoint?.Address || !db.Endpoint.Port) throw new Error(`${db.DBInstanceIdentifier} has no endpoint`);
  return { host: db.Endpoint.Address, port: db.Endpoint.Port };
};

/** Runs the drill. Never throws: the report says what happened, and the temporary instance is always cleaned up. */
export async function runRestoreDrill(settings: DrillSettings, deps: DrillDeps): Promise<DrillReport> {
  const startedAt = deps.now();
  const { logger } = deps;
  let swept: string[] = [];
  let target: string | undefined;
  let restoreAttempted = false;
  let restorePoint: Date | undefined;
  let cutoff: Date | undefined;
  let availableAt: Date | undefined;
  let verifiedAt: Date | undefined;
  let comparison: Comparison | undefined;
  let failure: string | undefined;
  let cleanup: DrillReport['cleanup'] = 'not-needed';

  try {
    swept = await sweepLeftovers(settings, deps).catch((error: unknown) => {
      logger.warn(errorFields(error), 'sweep: could not list instances; continuing with the drill');
      return [];
    });

    const source = await step('describe the live instance', async () => {
      const db = await describeOne(deps.rds, settings.sourceInstance);
      if (!db) throw new Error(`${settings.sourceInstance} does not exist`);
      if (!db.LatestRestorableTime)
        throw new Error(`${settings.sourceInstance} has no latest restorable time: automated backups are off (BackupRetentionPeriod 0)`);
      return db;
    });
    // The latest restorable time is typically within the last five minutes (transaction logs are
    // uploaded every five minutes); a restore time must not be after it.
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIT.html
    restorePoint = new Date(source.LatestRestorableTime!.getTime() - 1000);
    cutoff = new Date(restorePoint.getTime() - settings.compareMarginMs);
    target = drillInstanceId(settings.instancePrefix, startedAt);
    const expiresAt = new Date(startedAt.getTime() + settings.ttlMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const tags = { ...settings.tags, [DRILL_SOURCE_TAG]: settings.sourceInstance, [EXPIRES_AT_TAG]: expiresAt };

    const request = restoreRequest(
      source,
      target,
      restorePoint,
      tags,
      settings.logGroups !== undefined && deps.createLogGroup !== undefined,
    );
    if (request.EnableCloudwatchLogsExports && deps.createLogGroup) {
      const create = deps.createLogGroup;
      await step("create the copy's log groups", async () => {
        for (const logType of request.EnableCloudwatchLogsExports!)
          await create(`/aws/rds/instance/${target}/${logType}`, settings.logGroups!);
      });
    }
    restoreAttempted = true;
    await step('restore', async () => {
      await deps.rds.send(new RestoreDBInstanceToPointInTimeCommand(request));
      logger.info(
        { source: settings.sourceInstance, target, restorePoint: restorePoint!.toISOString(), expiresAt },
        `restore: ${settings.sourceInstance} at ${restorePoint!.toISOString()} into ${target}`,
      );
    });

    const restored = await step(`wait for ${target}`, () => waitUntilAvailable(target!, settings, deps));
    availableAt = deps.now();
    const restoredSummary = await step(`verify ${target}`, () =>
      summarizeWithRetry(endpointOf(restored), cutoff!, startedAt, settings, deps),
    );
    const liveSummary = await step(`verify the live instance ${settings.sourceInstance}`, () =>
      deps.summarize(endpointOf(source), cutoff!, startedAt),
    );
    comparison = compareSummaries(restoredSummary, liveSummary, { cutoff, startedAt });
    if (!comparison.ok) throw new DrillStepError('compare', comparison.problems.join('; '));
    verifiedAt = deps.now();
  } catch (error) {
    failure = error instanceof DrillStepError ? error.message : errText(error);
    logger.error({ ...errorFields(error) }, `restore drill failed: ${failure}`);
  } finally {
    if (restoreAttempted && target) {
      try {
        cleanup = await deleteDrillInstance(target, settings, deps);
      } catch (error) {
        cleanup = 'left';
        const line = `delete ${target}: ${errText(error)}; it carries ${EXPIRES_AT_TAG} and the next drill's sweep deletes it`;
        failure = failure ? `${failure}; ${line}` : line;
        logger.error({ instance: target, ...errorFields(error) }, line);
      }
    }
  }

  const rtoSeconds = verifiedAt ? secondsBetween(startedAt, verifiedAt) : undefined;
  const rpoSeconds = verifiedAt ? comparison?.rpoSeconds : undefined;
  const ok = failure === undefined;
  await deps.metrics
    .outcome({ sourceInstance: settings.sourceInstance, succeeded: ok, rpoSeconds, rtoSeconds })
    .catch((error: unknown) => logger.error(errorFields(error), 'could not write the drill metrics'));
  const targetsMet =
    settings.targets && rpoSeconds !== undefined && rtoSeconds !== undefined
      ? rpoSeconds <= settings.targets.rpoSeconds && rtoSeconds <= settings.targets.rtoSeconds
      : undefined;
  return {
    ok,
    ...(failure ? { reason: failure } : {}),
    sourceInstance: settings.sourceInstance,
    targetInstance: target,
    startedAt: startedAt.toISOString(),
    restorePoint: restorePoint?.toISOString(),
    cutoff: cutoff?.toISOString(),
    availableAt: availableAt?.toISOString(),
    verifiedAt: verifiedAt?.toISOString(),
    rpoSeconds,
    rtoSeconds,
    targetsMet,
    comparison: comparison && {
      tables: comparison.tables,
      problems: comparison.problems,
      restoredNewest: comparison.restoredNewest?.toISOString(),
      liveNewestAtStart: comparison.liveNewestAtStart?.toISOString(),
    },
    cleanup,
    swept,
  };
}

/** The operator's line: what was restored, RPO/RTO against the targets, or the step that failed. */
export function resultLine(r: DrillReport): string {
  if (!r.ok) return `restore drill FAILED: ${r.reason}`;
  const minutes = (s: number) => `${(s / 60).toFixed(1)} min`;
  const verdict = r.targetsMet === undefined ? '' : r.targetsMet ? ', within targets' : ', OVER TARGET';
  return `restore drill OK: ${r.sourceInstance} restored to ${r.restorePoint} as ${r.targetInstance}, counts equal up to ${r.cutoff}; RPO ${minutes(r.rpoSeconds!)}, RTO ${minutes(r.rtoSeconds!)}${verdict}; temporary instance ${r.cleanup}`;
}

// ---- the task's entry point ----

export interface DrillTaskConfig {
  readonly region: string;
  readonly settings: DrillSettings;
  readonly database: { readonly name: string; readonly user: string; readonly sslMode: SslMode; readonly caBundlePath: string };
  readonly metrics: 'emf' | 'off';
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string, pattern: RegExp, rule: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new EnvironmentError(`${name} is required`);
  if (!pattern.test(value)) throw new EnvironmentError(`${name} must be ${rule}`);
  return value;
}

function minutes(env: Env, name: string, fallbackMs: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallbackMs;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max)
    throw new EnvironmentError(`${name} must be a whole number of minutes from 1 to ${max}`);
  return Number(raw) * 60_000;
}

/**
 * Environment of the drill task (set by the RestoreDrill construct): AWS_REGION, DRILL_SOURCE_INSTANCE,
 * DRILL_INSTANCE_PREFIX, PROJECT, ENVIRONMENT_SUFFIX, DB_NAME, optional DB_USER (fhir_drill), DB_SSL_MODE,
 * DB_CA_BUNDLE, DRILL_RPO_TARGET_MINUTES, DRILL_RTO_TARGET_MINUTES, DRILL_TTL_MINUTES,
 * DRILL_AVAILABLE_TIMEOUT_MINUTES, METRICS, and DRILL_LOG_KEY_ARN with DRILL_LOG_RETENTION_DAYS (the copy's log exports).
 */
export function loadDrillConfig(env: Env): DrillTaskConfig {
  const region = required(env, 'AWS_REGION', /^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'a region code such as eu-west-2');
  const sourceInstance = required(env, 'DRILL_SOURCE_INSTANCE', /^[a-z][a-z0-9-]{0,62}$/, 'an RDS instance identifier');
  const instancePrefix = required(
    env,
    'DRILL_INSTANCE_PREFIX',
    /^[a-z][a-z0-9-]{0,47}-$/,
    `an identifier prefix ending in "-" (at most 48 characters, leaving ${DRILL_TIMESTAMP_LENGTH} for the timestamp)`,
  );
  if (sourceInstance.startsWith(instancePrefix))
    throw new EnvironmentError(
      'DRILL_SOURCE_INSTANCE must not start with DRILL_INSTANCE_PREFIX: the drill would treat the live instance as its own',
    );
  const project = required(env, 'PROJECT', /^[a-z][a-z0-9-]{1,11}$/, 'the project name');
  const environmentSuffix = required(env, 'ENVIRONMENT_SUFFIX', /^[a-z0-9-]{1,20}$/, 'the environment suffix');
  const database = required(env, 'DB_NAME', /^[a-z][a-z0-9_]{0,62}$/, 'a database name');
  const user = env.DB_USER || DRILL_DB_USER;
  const sslMode = (env.DB_SSL_MODE || 'verify-full') as SslMode;
  if (!['verify-full', 'require'].includes(sslMode))
    throw new EnvironmentError('DB_SSL_MODE must be verify-full or require (IAM authentication needs TLS)');
  const metrics = env.METRICS || 'emf';
  if (metrics !== 'emf' && metrics !== 'off') throw new EnvironmentError('METRICS must be emf or off');
  const rpo = minutes(env, 'DRILL_RPO_TARGET_MINUTES', 0, 10_080);
  const rto = minutes(env, 'DRILL_RTO_TARGET_MINUTES', 0, 10_080);
  return {
    region,
    settings: {
      ...DEFAULT_SETTINGS,
      sourceInstance,
      instancePrefix,
      tags: {
        Project: project,
        EnvironmentSuffix: environmentSuffix,
        DataClassification: 'PHI',
        Compliance: 'HIPAA',
        RestoreDrill: 'true',
      },
      ttlMs: minutes(env, 'DRILL_TTL_MINUTES', DEFAULT_SETTINGS.ttlMs, 10_080),
      availableTimeoutMs: minutes(env, 'DRILL_AVAILABLE_TIMEOUT_MINUTES', DEFAULT_SETTINGS.availableTimeoutMs, 1440),
      ...(rpo > 0 && rto > 0 ? { targets: { rpoSeconds: rpo / 1000, rtoSeconds: rto / 1000 } } : {}),
      ...drillLogGroups(env),
    },
    database: { name: database, user, sslMode, caBundlePath: env.DB_CA_BUNDLE || DEFAULT_CA_BUNDLE },
    metrics,
  };
}

/** DRILL_LOG_KEY_ARN and DRILL_LOG_RETENTION_DAYS: both or neither. */
function drillLogGroups(env: Env): Pick<DrillSettings, 'logGroups'> {
  const kmsKeyArn = env.DRILL_LOG_KEY_ARN;
  const days = env.DRILL_LOG_RETENTION_DAYS;
  if (!kmsKeyArn && !days) return {};
  if (!kmsKeyArn || !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/.test(kmsKeyArn))
    throw new EnvironmentError(
      'DRILL_LOG_KEY_ARN must be the ARN of the key of the database log groups (set with DRILL_LOG_RETENTION_DAYS)',
    );
  if (!days || !/^[1-9]\d{0,4}$/.test(days))
    throw new EnvironmentError('DRILL_LOG_RETENTION_DAYS must be a whole number of days (set with DRILL_LOG_KEY_ARN)');
  return { logGroups: { kmsKeyArn, retentionDays: Number(days) } };
}

/** Opens the drill's login on one instance with a fresh IAM token, runs the verify query, closes. */
export function iamSummarizer(config: DrillTaskConfig): DrillDeps['summarize'] {
  return async (endpoint, cutoff, asOf) => {
    const signer = new Signer({ hostname: endpoint.host, port: endpoint.port, username: config.database.user, region: config.region });
    const db = {
      host: endpoint.host,
      port: endpoint.port,
      database: config.database.name,
      user: config.database.user,
      iamAuth: true,
      sslMode: config.database.sslMode,
      caBundlePath: config.database.caBundlePath,
    };
    const client = new Client({
      host: endpoint.host,
      port: endpoint.port,
      database: db.database,
      user: db.user,
      password: await signer.getAuthToken(),
      ssl: tlsOptions(db),
      connectionTimeoutMillis: 15_000,
      // Counting every row of a large table takes a while; a hung query must still end.
      statement_timeout: 45 * 60_000,
      application_name: 'restore-drill',
    });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await querySummary(client, cutoff, asOf);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
}
