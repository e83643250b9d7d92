import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { parseEnvironmentConfig } from '../../../lib/config';
import { LAYER_OUTPUTS, LAYERS, OUTPUT_KEYS, PROCESSOR_CONTAINER_NAME, PROCESSOR_ENV, PROCESSOR_HEALTH_PORT, PROCESSOR_METRICS, processorMetricDimensions, ProcessorMetricName, suffixFromBranch } from '../../../lib/contract';
import { loadConfig } from '../../../lib/processor/config';
import { PipelineAppStage } from '../../../stages/pipeline-app-stage';
import { synthStage, testApp } from '../../helpers';
import { emittedProcessorMetrics } from '../../helpers/emf';

type Resource = { Type: string; Properties: Record<string, unknown> };

describe('the environment contract (lib/contract)', () => {
  test('output keys are unique across the layers, so flat-outputs.json loses none', () => {
    expect(new Set(OUTPUT_KEYS).size).toBe(OUTPUT_KEYS.length);
  });

  describe('each layer\'s stack publishes exactly the outputs the contract declares for it', () => {
    const preview = parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: suffixFromBranch('feature/contract'), branch: 'feature/contract', expiresAt: '2030-01-01T00:00:00Z' });
    const cases: Array<[string, PipelineAppStage, readonly string[]]> = [
      ['development', synthStage({ environmentSuffix: 'c-dev' }).stage, []],
      ['production', synthStage({ environmentSuffix: 'c-prod', profile: 'production' }).stage, ['BackupVaultName', 'RestoreDrillTaskDefinitionArn', 'RestoreDrillRuleName']],
      ['preview with a post-deploy step', new PipelineAppStage(testApp(), 'preview', {
        config: preview,
        postDeploy: { trustedRoleArn: 'arn:aws:iam::111111111111:role/hipaa-fhir-preview-integ-test', suite: 'integ' },
      }), ['PostDeployRoleArn']],
    ];
    test.each(cases)('%s', (_name, stage, optionalPresent) => {
      for (const layer of LAYERS) {
        const keys = Object.keys(Template.fromStack(stage.stacks[layer]).toJSON().Outputs ?? {}).filter((k) => !/^(ExportsOutput|PublishOutput)/.test(k));
        // (CDK's own outputs for cross-stack references, ExportsOutput*/PublishOutput*, are not the contract's.)
        const declared = LAYER_OUTPUTS[layer];
        const expected = [...declared.required, ...declared.optional.filter((k) => optionalPresent.includes(k))];
        expect([layer, keys.sort()]).toEqual([layer, [...expected].sort()]);
      }
    });
  });

  describe('the processor\'s side: its task definition and alarms against what the processor reads and emits', () => {
    const compute = synthStage({ environmentSuffix: 'c-proc', profile: 'production', sizing: { streamShardCount: 4 } }).templates.compute;
    const resources = Object.values(compute.toJSON().Resources as Record<string, Resource>);

    test('the service\'s container environment, given to the processor\'s own loadConfig, configures it as the contract says', () => {
      const task = compute.findResources('AWS::ECS::TaskDefinition', { Properties: { Family: 'hipaa-fhir-processor-c-proc' } });
      const containers = Object.values(task)[0].Properties.ContainerDefinitions as Array<{ Name: string; Environment: Array<{ Name: string; Value: unknown }> }>;
      const container = containers.find((c) => c.Name === PROCESSOR_CONTAINER_NAME)!;
      // Values that are references to other stacks resolve at deploy time: stand in plausible ones.
      const standIns: Record<string, string> = { [PROCESSOR_ENV.streamName]: 'hipaa-fhir-records-c-proc', [PROCESSOR_ENV.dbHost]: 'db.example.internal', [PROCESSOR_ENV.dbPort]: '5432' };
      const env: Record<string, string> = Object.fromEntries(container.Environment.map((e) => [e.Name, typeof e.Value === 'string' ? e.Value : standIns[e.Name]]));
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

    test('the processor emits exactly the contract\'s metrics, each with the contract\'s dimension sets', async () => {
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
      for (const alarm of resources.filter((r) => r.Type === 'AWS::CloudWatch::Alarm')) {
        const p = alarm.Properties as { Namespace?: string; MetricName?: string; Dimensions?: Array<{ Name: string }>; Metrics?: Array<{ MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions?: Array<{ Name: string }> } } }> };
        if (p.MetricName) watched.push({ namespace: p.Namespace!, name: p.MetricName, dimensions: (p.Dimensions ?? []).map((d) => d.Name) });
        for (const m of p.Metrics ?? []) if (m.MetricStat) watched.push({ namespace: m.MetricStat.Metric.Namespace, name: m.MetricStat.Metric.MetricName, dimensions: (m.MetricStat.Metric.Dimensions ?? []).map((d) => d.Name) });
      }
      const onProcessor = watched.filter((w) => w.namespace === PROCESSOR_METRICS.namespace);
      expect(onProcessor.length).toBeGreaterThanOrEqual(3);
      for (const w of onProcessor) {
        const sets = emitted.get(w.name)?.dimensionSets.map((s) => s.join()) ?? [];
        expect([w.name, sets]).toEqual([w.name, expect.arrayContaining([[...w.dimensions].sort().join()])]);
      }
    });
  });
});
