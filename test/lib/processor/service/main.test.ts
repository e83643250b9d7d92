import { Writable } from 'stream';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { loadConfig } from '../../../../lib/processor/config';
import { createLogger } from '../../../../lib/processor/logger';
import { telemetry } from '../../../../lib/processor/service/main';
import { EmfMetrics, NoMetrics } from '../../../../lib/processor/metrics';

const caDir = mkdtempSync(join(tmpdir(), 'processor-main-'));
const caBundle = join(caDir, 'bundle.pem');
writeFileSync(caBundle, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
afterAll(() => rmSync(caDir, { recursive: true, force: true }));

const env = {
  STREAM_NAME: 'stream-x',
  AWS_REGION: 'eu-west-2',
  DB_HOST: 'db',
  DB_NAME: 'fhir',
  DB_USER: 'u',
  DB_PASSWORD: 'p',
  DB_CA_BUNDLE: caBundle,
};

/** The process environment says one thing, the validated configuration another: the configuration wins. */
describe('the logger and metrics come from the validated configuration, never from process.env', () => {
  const saved = { ...process.env };
  beforeEach(() => Object.assign(process.env, { LOG_LEVEL: 'trace', METRICS: 'emf', METRICS_NAMESPACE: 'From/ProcessEnv' }));
  afterEach(() => {
    for (const k of ['LOG_LEVEL', 'METRICS', 'METRICS_NAMESPACE']) delete process.env[k];
    Object.assign(process.env, saved);
  });

  test('LOG_LEVEL', () => {
    expect(telemetry(loadConfig({ ...env, LOG_LEVEL: 'warn', METRICS: 'off' })).logger.level).toBe('warn');
    // A logger made without a level is at info, whatever process.env says.
    expect(createLogger('w', undefined, new Writable({ write: (_c, _e, cb) => cb() })).level).toBe('info');
  });

  test('METRICS=off', () => {
    expect(telemetry(loadConfig({ ...env, METRICS: 'off' })).metrics).toBeInstanceOf(NoMetrics);
  });

  test('METRICS=emf with METRICS_NAMESPACE (and its default)', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((line: string) => {
      lines.push(line);
    });
    try {
      for (const extra of [{ METRICS_NAMESPACE: 'Team/Fhir' }, {}]) {
        const { metrics } = telemetry(loadConfig({ ...env, LOG_LEVEL: 'silent', ...extra }));
        expect(metrics).toBeInstanceOf(EmfMetrics);
        await metrics.batch({ shardId: 's-1', records: 1, written: 1, duplicates: 0, stale: 0, quarantined: 0, batchLatencyMs: 1 });
      }
    } finally {
      spy.mockRestore();
    }
    expect(lines.map((l) => JSON.parse(l)._aws.CloudWatchMetrics[0].Namespace)).toEqual(['Team/Fhir', 'HipaaFhir/Processor']);
  });
});
