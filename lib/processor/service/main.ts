/**
 * The processor: consumes the Kinesis stream and persists FHIR records into PostgreSQL,
 * exactly once, with quarantine and audit. Configuration is environment variables only.
 */
import type { Server } from 'http';
import type { Pool } from 'pg';
import { loadConfig, loadOrExit, ProcessorConfig } from '../config';
import { createPool } from '../db/pool';
import { startHealthServer } from './health';
import { Coordinator } from './coordinator';
import { createKinesisClient } from './kinesis-client';
import { MemoryBudget } from './memory-budget';
import { createLogger, errorFields, Logger } from '../logger';
import { EmfMetrics, MetricsSink, NoMetrics } from '../metrics';
import { runMigrations } from '../db/migrate';

export interface RunningProcessor {
  readonly coordinator: Coordinator;
  readonly pool: Pool;
  /** The budget every shard's batches reserve from (MAX_IN_FLIGHT_BYTES). */
  readonly memory: MemoryBudget;
  shutdown(): Promise<void>;
}

export async function startProcessor(config: ProcessorConfig, logger: Logger, metrics: MetricsSink): Promise<RunningProcessor> {
  // In AWS the one-off migration task applies migrations with the master credentials, and the
  // service's own login may not change the schema (DB_MIGRATE_ON_START=false); locally it does both.
  if (config.migrateOnStart) await runMigrations(config, logger);
  const pool = createPool(config, { asWriter: true, max: 8 });
  pool.on('error', (error) => logger.warn(errorFields(error), 'idle database connection failed'));
  // One budget for the whole process: every shard this task holds reserves from it.
  const memory = new MemoryBudget(config.maxInFlightBytes);
  const coordinator = new Coordinator({
    kinesis: createKinesisClient(config),
    pool,
    streamName: config.streamName,
    workerId: config.workerId,
    leaseTtlMs: config.leaseTtlMs,
    pollIntervalMs: config.pollIntervalMs,
    getRecordsLimit: config.getRecordsLimit,
    maxRecordBytes: config.maxRecordBytes,
    memoryBudget: memory,
    logger,
    metrics,
  });
  coordinator.start();
  let health: Server | undefined;
  if (config.healthPort > 0) health = startHealthServer(coordinator, config.healthPort);
  logger.info({ stream: config.streamName, tls: config.db.sslMode, iamAuth: config.db.iamAuth }, 'processor started');
  return {
    coordinator,
    pool,
    memory,
    async shutdown() {
      await coordinator.shutdown();
      health?.close();
      await pool.end();
    },
  };
}

/** The logger and the metrics sink the configuration asks for (LOG_LEVEL, METRICS, METRICS_NAMESPACE). */
export function telemetry(config: ProcessorConfig): { logger: Logger; metrics: MetricsSink } {
  return {
    logger: createLogger(config.workerId, config.logLevel),
    metrics: config.metrics === 'off' ? new NoMetrics() : new EmfMetrics(config.metricsNamespace, config.streamName),
  };
}

async function main(): Promise<void> {
  const config = loadOrExit(() => loadConfig(process.env));
  const { logger, metrics } = telemetry(config);
  const processor = await startProcessor(config, logger, metrics);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing batches and releasing leases');
    processor.shutdown().then(
      () => {
        logger.info('stopped cleanly');
        process.exit(0);
      },
      (error) => {
        logger.error(errorFields(error), 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: 'processor failed', ...errorFields(error) })}\n`);
    process.exit(1);
  });
}
