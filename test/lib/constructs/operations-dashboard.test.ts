import { PROCESSOR_METRICS, RESTORE_DRILL_METRICS } from '../../../lib/contract';
import { dashboardUrl } from '../../../lib/constructs/operations-dashboard';
import { synthStage } from '../../helpers';
import { emittedDrillMetrics, emittedProcessorMetrics } from '../../helpers/emf';

/** The dashboard body as JSON, with every CloudFormation reference replaced by a marker. */
export function dashboardBody(template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> }): DashboardBody {
  const dashboards = Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0].Properties.DashboardBody as string | { 'Fn::Join': [string, Array<string | object>] };
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : '<REF>')).join('');
  return JSON.parse(text) as DashboardBody;
}

export interface DashboardWidget {
  type: 'metric' | 'text' | 'alarm';
  x: number; y: number; width: number; height: number;
  properties: { title?: string; markdown?: string; alarms?: string[]; metrics?: Array<Array<string | Record<string, unknown>>>; stat?: string };
}
export interface DashboardBody { widgets: DashboardWidget[] }

/**
 * Metrics the AWS services publish, by namespace, with the dimension set the dashboard uses:
 * - AWS/Kinesis stream-level metrics: https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html
 * - ECS/ContainerInsights service metrics: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html
 * - AWS/RDS instance metrics: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html
 */
