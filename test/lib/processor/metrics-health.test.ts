import { checkHealth, startHealthServer } from '../../../lib/processor/health';
import { EmfMetrics } from '../../../lib/processor/metrics';
import { freePort } from '../../processor/harness';

describe('EMF metrics', () => {
  test('a batch becomes one Embedded Metric Format document with the stream dimension', async () => {
    delete process.env.AWS_EMF_ENVIRONMENT;
    const lines: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((line: string) => { lines.push(line); });
    try {
      await new EmfMetrics('HipaaFhir/Processor', 'stream-x').batch({ shardId: 'shard-1', records: 10, written: 7, duplicates: 1, stale: 1, quarantined: 1, batchLatencyMs: 12, millisBehindLatest: 300 });
    } finally {
      spy.mockRestore();
    }
    // Loading the library set the stdout environment, so it never probed instance metadata.
    expect(process.env.AWS_EMF_ENVIRONMENT).toBe('Local');
    const doc = JSON.parse(lines[0]);
    expect(doc._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'HipaaFhir/Processor', Dimensions: [['StreamName']] });
    expect(doc).toMatchObject({ StreamName: 'stream-x', ShardId: 'shard-1', RecordsProcessed: 10, RecordsPersisted: 7, RecordsQuarantined: 1, BatchLatency: 12, MillisBehindLatest: 300 });
  });
});

describe('health endpoint', () => {
  test('answers 200 while coordination is fresh and 503 when it is stale', async () => {
    const port = await freePort();
    const source = { lastCycleAt: Date.now(), cycleIntervalMs: 1000, heldShards: ['a'] };
    const server = startHealthServer(source, port);
    await new Promise((r) => server.once('listening', r));
    try {
      expect(await checkHealth(port)).toBe(true);
      source.lastCycleAt = Date.now() - 60_000;
      expect(await checkHealth(port)).toBe(false);
    } finally {
      server.close();
    }
    expect(await checkHealth(port)).toBe(false);
  });
});
