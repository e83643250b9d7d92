import { createServer, get, Server } from 'http';
import { PROCESSOR_ENV, PROCESSOR_HEALTH_PORT } from '../../contract/processor';

export interface HealthSource {
  /** Epoch ms of the last successful coordination cycle (0 = none yet). */
  readonly lastCycleAt: number;
  readonly cycleIntervalMs: number;
  readonly heldShards: string[];
  /** Shards whose current batch keeps failing (see ShardWorker.stuck). @default none */
  readonly stuckShards?: string[];
}

/**
 * Healthy when the coordinator completed a cycle within three intervals and no shard is stuck
 * (a shard that cannot make progress must not look fine while its records wait out retention).
 */
export function healthStatus(source: HealthSource, now = Date.now()): { healthy: boolean; body: Record<string, unknown> } {
  const ageMs = source.lastCycleAt === 0 ? undefined : now - source.lastCycleAt;
  const stuck = source.stuckShards?.length ?? 0;
  const healthy = ageMs !== undefined && ageMs <= 3 * source.cycleIntervalMs + 1000 && stuck === 0;
  return {
    healthy,
    body: { status: healthy ? 'ok' : 'unhealthy', lastCycleAgeMs: ageMs ?? null, shards: source.heldShards.length, stuckShards: stuck },
  };
}

/** GET /health on localhost: 200 when healthy, 503 otherwise. No PHI, no configuration. */
export function startHealthServer(source: HealthSource, port: number): Server {
  const server = createServer((req, res) => {
    if (req.url !== '/health') {
      res.writeHead(404).end();
      return;
    }
    const { healthy, body } = healthStatus(source);
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  server.listen(port, '127.0.0.1');
  return server;
}

/** `node health.js`: the container HEALTHCHECK command; exit 0 when healthy. */
export function checkHealth(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/health', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

if (require.main === module) {
  void checkHealth(Number(process.env[PROCESSOR_ENV.healthPort] ?? PROCESSOR_HEALTH_PORT)).then((ok) => process.exit(ok ? 0 : 1));
}
