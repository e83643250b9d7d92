import type { MetricsLogger } from 'aws-embedded-metrics';
import { PROCESSOR_METRICS } from '../contract/processor';

export interface BatchMetrics {
  readonly shardId: string;
  readonly records: number;
  readonly written: number;
  readonly duplicates: number;
  readonly stale: number;
  readonly quarantined: number;
  readonly batchLatencyMs: number;
  readonly millisBehindLatest?: number;
  /** Transactions the batch took (more than 1 when a refused record was bisected out). @default 1 */
  readonly transactions?: number;
  /** Quarantined records of the batch by reason code (RecordsQuarantinedByReason, one series per code). @default none */
  readonly quarantinedByReason?: Readonly<Record<string, number>>;
}

/** A shard whose current batch keeps failing: the metric the "shard stuck" alarm watches. */
export interface StuckMetrics {
  readonly shardId: string;
  /** Consecutive failed attempts at the same batch. */
  readonly attempts: number;
}

export interface MetricsSink {
  batch(m: BatchMetrics): Promise<void>;
  /** Emitted on every failed attempt once a shard counts as stuck (ShardStuck = 1). */
  shardStuck(m: StuckMetrics): Promise<void>;
}

type Emf = typeof import('aws-embedded-metrics');

/**
 * aws-embedded-metrics picks its environment when it is first loaded and, unless told, probes
 * the EC2 instance metadata endpoint over HTTP. We always write EMF documents to stdout
 * ("Local"), which the awslogs driver ships to CloudWatch Logs where the metrics are extracted;
 * so set that before the first load and load it only when metrics are wanted.
 */
function loadEmf(): Emf {
  process.env.AWS_EMF_ENVIRONMENT ??= 'Local';
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, after AWS_EMF_ENVIRONMENT is set (see above)
  return require('aws-embedded-metrics') as Emf;
}

/** CloudWatch metrics in Embedded Metric Format, by the names of the environment contract (lib/contract/processor.ts). */
export class EmfMetrics implements MetricsSink {
  private readonly emf: Emf = loadEmf();

  constructor(
    private readonly namespace: string,
    private readonly streamName: string,
  ) {}

  /** A logger with this stream's dimension set (and the shard as a property). */
  private logger(shardId: string, extra: Readonly<Record<string, string>> = {}): MetricsLogger {
    const metrics = this.emf.createMetricsLogger();
    metrics.setNamespace(this.namespace);
    metrics.setDimensions({ [PROCESSOR_METRICS.streamDimension]: this.streamName, ...extra });
    metrics.setProperty('ShardId', shardId);
    return metrics;
  }

  async batch(m: BatchMetrics): Promise<void> {
    const { Unit } = this.emf;
    const { names } = PROCESSOR_METRICS;
    const metrics = this.logger(m.shardId);
    metrics.putMetric(names.recordsProcessed, m.records, Unit.Count);
    metrics.putMetric(names.recordsPersisted, m.written, Unit.Count);
    metrics.putMetric(names.recordsDuplicate, m.duplicates, Unit.Count);
    metrics.putMetric(names.recordsStale, m.stale, Unit.Count);
    metrics.putMetric(names.recordsQuarantined, m.quarantined, Unit.Count);
    metrics.putMetric(names.batchLatency, m.batchLatencyMs, Unit.Milliseconds);
    metrics.putMetric(names.batchTransactions, m.transactions ?? 1, Unit.Count);
    // A committed batch means the shard moves: ShardStuck = 0 lets the alarm clear on its own.
    metrics.putMetric(names.shardStuck, 0, Unit.Count);
    await metrics.flush();
    if (m.millisBehindLatest !== undefined) {
      // Per stream and per shard: one dashboard line for each shard.
      const behind = this.logger(m.shardId);
      behind.setDimensions(
        [
          { [PROCESSOR_METRICS.streamDimension]: this.streamName },
          { [PROCESSOR_METRICS.streamDimension]: this.streamName, [PROCESSOR_METRICS.shardDimension]: m.shardId },
        ],
        false,
      );
      behind.putMetric(names.millisBehindLatest, m.millisBehindLatest, Unit.Milliseconds);
      await behind.flush();
    }
    for (const [reason, count] of Object.entries(m.quarantinedByReason ?? {})) {
      if (count === 0) continue;
      const byReason = this.logger(m.shardId, { [PROCESSOR_METRICS.reasonDimension]: reason });
      byReason.putMetric(names.recordsQuarantinedByReason, count, Unit.Count);
      await byReason.flush();
    }
  }

  /** ShardStuck (Maximum >= 1 over a period) is the alarm: a shard that cannot make progress. */
  async shardStuck(m: StuckMetrics): Promise<void> {
    const { Unit } = this.emf;
    const metrics = this.logger(m.shardId);
    metrics.putMetric(PROCESSOR_METRICS.names.shardStuck, 1, Unit.Count);
    metrics.putMetric(PROCESSOR_METRICS.names.batchAttempts, m.attempts, Unit.Count);
    await metrics.flush();
  }
}

/** For the local run and tests: no metrics. */
export class NoMetrics implements MetricsSink {
  async batch(): Promise<void> {}
  async shardStuck(): Promise<void> {}
}
