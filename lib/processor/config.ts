/**
 * Processor configuration: environment variables only (12-factor). A missing or malformed
 * variable stops start-up with one line that names it.
 */
import { existsSync } from 'fs';
import { EnvironmentError } from '../contract/errors';
import { PROCESSOR_ENV as E, PROCESSOR_HEALTH_PORT, PROCESSOR_METRICS } from '../contract/processor';

export type SslMode = 'verify-full' | 'require' | 'disable';
/** pino's levels; `silent` turns logging off. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
/** `emf`: CloudWatch embedded metric format on stdout (AWS); `off`: no metrics (local runs). */
export type MetricsMode = 'emf' | 'off';

export interface ProcessorConfig {
  readonly streamName: string;
  readonly region: string;
  /** Local emulator (kinesalite) endpoint; unset in AWS. */
  readonly kinesisEndpoint?: string;
  readonly db: {
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly user: string;
    /** Injected from the existing secret; absent when IAM authentication is used. */
    readonly password?: string;
    readonly iamAuth: boolean;
    readonly sslMode: SslMode;
    /** PEM bundle used for verify-full (the RDS CA bundle shipped in the image). */
    readonly caBundlePath: string;
  };
  /** Identity recorded in audit events and leases (ECS task ARN in AWS). */
  readonly workerId: string;
  readonly maxRecordBytes: number;
  readonly leaseTtlMs: number;
  readonly pollIntervalMs: number;
  /** Records per GetRecords call: the batch size, and so the memory held per shard. */
  readonly getRecordsLimit: number;
  /**
   * MAX_IN_FLIGHT_BYTES: the budget of record payload bytes held at once by all shards' batches
   * (service/memory-budget.ts); what bounds the processor's memory. @default DEFAULT_MAX_IN_FLIGHT_BYTES
   */
  readonly maxInFlightBytes: number;
  readonly healthPort: number;
  /**
   * Apply migrations at start-up (the local run). In AWS the processor's own login may not change
   * the schema: DB_MIGRATE_ON_START=false, and the migration task applies them (migrate-main.ts).
   */
  readonly migrateOnStart: boolean;
  /** LOG_LEVEL. @default 'info' */
  readonly logLevel: LogLevel;
  /** METRICS. @default 'emf' */
  readonly metrics: MetricsMode;
  /** METRICS_NAMESPACE: the CloudWatch namespace of the EMF metrics. @default 'HipaaFhir/Processor' */
  readonly metricsNamespace: string;
}

/**
 * A command's configuration, or the end of the process: an EnvironmentError becomes one line on
 * stderr (`configuration error: ...`) and exit code 2 (a usage error, before any service is
 * touched); any other error is thrown. Used by main.ts, migrate-main.ts and verify.ts.
 */
export function loadOrExit<T>(
  load: () => T,
  exit: (code: number) => never = (code) => process.exit(code),
  writeLine: (line: string) => void = (line) => {
    process.stderr.write(`${line}\n`);
  },
): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof EnvironmentError)) throw error;
    writeLine(`configuration error: ${error.message}`);
    return exit(error.exitCode);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new EnvironmentError(`${name} is required`);
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) throw new EnvironmentError(`${name} must be a whole number from ${min} to ${max}`);
  return value;
}

const SSL_MODES: readonly SslMode[] = ['verify-full', 'require', 'disable'];
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const METRICS_MODES: readonly MetricsMode[] = ['emf', 'off'];
export const DEFAULT_CA_BUNDLE = '/etc/ssl/rds/global-bundle.pem';
export const DEFAULT_METRICS_NAMESPACE = PROCESSOR_METRICS.namespace;
/**
 * 24 MiB of payload in flight: two worst-case GetRecords responses (10 MiB each) at once, or more
 * real batches once each reservation shrinks to its payload. At about 5 bytes of memory per payload
 * byte beside a fixed ~110 MB, peak RSS stays under 256 MB (docs/processor.md, "Memory").
 */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 24 * 1024 * 1024;

/**
 * A CloudWatch namespace: 1-255 of letters, digits, space and . - _ / # :, at least one not a space,
 * and not AWS/ (reserved for AWS services). The embedded-metrics library checks the same characters
 * when it flushes; here a bad value stops start-up instead of every batch's metrics.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Namespace
 */
function metricsNamespace(env: Env): string {
  const raw = env[E.metricsNamespace];
  if (raw === undefined || raw === '') return DEFAULT_METRICS_NAMESPACE;
  if (!/^(?=.*\S)[A-Za-z0-9 ._#:/-]{1,255}$/.test(raw) || raw.startsWith('AWS/')) {
    throw new EnvironmentError(
      'METRICS_NAMESPACE must be 1-255 letters, digits, spaces or . - _ / # : (not only spaces), and must not start with AWS/',
    );
  }
  return raw;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!allowed.includes(raw as T)) throw new EnvironmentError(`${name} must be one of ${allowed.join(', ')}`);
  return raw as T;
}

