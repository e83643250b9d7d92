import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import {
  DRILL_DB_USER,
  PROCESSOR_CONTAINER_NAME,
  PROCESSOR_DB_USER,
  PROCESSOR_ENTRY_POINTS,
  PROCESSOR_ENV,
  PROCESSOR_HEALTH_PORT,
  PROCESSOR_METRICS,
  processorCommand,
  processorMetricDimensions,
  ProcessorMetricName,
  WRITER_ROLE,
  API_DB_USER,
} from '../../../lib/contract';
import * as schema from '../../../lib/processor/db/schema';
import { loadConfig } from '../../../lib/processor/config';
import { PipelineAppStage } from '../../../stages/pipeline-app-stage';
import { constructTestApp, testConfig } from '../../helpers';
import { emittedProcessorMetrics } from '../../helpers/emf';

describe('the processor contract (lib/contract/processor.ts)', () => {
  test('every entry point is a compiled file under dist/processor, run with node', () => {
    for (const entry of Object.values(PROCESSOR_ENTRY_POINTS)) {
      expect(entry).toMatch(/^dist\/processor\/(?:[a-z-]+\/)*[a-z-]+\.js$/);
      // Compiled from a source file that runs when node starts it.
      const source = join(__dirname, '../../../lib', entry.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
      expect(readFileSync(source, 'utf8')).toContain('if (require.main === module)');
    }
    expect(processorCommand('migrate')).toEqual(['node', 'dist/processor/tasks/migrate/main.js']);
    expect(processorCommand('redrive', '--shard', 'x')).toEqual(['node', 'dist/processor/tasks/redrive/main.js', '--shard', 'x']);
  });

  test('every metric has the stream dimension; per-shard lag and per-reason quarantine have their own sets', () => {
    const { names } = PROCESSOR_METRICS;
    expect(processorMetricDimensions(names.recordsPersisted)).toEqual([['StreamName']]);
    expect(processorMetricDimensions(names.millisBehindLatest)).toEqual([['StreamName'], ['StreamName', 'ShardId']]);
    expect(processorMetricDimensions(names.recordsQuarantinedByReason)).toEqual([['StreamName', 'ReasonCode']]);
  });

  test("the database identities the schema creates are the contract's", () => {
    expect([schema.PROCESSOR_DB_USER, schema.WRITER_ROLE, schema.DRILL_DB_USER, schema.API_DB_USER]).toEqual([
      PROCESSOR_DB_USER,
      WRITER_ROLE,
      DRILL_DB_USER,
      API_DB_USER,
    ]);
    expect([PROCESSOR_DB_USER, WRITER_ROLE, DRILL_DB_USER, API_DB_USER]).toEqual([
      'fhir_processor',
      'fhir_writer',
      'fhir_drill',
      'fhir_api',
    ]);
  });
});

describe("the processor's side: its task definition and alarms against what the processor reads and emits", () => {
  // A production stage (its alarms and scaling); the stage tests validate its templates, so this app skips CDK's template validation.
  const stage = new PipelineAppStage(constructTestApp(), 'c-proc', {
    config: testConfig({ environmentSuffix: 'c-proc', profile: 'production', sizing: { streamShardCount: 4 } }),
  });
  const compute = Template.fromStack(stage.compute);

  test("the service's container environment, given to the processor's own loadConfig, configures it as the contract says", () => {
    const task = compute.findResources('AWS::ECS::TaskDefinition', { Properties: { Family: 'hipaa-fhir-processor-c-proc' } });
    const containers = Object.values(task)[0].Properties.ContainerDefinitions as Array<{
      Name: string;
      Environment: Array<{ Name: string; Value: unknown }>;
    }>;
    const container = containers.find((c) => c.Name === PROCESSOR_CONTAINER_NAME)!;
    // Values that are references to other stacks resolve at deploy time: stand in plausible ones.
    const standIns: Record<string, string> = {
      [PROCESSOR_ENV.streamName]: 'hipaa-fhir-records-c-proc',
      [PROCESSOR_ENV.dbHost]: 'db.example.internal',
      [PROCESSOR_ENV.dbPort]: '5432',
    };
    const env: Record<string, string> = Object.fromEntries(
      container.Environment.map((e) => [e.Name, typeof e.Value === 'string' ? e.Value : standIns[e.Name]]),
    );
    expect(Object.entries(env).filter(([, v]) => v === undefined)).toEqual([]);
    // Every variable the stack sets is one the processor contract names (AWS_EMF_ENVIRONMENT is the EMF library's own).
    const known = new Set<string>([...Object.values(PROCESSOR_ENV), 'AWS_EMF_ENVIRONMENT']);
    expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'contract-'));
    const bundle = join(dir, 'ca.pem');
    writeFileSync(bundle, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig({ ...env, [PROCESSOR_ENV.dbCaBundle]: bundle });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(config).toMatchObject({
      streamName: 'hipaa-fhir-records-c-proc',
      region: 'eu-west-2',
      healthPort: PROCESSOR_HEALTH_PORT,
      migrateOnStart: false,
      db: { host: 'db.example.internal', port: 5432, database: 'fhir', user: 'fhir_processor', iamAuth: true, sslMode: 'verify-full' },
    });
    expect(env[PROCESSOR_ENV.metricsNamespace]).toBe(PROCESSOR_METRICS.namespace);
  });

  test("the processor emits exactly the contract's metrics, each with the contract's dimension sets", async () => {
    const emitted = await emittedProcessorMetrics();
    expect([...emitted.keys()].sort()).toEqual(Object.values(PROCESSOR_METRICS.names).sort());
    for (const [name, metric] of emitted) {
      expect([name, metric.namespace]).toEqual([name, PROCESSOR_METRICS.namespace]);
      const declared = processorMetricDimensions(name as ProcessorMetricName).map((set) => [...set].sort());
      expect([name, [...metric.dimensionSets].sort()]).toEqual([name, declared.sort()]);
    }
  });

  test('every alarm on a processor metric watches a metric the processor really emits, with a dimension set it emits', async () => {
    const emitted = await emittedProcessorMetrics();
    const watched: Array<{ namespace: string; name: string; dimensions: string[] }> = [];
    for (const alarm of Object.values(compute.findResources('AWS::CloudWatch::Alarm'))) {
      const p = alarm.Properties as {
        Namespace?: string;
        MetricName?: string;
        Dimensions?: Array<{ Name: string }>;
        Metrics?: Array<{ MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions?: Array<{ Name: string }> } } }>;
      };
      if (p.MetricName) watched.push({ namespace: p.Namespace!, name: p.MetricName, dimensions: (p.Dimensions ?? []).map((d) => d.Name) });
      for (const m of p.Metrics ?? [])
        if (m.MetricStat)
          watched.push({
            namespace: m.MetricStat.Metric.Namespace,
            name: m.MetricStat.Metric.MetricName,
            dimensions: (m.MetricStat.Metric.Dimensions ?? []).map((d) => d.Name),
          });
    }
    const onProcessor = watched.filter((w) => w.namespace === PROCESSOR_METRICS.namespace);
    expect(onProcessor.length).toBeGreaterThanOrEqual(3);
    for (const w of onProcessor) {
      const sets = emitted.get(w.name)?.dimensionSets.map((s) => s.join()) ?? [];
      expect([w.name, sets]).toEqual([w.name, expect.arrayContaining([[...w.dimensions].sort().join()])]);
    }
  });
});
