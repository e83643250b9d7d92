import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { PROCESSOR_METRICS, ProcessorMetricName } from '../contract';

export interface ProcessorMetricsProps {
  readonly stream: kinesis.IStream;
  /** The processor service, for the ECS and Container Insights metrics. */
  readonly service: ecs.FargateService;
  readonly cluster: ecs.ICluster;
}

/**
 * Every metric the environment's alarms and dashboard use, built in one place (the way
 * cdk-monitoring-constructs separates metric factories from alarms): the processor's own EMF
 * metrics by the names of the environment contract (lib/contract/processor.ts, which the
 * processor emits), the stream's Kinesis metrics and the service's ECS metrics.
 */
export class ProcessorMetrics {
  constructor(private readonly props: ProcessorMetricsProps) {}

  /** One of the processor's own metrics (namespace and dimension from the contract). */
  processor(name: ProcessorMetricName, statistic: string, period: Duration = Duration.minutes(1), label?: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: PROCESSOR_METRICS.namespace,
      metricName: name,
      dimensionsMap: { [PROCESSOR_METRICS.streamDimension]: this.props.stream.streamName },
      statistic,
      period,
      ...(label ? { label } : {}),
    });
  }

  /** Age of the oldest record not yet read (Kinesis GetRecords.IteratorAgeMilliseconds), maximum. */
  iteratorAgeMax(period: Duration = Duration.minutes(1)): cloudwatch.Metric {
    return this.props.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: cloudwatch.Stats.MAXIMUM, period });
  }

  /** Percentage of processed records that were quarantined in each period. */
  quarantineRatePercent(period: Duration = Duration.minutes(5)): cloudwatch.MathExpression {
    const { recordsProcessed, recordsQuarantined } = PROCESSOR_METRICS.names;
    return new cloudwatch.MathExpression({
      expression: 'IF(processed > 0, 100 * quarantined / processed, 0)',
      usingMetrics: {
        processed: this.processor(recordsProcessed, cloudwatch.Stats.SUM, period),
        quarantined: this.processor(recordsQuarantined, cloudwatch.Stats.SUM, period),
      },
      period,
      label: 'Quarantined %',
    });
  }

  /** 1 while a shard fails the same batch repeatedly, 0 with every committed batch (maximum). */
  shardStuck(period: Duration = Duration.minutes(1)): cloudwatch.Metric {
    return this.processor(PROCESSOR_METRICS.names.shardStuck, cloudwatch.Stats.MAXIMUM, period);
  }

  /** Running tasks of the service (Container Insights), minimum. */
  runningTasks(period: Duration = Duration.minutes(1)): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensionsMap: { ClusterName: this.props.cluster.clusterName, ServiceName: this.props.service.serviceName },
      statistic: cloudwatch.Stats.MINIMUM,
      period,
    });
  }
}