export function loadConfig(env: Env): ProcessorConfig {
  const streamName = required(env, E.streamName);
  if (!/^[a-zA-Z0-9_.-]{1,128}$/.test(streamName))
    throw new EnvironmentError('STREAM_NAME must be a Kinesis stream name (1-128 of a-z A-Z 0-9 _ . -)');
  const region = required(env, E.region);
  if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(region)) throw new EnvironmentError('AWS_REGION must be a region code such as eu-west-2');

  const kinesisEndpoint = env[E.kinesisEndpoint] || undefined;
  if (kinesisEndpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(kinesisEndpoint))
    throw new EnvironmentError('KINESIS_ENDPOINT must be an http(s) URL');

  const iamAuthRaw = env[E.dbIamAuth] ?? 'false';
  if (!['true', 'false'].includes(iamAuthRaw)) throw new EnvironmentError('DB_IAM_AUTH must be true or false');
  const iamAuth = iamAuthRaw === 'true';
  const password = env[E.dbPassword] || undefined;
  if (!iamAuth && password === undefined) throw new EnvironmentError('DB_PASSWORD is required unless DB_IAM_AUTH=true');

  const sslMode = (env[E.dbSslMode] ?? 'verify-full') as SslMode;
  if (!SSL_MODES.includes(sslMode)) throw new EnvironmentError(`DB_SSL_MODE must be one of ${SSL_MODES.join(', ')}`);
  if (iamAuth && sslMode === 'disable') throw new EnvironmentError('DB_SSL_MODE=disable cannot be used with DB_IAM_AUTH=true');
  const caBundlePath = env[E.dbCaBundle] || DEFAULT_CA_BUNDLE;
  const logLevel = oneOf(env, E.logLevel, LOG_LEVELS, 'info');
  const metrics = oneOf(env, E.metrics, METRICS_MODES, 'emf');
  const namespace = metricsNamespace(env);

  const config: ProcessorConfig = {
    streamName,
    region,
    kinesisEndpoint,
    db: {
      host: required(env, E.dbHost),
      port: integer(env, E.dbPort, 5432, 1, 65535),
      database: required(env, E.dbName),
      user: required(env, E.dbUser),
      password,
      iamAuth,
      sslMode,
      caBundlePath,
    },
    workerId: env[E.workerId] || `${env.HOSTNAME ?? 'processor'}-${process.pid}`,
    maxRecordBytes: integer(env, E.maxRecordBytes, 1_048_576, 1024, 10_485_760),
    leaseTtlMs: integer(env, E.leaseTtlMs, 20_000, 1000, 600_000),
    pollIntervalMs: integer(env, E.pollIntervalMs, 250, 0, 10_000),
    getRecordsLimit: integer(env, E.getRecordsLimit, 2_000, 1, 10_000),
    maxInFlightBytes: integer(env, E.maxInFlightBytes, DEFAULT_MAX_IN_FLIGHT_BYTES, 1_048_576, 1_073_741_824),
    healthPort: integer(env, E.healthPort, PROCESSOR_HEALTH_PORT, 0, 65535),
    migrateOnStart: booleanFlag(env, E.dbMigrateOnStart, true),
    logLevel,
    metrics,
    metricsNamespace: namespace,
  };
  // Checked last (after every variable's own rule) and at start-up, not at the first connection,
  // where a missing bundle would surface as a TLS error mid-run.
  if (sslMode === 'verify-full' && !existsSync(caBundlePath)) {
    throw new EnvironmentError(
      `DB_SSL_MODE=verify-full needs a CA bundle, but ${env[E.dbCaBundle] ? `DB_CA_BUNDLE=${caBundlePath} does not exist` : `DB_CA_BUNDLE is unset and the default ${caBundlePath} does not exist`}: set DB_CA_BUNDLE to the RDS CA bundle file (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)`,
    );
  }
  return config;
}

function booleanFlag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== 'true' && raw !== 'false') throw new EnvironmentError(`${name} must be true or false`);
  return raw === 'true';
}

/**
 * Configuration of `node dist/processor/tasks/migrate/main.js`: the same DB_* variables, with the master
 * credentials (password login); it reads no stream, so STREAM_NAME is not required.
 */
export function loadMigrationConfig(env: Env): ProcessorConfig {
  return loadConfig({ STREAM_NAME: 'unused-by-migrations', ...env, DB_IAM_AUTH: 'false' });
}
