import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { PROCESSOR_METRICS, RESTORE_DRILL_METRICS } from '../contract';
import type { ProcessorMetrics } from './processor-metrics';
import type { RestoreDrill } from './restore-drill';

export interface OperationsDashboardProps {
  readonly dashboardName: string;
  /** The environment suffix and profile, for the header. */
  readonly environment: { readonly suffix: string; readonly profile: string };
  readonly region: string;
  /** The stream's, the service's and the processor's own metrics. */
  readonly metrics: ProcessorMetrics;
  readonly database: rds.IDatabaseInstance;
  /** Every alarm of the environment (processor and security), shown with its state. */
  readonly alarms: readonly cloudwatch.IAlarm[];
  /** The restore drill, when enabled: its RPO, RTO and outcome per run. @default - no drill row */
  readonly restoreDrill?: RestoreDrill;
  /** Log groups an on-call engineer opens from the dashboard, by title. */
  readonly logGroups: ReadonlyArray<{ readonly title: string; readonly name: string }>;
}

const WIDTH = 24;
const FIVE_MINUTES = Duration.minutes(5);

/** The console URL of a CloudWatch dashboard. */
export function dashboardUrl(region: string, name: string): string {
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${name}`;
}

function logGroupUrl(region: string, name: string): string {
  // The console encodes "/" in a log group name as $252F in the fragment.
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${name.replace(/\//g, '$252F')}`;
}

/**
 * One dashboard per environment for the on-call engineer: ingestion (the stream), processing (the
 * processor's own EMF metrics and the service's tasks), the database, the state of every alarm, and
 * links to the log groups. Every processor metric comes from the environment contract, the same
 * names the processor emits (test/lib/constructs/operations-dashboard.test.ts holds them together).
 */
export class OperationsDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const { metrics: m, database: db } = props;
    const names = PROCESSOR_METRICS.names;
    const stream = m.streamName;
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 8, height: 6, period: FIVE_MINUTES, ...extra });
    const heading = (markdown: string, height = 1) => new cloudwatch.TextWidget({ markdown, width: WIDTH, height });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
      periodOverride: cloudwatch.PeriodOverride.AUTO,
    });
    this.dashboard.addWidgets(
      heading(
        `# ${props.dashboardName}\nEnvironment \`${props.environment.suffix}\` (${props.environment.profile} profile): stream \`${stream}\`. Metrics: namespace \`${PROCESSOR_METRICS.namespace}\`, \`AWS/Kinesis\`, \`ECS/ContainerInsights\`, \`AWS/RDS\`.`,
        2,
      ),
    );

    this.dashboard.addWidgets(heading('## Ingestion'));
    this.dashboard.addWidgets(
      graph('Incoming records', [m.stream('IncomingRecords', cloudwatch.Stats.SUM)]),
      graph('Incoming bytes', [m.stream('IncomingBytes', cloudwatch.Stats.SUM)]),
      graph('Write throttles', [
        m.stream('WriteProvisionedThroughputExceeded', cloudwatch.Stats.SUM),
        m.stream('PutRecords.ThrottledRecords', cloudwatch.Stats.SUM),
      ]),
    );

    this.dashboard.addWidgets(heading('## Processing'));
    this.dashboard.addWidgets(
      graph('Records persisted, duplicate, stale', [
        m.processor(names.recordsPersisted, cloudwatch.Stats.SUM, FIVE_MINUTES, 'persisted'),
        m.processor(names.recordsDuplicate, cloudwatch.Stats.SUM, FIVE_MINUTES, 'duplicate'),
        m.processor(names.recordsStale, cloudwatch.Stats.SUM, FIVE_MINUTES, 'stale (history only)'),
      ]),
      graph('Quarantined, by reason code', [m.quarantinedByReason(FIVE_MINUTES)], { stacked: true }),
      graph(
        'Batch latency',
        [
          m.processor(names.batchLatency, cloudwatch.Stats.p(50), FIVE_MINUTES, 'p50'),
          m.processor(names.batchLatency, cloudwatch.Stats.p(99), FIVE_MINUTES, 'p99'),
        ],
        { leftYAxis: { label: 'ms', showUnits: false } },
      ),
    );
    this.dashboard.addWidgets(
      graph('Iterator age, per shard', [m.millisBehindLatestPerShard(FIVE_MINUTES), m.iteratorAgeMax(FIVE_MINUTES)], {
        leftYAxis: { label: 'ms', showUnits: false },
      }),
      graph('Running vs desired tasks', [m.runningTasks(FIVE_MINUTES), m.desiredTasks(FIVE_MINUTES)]),
      graph('Stuck shards and bisected batches', [
        m.shardStuck(FIVE_MINUTES),
        m.processor(names.batchTransactions, cloudwatch.Stats.MAXIMUM, FIVE_MINUTES, 'transactions per batch (max)'),
      ]),
    );

    this.dashboard.addWidgets(heading('## Database'));
    // RDS publishes ReplicaLag for read replicas only; a Multi-AZ instance's standby is synchronous
    // and not readable, so it has no lag metric. https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZSingleStandby.html
    this.dashboard.addWidgets(
      graph('CPU', [db.metricCPUUtilization({ period: FIVE_MINUTES })], { width: 6, leftYAxis: { min: 0, max: 100 } }),
      graph('Connections', [db.metricDatabaseConnections({ period: FIVE_MINUTES })], { width: 6 }),
      graph('Free storage', [db.metricFreeStorageSpace({ period: FIVE_MINUTES })], { width: 6 }),
      graph(
        'Read and write latency',
        [db.metric('ReadLatency', { period: FIVE_MINUTES }), db.metric('WriteLatency', { period: FIVE_MINUTES })],
        { width: 6 },
      ),
    );

    if (props.restoreDrill) {
      // One data point per drill: a daily period over the last 90 days, whatever the dashboard's range.
      const drill = props.restoreDrill;
      const day = Duration.days(1);
      const lastQuarter = { start: '-P90D', period: day };
      this.dashboard.addWidgets(heading('## Restore drill (last 90 days)'));
      this.dashboard.addWidgets(
        graph(
          'Recovery point and recovery time',
          [
            drill.metric(RESTORE_DRILL_METRICS.rpo, cloudwatch.Stats.MAXIMUM, day).with({ label: 'RPO (s)' }),
            drill.metric(RESTORE_DRILL_METRICS.rto, cloudwatch.Stats.MAXIMUM, day).with({ label: 'RTO (s)' }),
          ],
          {
            ...lastQuarter,
            width: 12,
            leftAnnotations: [
              { value: drill.targetSeconds.rpo, label: 'RPO target' },
              { value: drill.targetSeconds.rto, label: 'RTO target' },
            ],
          },
        ),
        graph('Drill succeeded (1) or failed (0)', [drill.metric(RESTORE_DRILL_METRICS.succeeded, cloudwatch.Stats.MINIMUM, day)], {
          ...lastQuarter,
          width: 12,
          leftYAxis: { min: 0, max: 1 },
        }),
      );
    }

    this.dashboard.addWidgets(heading('## Alarms'));
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Every alarm of this environment (processor, security, restore drill)',
        alarms: [...props.alarms],
        width: WIDTH,
        height: Math.max(3, Math.ceil(props.alarms.length / 4) + 2),
        sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
      }),
    );

    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: ['## Logs', ...props.logGroups.map((g) => `- [${g.title}](${logGroupUrl(props.region, g.name)}): \`${g.name}\``)].join(
          '\n',
        ),
        width: WIDTH,
        height: Math.ceil(props.logGroups.length * 0.6) + 2,
      }),
    );
  }
}
