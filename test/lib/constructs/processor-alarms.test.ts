import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ProcessorAlarms } from '../../../lib/constructs/processor-alarms';
import { logicalIdOf, processorMetricsFixture, testStack } from '../../helpers';

describe('ProcessorAlarms', () => {
  const stack = testStack();
  const { metrics, stream, cluster, service } = processorMetricsFixture(stack);
  const topic = new sns.Topic(stack, 'AlarmTopic');
  const alarms = new ProcessorAlarms(stack, 'ProcessorAlarms', { metrics, minTasks: 2, topic });
  const template = Template.fromStack(stack);
  const byStream = [{ Name: 'StreamName', Value: { Ref: logicalIdOf(stream) } }];

  test('four alarms, each notifying the given topic', () => {
    expect(alarms.alarms).toHaveLength(4);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: logicalIdOf(topic) }] });
  });

  test('records older than five minutes in the stream for five minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Kinesis',
      MetricName: 'GetRecords.IteratorAgeMilliseconds',
      Dimensions: byStream,
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 300000,
      EvaluationPeriods: 5,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  test('more than 5% of the records processed in five minutes quarantined', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(processed > 0, 100 * quarantined / processed, 0)', ReturnData: true })]),
      Threshold: 5,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  test('a stuck shard: the metric the processor emits for a shard it cannot move, by stream, in 2 of 3 minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'HipaaFhir/Processor',
      MetricName: 'ShardStuck',
      Statistic: 'Maximum',
      Period: 60,
      Dimensions: byStream,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
    });
  });

  test('fewer running tasks than the given minimum for five minutes; no data counts as failing', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'ECS/ContainerInsights',
      MetricName: 'RunningTaskCount',
      Statistic: 'Minimum',
      Dimensions: [
        { Name: 'ClusterName', Value: { Ref: logicalIdOf(cluster) } },
        { Name: 'ServiceName', Value: { 'Fn::GetAtt': [logicalIdOf(service), 'Name'] } },
      ],
      Threshold: 2,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 5,
      TreatMissingData: 'breaching',
    });
  });
});
