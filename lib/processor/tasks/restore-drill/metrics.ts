/**
 * The restore drill's CloudWatch metrics, in Embedded Metric Format on stdout: the awslogs driver
 * ships them through the Logs VPC endpoint, where CloudWatch extracts them (no monitoring endpoint,
 * no PutMetricData permission). The names are the environment contract's (RESTORE_DRILL_METRICS in
 * lib/contract/processor.ts), which the construct's alarms read too.
 */
import { RESTORE_DRILL_METRICS } from '../../../contract/processor';

export { RESTORE_DRILL_METRICS };

export interface DrillOutcome {
  readonly sourceInstance: string;
  readonly succeeded: boolean;
  /** Present when the restored copy was verified. */
  readonly rpoSeconds?: number;
  readonly rtoSeconds?: number;
}

export interface DrillMetricsSink {
  outcome(o: DrillOutcome): Promise<void>;
}

type Emf = typeof import('aws-embedded-metrics');

export class EmfDrillMetrics implements DrillMetricsSink {
  private readonly emf: Emf;

  constructor() {
    // As the processor's metrics (metrics.ts): always stdout, never the instance metadata probe.
    process.env.AWS_EMF_ENVIRONMENT ??= 'Local';
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, after AWS_EMF_ENVIRONMENT is set
    this.emf = require('aws-embedded-metrics') as Emf;
  }

  async outcome(o: DrillOutcome): Promise<void> {
    const { Unit } = this.emf;
    const m = this.emf.createMetricsLogger();
    m.setNamespace(RESTORE_DRILL_METRICS.namespace);
    m.setDimensions({ [RESTORE_DRILL_METRICS.dimension]: o.sourceInstance });
    m.putMetric(RESTORE_DRILL_METRICS.succeeded, o.succeeded ? 1 : 0, Unit.Count);
    if (o.rpoSeconds !== undefined) m.putMetric(RESTORE_DRILL_METRICS.rpo, o.rpoSeconds, Unit.Seconds);
    if (o.rtoSeconds !== undefined) m.putMetric(RESTORE_DRILL_METRICS.rto, o.rtoSeconds, Unit.Seconds);
    await m.flush();
  }
}

export class NoDrillMetrics implements DrillMetricsSink {
  async outcome(): Promise<void> {}
}
