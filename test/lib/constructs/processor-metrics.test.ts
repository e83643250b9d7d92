import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { PROCESSOR_METRICS } from '../../../lib/contract';
import { logicalIdOf, processorMetricsFixture, testStack } from '../../helpers';

describe('ProcessorMetrics', () => {
  const stack = testStack();
  const { metrics, stream, cluster, service } = processorMetricsFixture(stack, 'hipaa-fhir-records-dev');
  const streamRef = { Ref: logicalIdOf(stream) };
  /** A metric as CloudWatch sees it: namespace, name, dimensions, statistic and period, with references resolved. */
  const shape = (m: cloudwatch.Metric) =>
    stack.resolve({
      namespace: m.namespace,
      name: m.metricName,
      dimensions: m.dimensions,
      statistic: m.statistic,
      period: m.period.toSeconds(),
    });

  test("the processor's own metrics: the contract's namespace and name, by stream", () => {
    expect(shape(metrics.processor(PROCESSOR_METRICS.names.batchLatency, 'p99'))).toEqual({
      namespace: 'HipaaFhir/Processor',
      name: 'BatchLatency',
      dimensions: { StreamName: streamRef },
      statistic: 'p99',
      period: 60,
    });
    expect(metrics.processor(PROCESSOR_METRICS.names.recordsPersisted, 'Sum', Duration.minutes(5), 'persisted').label).toBe('persisted');
    expect(shape(metrics.shardStuck())).toEqual({
      namespace: 'HipaaFhir/Processor',
      name: 'ShardStuck',
      dimensions: { StreamName: streamRef },
      statistic: 'Maximum',
      period: 60,
    });
  });

  test("per-shard and per-reason series are SEARCH expressions over the processor's dimension sets, by the literal stream name", () => {
    expect(metrics.streamName).toBe('hipaa-fhir-records-dev');
    const perReason = metrics.quarantinedByReason();
    expect([perReason.expression, perReason.label, perReason.period.toSeconds()]).toEqual([
      'SEARCH(\'{HipaaFhir/Processor,ReasonCode,StreamName} MetricName="RecordsQuarantinedByReason" StreamName="hipaa-fhir-records-dev"\', \'Sum\', 300)',
      'quarantined',
      300,
    ]);
    const perShard = metrics.millisBehindLatestPerShard(Duration.minutes(1));
    expect([perShard.expression, perShard.label, perShard.period.toSeconds()]).toEqual([
      'SEARCH(\'{HipaaFhir/Processor,ShardId,StreamName} MetricName="MillisBehindLatest" StreamName="hipaa-fhir-records-dev"\', \'Maximum\', 60)',
      'behind latest',
      60,
    ]);
  });

  test('the quarantine rate is quarantined over processed records, in percent, 0 when nothing was processed', () => {
    const rate = metrics.quarantineRatePercent();
    expect(rate.expression).toBe('IF(processed > 0, 100 * quarantined / processed, 0)');
    expect(rate.period.toSeconds()).toBe(300);
    const using = rate.usingMetrics as Record<string, cloudwatch.Metric>;
    expect(Object.keys(using).sort()).toEqual(['processed', 'quarantined']);
    expect(shape(using.processed)).toEqual({
      namespace: 'HipaaFhir/Processor',
      name: 'RecordsProcessed',
      dimensions: { StreamName: streamRef },
      statistic: 'Sum',
      period: 300,
    });
    expect(shape(using.quarantined)).toEqual({
      namespace: 'HipaaFhir/Processor',
      name: 'RecordsQuarantined',
      dimensions: { StreamName: streamRef },
      statistic: 'Sum',
      period: 300,
    });
  });

  test("the stream's iterator age (maximum, per minute) and any stream-level Kinesis metric", () => {
    expect(shape(metrics.iteratorAgeMax())).toEqual({
      namespace: 'AWS/Kinesis',
      name: 'GetRecords.IteratorAgeMilliseconds',
      dimensions: { StreamName: streamRef },
      statistic: 'Maximum',
      period: 60,
    });
    expect(shape(metrics.stream('IncomingRecords', 'Sum'))).toEqual({
      namespace: 'AWS/Kinesis',
      name: 'IncomingRecords',
      dimensions: { StreamName: streamRef },
      statistic: 'Sum',
      period: 300,
    });
  });

  test('running and desired tasks from Container Insights, minimum, by cluster and service', () => {
    const dimensions = { ClusterName: { Ref: logicalIdOf(cluster) }, ServiceName: { 'Fn::GetAtt': [logicalIdOf(service), 'Name'] } };
    expect(shape(metrics.runningTasks())).toEqual({
      namespace: 'ECS/ContainerInsights',
      name: 'RunningTaskCount',
      dimensions,
      statistic: 'Minimum',
      period: 60,
    });
    expect(shape(metrics.desiredTasks(Duration.minutes(5)))).toEqual({
      namespace: 'ECS/ContainerInsights',
      name: 'DesiredTaskCount',
      dimensions,
      statistic: 'Minimum',
      period: 300,
    });
  });
});
