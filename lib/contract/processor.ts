/**
 * The processor's side of the environment contract: the environment variables it reads, the
 * metrics it emits, its health port and its database identities. The processor (lib/processor)
 * reads and emits exactly these; the compute stack sets the variables, alarms and graphs these
 * metrics, and a contract test holds the two sides together.
 *
 * No CDK and no runtime imports: this file is part of the processor image's build context.
 */

/** Environment variables of the processor container (12-factor: its only configuration). */
export const PROCESSOR_ENV = {
  streamName: 'STREAM_NAME',
  region: 'AWS_REGION',
  kinesisEndpoint: 'KINESIS_ENDPOINT',
  dbHost: 'DB_HOST',
  dbPort: 'DB_PORT',
  dbName: 'DB_NAME',
  dbUser: 'DB_USER',
  dbPassword: 'DB_PASSWORD',
  dbIamAuth: 'DB_IAM_AUTH',
  dbSslMode: 'DB_SSL_MODE',
  dbCaBundle: 'DB_CA_BUNDLE',
  dbMigrateOnStart: 'DB_MIGRATE_ON_START',
  workerId: 'WORKER_ID',
  maxRecordBytes: 'MAX_RECORD_BYTES',
  getRecordsLimit: 'GET_RECORDS_LIMIT',
  maxInFlightBytes: 'MAX_IN_FLIGHT_BYTES',
  leaseTtlMs: 'LEASE_TTL_MS',
  pollIntervalMs: 'POLL_INTERVAL_MS',
  healthPort: 'HEALTH_PORT',
  logLevel: 'LOG_LEVEL',
  metrics: 'METRICS',
  metricsNamespace: 'METRICS_NAMESPACE',
  /** The secret-rotation function only: the ARN of the one secret it rotates. */
  rotationSecretArn: 'ROTATION_SECRET_ARN',
} as const;
export type ProcessorEnvName = (typeof PROCESSOR_ENV)[keyof typeof PROCESSOR_ENV];

/**
 * Entry points of the processor image: lib/processor and lib/contract compiled into dist/ (see
 * lib/processor/Dockerfile). The service, its health check and every one-off task run these.
 */
export const PROCESSOR_ENTRY_POINTS = {
  service: 'dist/processor/service/main.js',
  health: 'dist/processor/service/health.js',
  migrate: 'dist/processor/tasks/migrate/main.js',
  verify: 'dist/processor/tasks/verify/main.js',
  redrive: 'dist/processor/tasks/redrive/main.js',
  restoreDrill: 'dist/processor/tasks/restore-drill/main.js',
  auditChain: 'dist/processor/tasks/audit-chain/main.js',
  /** The read API as a Lambda function (a custom runtime: the image's node runs the Runtime API loop itself). */
  readApi: 'dist/processor/api/lambda.js',
  /** The master secret's rotation function (a custom runtime, like readApi), invoked by Secrets Manager. */
  rotateSecret: 'dist/processor/rotation/main.js',
} as const;

/** `node <entry> <args>` as a container command. */
export function processorCommand(entry: keyof typeof PROCESSOR_ENTRY_POINTS, ...args: string[]): string[] {
  return ['node', PROCESSOR_ENTRY_POINTS[entry], ...args];
}

/** The restore drill task's container (and its log stream prefix). */
export const RESTORE_DRILL_CONTAINER_NAME = 'restore-drill';

/** The container's name in every task definition that runs the processor image. */
export const PROCESSOR_CONTAINER_NAME = 'processor';
/** The awslogs stream prefix: streams are `<prefix>/<container>/<task id>`. */
export const PROCESSOR_LOG_STREAM_PREFIX = 'processor';

/** `GET /health` listens on 127.0.0.1 at this port (the container HEALTHCHECK calls it). */
export const PROCESSOR_HEALTH_PORT = 8080;

/**
 * CloudWatch Embedded Metric Format namespace, dimensions and names of everything the processor emits.
 * Every metric has the dimension set [StreamName]; MillisBehindLatest also [StreamName, ShardId] (one
 * line per shard on the dashboard), and RecordsQuarantinedByReason only [StreamName, ReasonCode].
 */
export const PROCESSOR_METRICS = {
  namespace: 'HipaaFhir/Processor',
  streamDimension: 'StreamName',
  shardDimension: 'ShardId',
  reasonDimension: 'ReasonCode',
  names: {
    recordsProcessed: 'RecordsProcessed',
    recordsPersisted: 'RecordsPersisted',
    recordsDuplicate: 'RecordsDuplicate',
    recordsStale: 'RecordsStale',
    recordsQuarantined: 'RecordsQuarantined',
    batchLatency: 'BatchLatency',
    millisBehindLatest: 'MillisBehindLatest',
    batchTransactions: 'BatchTransactions',
    shardStuck: 'ShardStuck',
    batchAttempts: 'BatchAttempts',
    recordsQuarantinedByReason: 'RecordsQuarantinedByReason',
  },
} as const;

/** The dimension sets of each processor metric, as CloudWatch stores them. */
export function processorMetricDimensions(name: ProcessorMetricName): ReadonlyArray<readonly string[]> {
  const { streamDimension, shardDimension, reasonDimension, names } = PROCESSOR_METRICS;
  if (name === names.recordsQuarantinedByReason) return [[streamDimension, reasonDimension]];
  if (name === names.millisBehindLatest) return [[streamDimension], [streamDimension, shardDimension]];
  return [[streamDimension]];
}
export type ProcessorMetricName = (typeof PROCESSOR_METRICS.names)[keyof typeof PROCESSOR_METRICS.names];

/** The database role the processor works as: INSERT and SELECT only on history and audit. */
export const WRITER_ROLE = 'fhir_writer';
/** The processor's own database login (migration 10); in AWS it authenticates with IAM tokens only. */
export const PROCESSOR_DB_USER = 'fhir_processor';
/** The restore drill's login (migration 12): EXECUTE on its summary function, no table privilege. */
export const DRILL_DB_USER = 'fhir_drill';
/** The audit chain export's login (migration 14): SELECT on audit_event's id and chain columns only, never its content. */
export const AUDITOR_DB_USER = 'fhir_auditor';
/** The audit chain task's container (and its log stream prefix). */
export const AUDIT_CHAIN_CONTAINER_NAME = 'audit-chain';
/** Where the audit chain export writes chain heads in the archive bucket (`<prefix><ISO time>.json`). */
export const AUDIT_HEADS_PREFIX = 'audit-chain-heads/';
/** The read API's login: SELECT on current and history, INSERT of its own audit events; IAM tokens only in AWS. */
export const API_DB_USER = 'fhir_api';

/** Namespace, dimension and names of the restore drill's metrics (written by the drill task, alarmed by its construct). */
export const RESTORE_DRILL_METRICS = {
  namespace: 'HipaaFhir/RestoreDrill',
  dimension: 'DBInstanceIdentifier',
  rpo: 'RecoveryPointSeconds',
  rto: 'RecoveryTimeSeconds',
  succeeded: 'DrillSucceeded',
} as const;

/**
 * Digits of the UTC timestamp that ends every drill instance identifier. The IAM pattern matches
 * exactly that many characters after the prefix, so the prefix `<project>-drill-dev-` cannot match
 * the instances of an environment named `dev-2`.
 */
export const DRILL_TIMESTAMP_LENGTH = 14;