const SERVICE_METRICS: Readonly<Record<string, { readonly dimensions: readonly string[]; readonly names: readonly string[] }>> = {
  'AWS/Kinesis': { dimensions: ['StreamName'], names: ['IncomingRecords', 'IncomingBytes', 'WriteProvisionedThroughputExceeded', 'PutRecords.ThrottledRecords', 'GetRecords.IteratorAgeMilliseconds'] },
  'ECS/ContainerInsights': { dimensions: ['ClusterName', 'ServiceName'], names: ['RunningTaskCount', 'DesiredTaskCount'] },
  'AWS/RDS': { dimensions: ['DBInstanceIdentifier'], names: ['CPUUtilization', 'DatabaseConnections', 'FreeStorageSpace', 'ReadLatency', 'WriteLatency'] },
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
  const prod = synthStage({ environmentSuffix: 'ops', profile: 'production', sizing: { streamShardCount: 4 } });
  const compute = prod.templates.compute.toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>; Outputs: Record<string, { Value: unknown }> };
  const body = dashboardBody(compute);
  const titled = (title: string) => body.widgets.find((w) => w.properties.title === title);

  test('one dashboard per environment, named with its suffix; the stack outputs its name and URL', () => {
    const [dashboard] = Object.values(compute.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    expect(dashboard.Properties.DashboardName).toBe('hipaa-fhir-operations-ops');
    expect(compute.Outputs.DashboardName.Value).toBe('hipaa-fhir-operations-ops');
    expect(compute.Outputs.DashboardUrl.Value).toBe('https://eu-west-2.console.aws.amazon.com/cloudwatch/home?region=eu-west-2#dashboards/dashboard/hipaa-fhir-operations-ops');
    expect(dashboardUrl('eu-west-1', 'x')).toContain('region=eu-west-1#dashboards/dashboard/x');
  });

  test('it has the sections an on-call engineer reads, each with its graphs', () => {
    const headings = body.widgets.filter((w) => w.type === 'text').map((w) => w.properties.markdown!.split('\n')[0]);
    expect(headings).toEqual(['# hipaa-fhir-operations-ops', '## Ingestion', '## Processing', '## Database', '## Restore drill (last 90 days)', '## Alarms', '## Logs']);
    for (const title of ['Incoming records', 'Incoming bytes', 'Write throttles', 'Records persisted, duplicate, stale', 'Quarantined, by reason code', 'Batch latency',
      'Iterator age, per shard', 'Running vs desired tasks', 'Stuck shards and bisected batches', 'CPU', 'Connections', 'Free storage', 'Read and write latency']) {
      expect([title, titled(title)?.type]).toEqual([title, 'metric']);
    }
    // Batch latency shows the median and the tail.
    expect(graphedMetrics(titled('Batch latency')!).map((m) => m.name)).toEqual(['BatchLatency', 'BatchLatency']);
    expect(JSON.stringify(titled('Batch latency')!.properties.metrics)).toMatch(/"stat":"p50".*"stat":"p99"/);
    // Widgets tile a 24-column grid without overlapping.
    const cells = new Set<string>();
    for (const w of body.widgets) {
      expect(w.x + w.width).toBeLessThanOrEqual(24);
      for (let x = w.x; x < w.x + w.width; x++) for (let y = w.y; y < w.y + w.height; y++) {
        expect(cells.has(`${x},${y}`)).toBe(false);
        cells.add(`${x},${y}`);
      }
    }
  });

  test('every metric on it is one that the processor or an AWS service really emits, with a dimension set it is emitted with', async () => {
    const emitted = await emittedProcessorMetrics();
    const drill = await emittedDrillMetrics();
    const graphed = body.widgets.filter((w) => w.type === 'metric').flatMap(graphedMetrics);
    expect(graphed.length).toBeGreaterThan(15);
    for (const m of graphed) {
      const key = `${m.namespace} ${m.name} [${[...m.dimensions].sort().join(',')}]`;
      if (m.namespace === PROCESSOR_METRICS.namespace || m.namespace === RESTORE_DRILL_METRICS.namespace) {
        const source = m.namespace === PROCESSOR_METRICS.namespace ? emitted : drill;
        const sets = source.get(m.name)?.dimensionSets.map((s) => s.join(',')) ?? [];
        expect([key, sets]).toEqual([key, expect.arrayContaining([[...m.dimensions].sort().join(',')])]);
      } else {
        const service = SERVICE_METRICS[m.namespace];
        expect([key, service?.names.includes(m.name), [...(service?.dimensions ?? [])].sort()]).toEqual([key, true, [...m.dimensions].sort()]);
      }
    }
    // Per-shard and per-reason series come from SEARCH over the processor's own dimension sets.
    expect(graphedMetrics(titled('Iterator age, per shard')!)[0]).toEqual({ namespace: PROCESSOR_METRICS.namespace, name: 'MillisBehindLatest', dimensions: ['ShardId', 'StreamName'] });
    expect(graphedMetrics(titled('Quarantined, by reason code')!)[0]).toEqual({ namespace: PROCESSOR_METRICS.namespace, name: 'RecordsQuarantinedByReason', dimensions: ['ReasonCode', 'StreamName'] });
  });

  test('a widget whose metric nothing emits fails the check above', async () => {
    const emitted = await emittedProcessorMetrics();
    const bogus = { namespace: PROCESSOR_METRICS.namespace, name: 'RecordsTeleported', dimensions: ['StreamName'] };
    expect(emitted.get(bogus.name)).toBeUndefined();
    expect(SERVICE_METRICS['AWS/Kinesis'].names).not.toContain('RecordsTeleported');
  });

  test('the alarm widget shows every alarm of the environment: the processor\'s and the security alarms', () => {
    const alarm = body.widgets.filter((w) => w.type === 'alarm');
    expect(alarm).toHaveLength(1);
    // (The service's step-scaling alarms are policy triggers, not alarms an engineer acts on.)
    const processorAlarms = Object.entries(compute.Resources).filter(([id, r]) => r.Type === 'AWS::CloudWatch::Alarm' && id.startsWith('ProcessorAlarms')).length;
    const securityAlarms = Object.values(prod.templates.audit.toJSON().Resources as Record<string, { Type: string }>).filter((r) => r.Type === 'AWS::CloudWatch::Alarm').length;
    const drillAlarms = Object.entries(compute.Resources).filter(([id, r]) => r.Type === 'AWS::CloudWatch::Alarm' && id.startsWith('RestoreDrill')).length;
    expect(processorAlarms).toBe(4);
    expect(securityAlarms).toBe(4); // dedicated trail (production): three trail alarms and the database one
    expect(drillAlarms).toBe(4); // RPO, RTO, failed, overdue (the production profile runs the drill)
    expect(alarm[0].properties.alarms).toHaveLength(processorAlarms + securityAlarms + drillAlarms);
  });

  test('the restore drill row graphs its RPO and RTO against the targets over 90 days; a development environment has none', () => {
    const rpoRto = titled('Recovery point and recovery time')!;
    expect(graphedMetrics(rpoRto).map((m) => [m.namespace, m.name])).toEqual([[RESTORE_DRILL_METRICS.namespace, RESTORE_DRILL_METRICS.rpo], [RESTORE_DRILL_METRICS.namespace, RESTORE_DRILL_METRICS.rto]]);
    expect(rpoRto.properties).toMatchObject({ start: '-P90D', period: 86400, annotations: { horizontal: [{ value: 900, label: 'RPO target' }, { value: 7200, label: 'RTO target' }] } });
    const dev = dashboardBody(synthStage({ environmentSuffix: 'ops-dev' }).templates.compute.toJSON() as Parameters<typeof dashboardBody>[0]);
    expect(dev.widgets.some((w) => w.properties.markdown?.startsWith('## Restore drill'))).toBe(false);
  });

  test('it links to the log groups by name', () => {
    const logs = body.widgets.find((w) => w.properties.markdown?.startsWith('## Logs'))!.properties.markdown!;
    for (const name of ['/hipaa-fhir/ops/processor', '/hipaa-fhir/ops/audit/application', '/aws/rds/instance/hipaa-fhir-db-ops/postgresql', '/hipaa-fhir/ops/vpc-flow-logs', '/hipaa-fhir/ops/audit/cloudtrail']) {
      expect(logs).toContain(`\`${name}\``);
      expect(logs).toContain(`log-group/${name.replace(/\//g, '$252F')})`);
    }
  });
});
