import type { MetricsLogger } from 'aws-embedded-metrics';

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
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('aws-embedded-metrics') as Emf;
}

/** CloudWatch metrics in Embedded Metric Format. */
export class EmfMetrics implements MetricsSink {
  private readonly emf: Emf = loadEmf();

  constructor(private readonly namespace: string, private readonly streamName: string) {}

  async batch(m: BatchMetrics): Promise<void> {
    const { Unit } = this.emf;
    const metrics: MetricsLogger = this.emf.createMetricsLogger();
    metrics.setNamespace(this.namespace);
    metrics.setDimensions({ StreamName: this.streamName });
    metrics.setProperty('ShardId', m.shardId);
    metrics.putMetric('RecordsProcessed', m.records, Unit.Count);
    metrics.putMetric('RecordsPersisted', m.written, Unit.Count);
    metrics.putMetric('RecordsDuplicate', m.duplicates, Unit.Count);
    metrics.putMetric('RecordsStale', m.stale, Unit.Count);
    metrics.putMetric('RecordsQuarantined', m.quarantined, Unit.Count);
    metrics.putMetric('BatchLatency', m.batchLatencyMs, Unit.Milliseconds);
    if (m.millisBehindLatest !== undefined) metrics.putMetric('MillisBehindLatest', m.millisBehindLatest, Unit.Milliseconds);
    metrics.putMetric('BatchTransactions', m.transactions ?? 1, Unit.Count);
    // A committed batch means the shard moves: ShardStuck = 0 lets the alarm clear on its own.
    metrics.putMetric('ShardStuck', 0, Unit.Count);
    await metrics.flush();
  }

  /** ShardStuck (Maximum >= 1 over a period) is the alarm: a shard that cannot make progress. */
  async shardStuck(m: StuckMetrics): Promise<void> {
    const { Unit } = this.emf;
    const metrics: MetricsLogger = this.emf.createMetricsLogger();
    metrics.setNamespace(this.namespace);
    metrics.setDimensions({ StreamName: this.streamName });
    metrics.setProperty('ShardId', m.shardId);
    metrics.putMetric('ShardStuck', 1, Unit.Count);
    metrics.putMetric('BatchAttempts', m.attempts, Unit.Count);
    await metrics.flush();
  }
}

/** For the local run and tests: no metrics. */
export class NoMetrics implements MetricsSink {
  async batch(): Promise<void> {}
  async shardStuck(): Promise<void> {}
}
