import { PROCESSOR_METRICS } from '../../lib/contract';
import { EmfMetrics } from '../../lib/processor/metrics';

/** A metric as CloudWatch extracts it from an EMF document: its namespace and every dimension set. */
export interface EmittedMetric {
  readonly namespace: string;
  readonly dimensionSets: ReadonlyArray<readonly string[]>;
}

type EmfDocument = { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> } };

/**
 * What the real processor emits (lib/processor/metrics.ts), captured from stdout: a committed batch
 * with a quarantined record and its position, and a stuck shard. Keyed by metric name.
 */
export async function emittedProcessorMetrics(streamName = 'hipaa-fhir-records-test'): Promise<ReadonlyMap<string, EmittedMetric>> {
  return captureEmf(async () => {
    const metrics = new EmfMetrics(PROCESSOR_METRICS.namespace, streamName);
    await metrics.batch({
      shardId: 'shardId-000000000000',
      records: 3,
      written: 2,
      duplicates: 0,
      stale: 0,
      quarantined: 1,
      batchLatencyMs: 12,
      millisBehindLatest: 5,
      transactions: 1,
      quarantinedByReason: { INVALID_FHIR: 1 },
    });
    await metrics.shardStuck({ shardId: 'shardId-000000000000', attempts: 4 });
  });
}

/** Runs `emit` with stdout captured, and reads the metrics of the EMF documents it wrote. */
async function captureEmf(emit: () => Promise<void>): Promise<ReadonlyMap<string, EmittedMetric>> {
  const lines: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  try {
    await emit();
  } finally {
    write.mockRestore();
    log.mockRestore();
  }
  const emitted = new Map<string, { namespace: string; dimensionSets: string[][] }>();
  for (const doc of lines
    .join('\n')
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as EmfDocument)) {
    for (const directive of doc._aws.CloudWatchMetrics) {
      for (const metric of directive.Metrics) {
        const entry = emitted.get(metric.Name) ?? { namespace: directive.Namespace, dimensionSets: [] };
        for (const set of directive.Dimensions) {
          const sorted = [...set].sort();
          if (!entry.dimensionSets.some((s) => s.join() === sorted.join())) entry.dimensionSets.push(sorted);
        }
        emitted.set(metric.Name, entry);
      }
    }
  }
  return emitted;
}

/** What the restore drill emits (lib/processor/tasks/restore-drill/metrics.ts) for a verified run, keyed by metric name. */
export async function emittedDrillMetrics(): Promise<ReadonlyMap<string, EmittedMetric>> {
  const { EmfDrillMetrics } = await import('../../lib/processor/tasks/restore-drill/metrics');
  return captureEmf(() =>
    new EmfDrillMetrics().outcome({ sourceInstance: 'hipaa-fhir-db-test', succeeded: true, rpoSeconds: 30, rtoSeconds: 1800 }),
  );
}
