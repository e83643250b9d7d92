import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as rds from 'aws-cdk-lib/aws-rds';
import { PROCESSOR_METRICS } from '../../../lib/contract';
import { dashboardUrl, OperationsDashboard } from '../../../lib/constructs/operations-dashboard';
import { dashboardBody, DashboardWidget, logicalIdOf, processorMetricsFixture, testStack } from '../../helpers';
import { emittedProcessorMetrics } from '../../helpers/emf';

/**
 * Metrics the AWS services publish, by namespace, with the dimension set the dashboard uses:
 * - AWS/Kinesis stream-level metrics: https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html
 * - ECS/ContainerInsights service metrics: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html
 * - AWS/RDS instance metrics: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html
 */
const SERVICE_METRICS: Readonly<Record<string, { readonly dimensions: readonly string[]; readonly names: readonly string[] }>> = {
  'AWS/Kinesis': {
    dimensions: ['StreamName'],
    names: [
      'IncomingRecords',
      'IncomingBytes',
      'WriteProvisionedThroughputExceeded',
      'PutRecords.ThrottledRecords',
      'GetRecords.IteratorAgeMilliseconds',
    ],
  },
  'ECS/ContainerInsights': { dimensions: ['ClusterName', 'ServiceName'], names: ['RunningTaskCount', 'DesiredTaskCount'] },
  'AWS/RDS': {
    dimensions: ['DBInstanceIdentifier'],
    names: ['CPUUtilization', 'DatabaseConnections', 'FreeStorageSpace', 'ReadLatency', 'WriteLatency'],
  },
};

