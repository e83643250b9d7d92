import { createMetricsLogger, StorageResolution, Unit } from 'aws-embedded-metrics';

export interface BatchMetrics {
  readonly shardId: string;
  readonly records: number;
  readonly written: number;
  readonly duplicates: number;
  readonly stale: number;
  readonly quarantined: number;
  readonly batchLatencyMs: number;
  readonly millisBehindLatest?: number;
}

export interface MetricsSink {
  batch(m: BatchMetrics): Promise<void>;
}

/** CloudWatch metrics in Embedded Metric Format, written to stdout and extracted from the log group. */
export class EmfMetrics implements MetricsSink {
  constructor(private readonly namespace: string, private readonly streamName: string) {}

  async batch(m: BatchMetrics): Promise<void> {
    const metrics = createMetricsLogger();
    metrics.setNamespace(this.namespace);
    metrics.setDimensions({ StreamName: this.streamName });
    metrics.setProperty('ShardId', m.shardId);
    metrics.putMetric('RecordsProcessed', m.records, Unit.Count, StorageResolution.Standard);
    metrics.putMetric('RecordsPersisted', m.written, Unit.Count);
    metrics.putMetric('RecordsDuplicate', m.duplicates, Unit.Count);
    metrics.putMetric('RecordsStale', m.stale, Unit.Count);
    metrics.putMetric('RecordsQuarantined', m.quarantined, Unit.Count);
    metrics.putMetric('BatchLatency', m.batchLatencyMs, Unit.Milliseconds);
    if (m.millisBehindLatest !== undefined) metrics.putMetric('MillisBehindLatest', m.millisBehindLatest, Unit.Milliseconds);
    await metrics.flush();
  }
}

/** For the local run and tests: counts only. */
export class NoMetrics implements MetricsSink {
  async batch(): Promise<void> {}
}
