import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { PROCESSOR_METRICS, ProcessorMetricName } from '../contract';

export interface ProcessorMetricsProps {
  readonly stream: kinesis.IStream;
  /** The stream's name as a literal (it is fixed by Naming), for SEARCH expressions. */
  readonly streamName: string;
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

  get streamName(): string {
    return this.props.streamName;
  }

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

  /**
   * Every series of a processor metric with the given dimension set (one line per shard, per reason
   * code, ...): a CloudWatch SEARCH, since shard ids and reason codes appear at run time.
   * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/search-expression-syntax.html
   */
  processorSearch(
    name: ProcessorMetricName,
    extraDimension: string,
    statistic: string,
    period: Duration,
    label: string,
  ): cloudwatch.MathExpression {
    const { namespace, streamDimension } = PROCESSOR_METRICS;
    return new cloudwatch.MathExpression({
      expression: `SEARCH('{${namespace},${extraDimension},${streamDimension}} MetricName="${name}" ${streamDimension}="${this.props.streamName}"', '${statistic}', ${period.toSeconds()})`,
      usingMetrics: {},
      period,
      label,
    });
  }

  /** Quarantined records per reason code (RecordsQuarantinedByReason, one series per code). */
  quarantinedByReason(period: Duration = Duration.minutes(5)): cloudwatch.MathExpression {
    return this.processorSearch(
      PROCESSOR_METRICS.names.recordsQuarantinedByReason,
      PROCESSOR_METRICS.reasonDimension,
      'Sum',
      period,
      'quarantined',
    );
  }

  /** How far behind the tip of its shard each worker reads (MillisBehindLatest per shard, maximum). */
  millisBehindLatestPerShard(period: Duration = Duration.minutes(5)): cloudwatch.MathExpression {
    return this.processorSearch(
      PROCESSOR_METRICS.names.millisBehindLatest,
      PROCESSOR_METRICS.shardDimension,
      'Maximum',
      period,
      'behind latest',
    );
  }

  /** A stream-level Kinesis metric (AWS/Kinesis, dimension StreamName). */
  stream(metricName: string, statistic: string, period: Duration = Duration.minutes(5)): cloudwatch.Metric {
    return this.props.stream.metric(metricName, { statistic, period });
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
    return this.containerInsights('RunningTaskCount', period);
  }

  /** Tasks the service wants (Container Insights), minimum. */
  desiredTasks(period: Duration = Duration.minutes(1)): cloudwatch.Metric {
    return this.containerInsights('DesiredTaskCount', period);
  }

  private containerInsights(metricName: string, period: Duration): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'ECS/ContainerInsights',
      metricName,
      dimensionsMap: { ClusterName: this.props.cluster.clusterName, ServiceName: this.props.service.serviceName },
      statistic: cloudwatch.Stats.MINIMUM,
      period,
    });
  }
}