/** Every metric a widget graphs: plain metrics as [namespace, name, dimension names], SEARCH expressions parsed. */
function graphedMetrics(widget: DashboardWidget): Array<{ namespace: string; name: string; dimensions: string[] }> {
  const out: Array<{ namespace: string; name: string; dimensions: string[] }> = [];
  for (const row of widget.properties.metrics ?? []) {
    const options = row[row.length - 1];
    if (typeof options === 'object' && typeof options.expression === 'string') {
      const m = /^SEARCH\('\{([^}]+)\} MetricName="([^"]+)"/.exec(options.expression);
      if (!m) throw new Error(`unexpected expression ${options.expression}`);
      const [namespace, ...dimensions] = m[1].split(',');
      out.push({ namespace, name: m[2], dimensions });
      continue;
    }
    const [namespace, name, ...rest] = row.filter((x): x is string => typeof x === 'string');
    out.push({ namespace, name, dimensions: rest.filter((_, i) => i % 2 === 0) });
  }
  return out;
}

describe('OperationsDashboard', () => {
  const stack = testStack();
  const { metrics } = processorMetricsFixture(stack, 'hipaa-fhir-records-ops');
  const database = rds.DatabaseInstance.fromDatabaseInstanceAttributes(stack, 'Database', {
    instanceIdentifier: 'hipaa-fhir-db-ops',
    instanceEndpointAddress: 'db.internal',
    port: 5432,
    securityGroups: [],
  });
  const alarms = ['First', 'Second', 'Third'].map(
    (id) => new cloudwatch.Alarm(stack, id, { metric: metrics.shardStuck(), threshold: 1, evaluationPeriods: 1 }),
  );
  const logGroups = [
    { title: 'Processor', name: '/hipaa-fhir/ops/processor' },
    { title: 'PostgreSQL and pgaudit', name: '/aws/rds/instance/hipaa-fhir-db-ops/postgresql' },
  ];
  new OperationsDashboard(stack, 'Dashboard', {
    dashboardName: 'hipaa-fhir-operations-ops',
    environment: { suffix: 'ops', profile: 'production' },
    region: 'eu-west-2',
    metrics,
    database,
    alarms,
    logGroups,
  });
  const template = Template.fromStack(stack);
  const body = dashboardBody(template);
  const titled = (title: string) => body.widgets.find((w) => w.properties.title === title);

  test('one dashboard under the given name; its console URL', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'hipaa-fhir-operations-ops' });
    expect(dashboardUrl('eu-west-2', 'hipaa-fhir-operations-ops')).toBe(
      'https://eu-west-2.console.aws.amazon.com/cloudwatch/home?region=eu-west-2#dashboards/dashboard/hipaa-fhir-operations-ops',
    );
    expect(dashboardUrl('eu-west-1', 'x')).toContain('region=eu-west-1#dashboards/dashboard/x');
  });

  test('it has the sections an on-call engineer reads, each with its graphs', () => {
    const headings = body.widgets.filter((w) => w.type === 'text').map((w) => w.properties.markdown!.split('\n')[0]);
    expect(headings).toEqual(['# hipaa-fhir-operations-ops', '## Ingestion', '## Processing', '## Database', '## Alarms', '## Logs']);
    expect(body.widgets[0].properties.markdown).toContain('Environment `ops` (production profile): stream `hipaa-fhir-records-ops`.');
    for (const title of [
      'Incoming records',
      'Incoming bytes',
      'Write throttles',
      'Records persisted, duplicate, stale',
      'Quarantined, by reason code',
      'Batch latency',
      'Iterator age, per shard',
      'Running vs desired tasks',
      'Stuck shards and bisected batches',
      'CPU',
      'Connections',
      'Free storage',
      'Read and write latency',
    ]) {
      expect([title, titled(title)?.type]).toEqual([title, 'metric']);
    }
    // Batch latency shows the median and the tail.
    expect(graphedMetrics(titled('Batch latency')!).map((m) => m.name)).toEqual(['BatchLatency', 'BatchLatency']);
    expect(titled('Batch latency')!.properties.metrics!.map((row) => (row[row.length - 1] as { stat?: string }).stat)).toEqual([
      'p50',
      'p99',
    ]);
    // Widgets tile a 24-column grid without overlapping.
    const cells = new Set<string>();
    for (const w of body.widgets) {
      expect(w.x + w.width).toBeLessThanOrEqual(24);
      for (let x = w.x; x < w.x + w.width; x++)
        for (let y = w.y; y < w.y + w.height; y++) {
          expect(cells.has(`${x},${y}`)).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });

  test('every metric on it is one that the processor or an AWS service really emits, with a dimension set it is emitted with', async () => {
    const emitted = await emittedProcessorMetrics();
    const graphed = body.widgets.filter((w) => w.type === 'metric').flatMap(graphedMetrics);
    expect(graphed.length).toBeGreaterThan(15);
    for (const m of graphed) {
      const key = `${m.namespace} ${m.name} [${[...m.dimensions].sort().join(',')}]`;
      if (m.namespace === PROCESSOR_METRICS.namespace) {
        const sets = emitted.get(m.name)?.dimensionSets.map((s) => s.join(',')) ?? [];
        expect([key, sets]).toEqual([key, expect.arrayContaining([[...m.dimensions].sort().join(',')])]);
      } else {
        const service = SERVICE_METRICS[m.namespace];
        expect([key, service?.names.includes(m.name), [...(service?.dimensions ?? [])].sort()]).toEqual([
          key,
          true,
          [...m.dimensions].sort(),
        ]);
      }
    }
    // Per-shard and per-reason series come from SEARCH over the processor's own dimension sets.
    expect(graphedMetrics(titled('Iterator age, per shard')!)[0]).toEqual({
      namespace: PROCESSOR_METRICS.namespace,
      name: 'MillisBehindLatest',
      dimensions: ['ShardId', 'StreamName'],
    });
    expect(graphedMetrics(titled('Quarantined, by reason code')!)[0]).toEqual({
      namespace: PROCESSOR_METRICS.namespace,
      name: 'RecordsQuarantinedByReason',
      dimensions: ['ReasonCode', 'StreamName'],
    });
  });

  test('a widget whose metric nothing emits fails the check above', async () => {
    const emitted = await emittedProcessorMetrics();
    const bogus = { namespace: PROCESSOR_METRICS.namespace, name: 'RecordsTeleported', dimensions: ['StreamName'] };
    expect(emitted.get(bogus.name)).toBeUndefined();
    expect(SERVICE_METRICS['AWS/Kinesis'].names).not.toContain('RecordsTeleported');
  });

  test('one alarm widget shows exactly the given alarms, with their state', () => {
    const widgets = body.widgets.filter((w) => w.type === 'alarm');
    expect(widgets).toHaveLength(1);
    expect(widgets[0].properties.alarms).toEqual(alarms.map((a) => `<${logicalIdOf(a)}.Arn>`));
  });

  test('it links to the given log groups by name', () => {
    const logs = body.widgets.find((w) => w.properties.markdown?.startsWith('## Logs'))!.properties.markdown!;
    expect(logs.split('\n')).toEqual([
      '## Logs',
      '- [Processor](https://eu-west-2.console.aws.amazon.com/cloudwatch/home?region=eu-west-2#logsV2:log-groups/log-group/$252Fhipaa-fhir$252Fops$252Fprocessor): `/hipaa-fhir/ops/processor`',
      '- [PostgreSQL and pgaudit](https://eu-west-2.console.aws.amazon.com/cloudwatch/home?region=eu-west-2#logsV2:log-groups/log-group/$252Faws$252Frds$252Finstance$252Fhipaa-fhir-db-ops$252Fpostgresql): `/aws/rds/instance/hipaa-fhir-db-ops/postgresql`',
    ]);
  });

  test('it opens on the last three hours, with the period chosen by the console', () => {
    expect(body).toMatchObject({ start: '-PT3H', periodOverride: 'auto' });
  });
});
