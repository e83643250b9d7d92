import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { ProcessorMetrics } from './processor-metrics';

export interface ProcessorAlarmsProps {
  readonly metrics: ProcessorMetrics;
  /** The profile's minimum number of running tasks. */
  readonly minTasks: number;
  /** Where every alarm notifies (the environment's encrypted security alarm topic). */
  readonly topic: sns.ITopic;
}

type AlarmSpec = Omit<cloudwatch.AlarmProps, 'comparisonOperator' | 'treatMissingData'> &
  Partial<Pick<cloudwatch.AlarmProps, 'comparisonOperator' | 'treatMissingData'>>;

/** The processor's operational alarms, each notifying the environment's alarm topic. */
export class ProcessorAlarms extends Construct {
  public readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ProcessorAlarmsProps) {
    super(scope, id);
    const { metrics, topic } = props;
    this.add('IteratorAgeHigh', topic, {
      metric: metrics.iteratorAgeMax(),
      threshold: 300_000,
      evaluationPeriods: 5,
      alarmDescription: 'Records wait more than 5 minutes in the stream: the processor is behind or stopped',
    });
    this.add('QuarantineRateHigh', topic, {
      metric: metrics.quarantineRatePercent(),
      threshold: 5,
      evaluationPeriods: 1,
      alarmDescription: 'More than 5% of records were quarantined in 5 minutes: a producer is sending invalid FHIR',
    });
    // The processor emits ShardStuck = 1 on every failed attempt once a batch has failed three
    // times in a row (and 0 with every commit): a shard that cannot make progress, while /health is 503.
    this.add('ShardStuck', topic, {
      metric: metrics.shardStuck(),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      alarmDescription:
        'A shard has failed the same batch repeatedly for minutes: a record or the database blocks it (see stuckShards in /health and the processor log)',
    });
    this.add('RunningTasksBelowMinimum', topic, {
      metric: metrics.runningTasks(),
      threshold: props.minTasks,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      alarmDescription: 'Fewer processor tasks running than the minimum for 5 minutes: tasks are failing',
    });
  }

  private add(id: string, topic: sns.ITopic, spec: AlarmSpec): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...spec,
    });
    alarm.addAlarmAction(new actions.SnsAction(topic));
    this.alarms.push(alarm);
  }
}
