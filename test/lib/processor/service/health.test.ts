import { checkHealth, healthStatus, startHealthServer } from '../../../../lib/processor/service/health';
import { freePort } from '../../../../scripts/local/stack';

describe('health', () => {
  test('healthy only after a recent coordination cycle', () => {
    expect(healthStatus({ lastCycleAt: 0, cycleIntervalMs: 1000, heldShards: [] }).healthy).toBe(false);
    expect(healthStatus({ lastCycleAt: 10_000, cycleIntervalMs: 1000, heldShards: ['a'] }, 12_000)).toEqual({
      healthy: true,
      body: { status: 'ok', lastCycleAgeMs: 2000, shards: 1, stuckShards: 0 },
    });
    expect(healthStatus({ lastCycleAt: 10_000, cycleIntervalMs: 1000, heldShards: [] }, 20_000).healthy).toBe(false);
  });
  test('unhealthy while a shard is stuck, even with fresh coordination', () => {
    expect(healthStatus({ lastCycleAt: 10_000, cycleIntervalMs: 1000, heldShards: ['a', 'b'], stuckShards: ['b'] }, 10_500)).toEqual({
      healthy: false,
      body: { status: 'unhealthy', lastCycleAgeMs: 500, shards: 2, stuckShards: 1 },
    });
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
