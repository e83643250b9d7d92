import { Client, Pool } from 'pg';
import { Coordinator } from '../../lib/processor/service/coordinator';
import { NoMetrics } from '../../lib/processor/metrics';
import { silentLogger, startDatabase, startStack, TestDatabase, TestStack, waitFor } from './harness';

jest.setTimeout(180_000);

/**
 * Two and three coordinators on one 4-shard stream (kinesalite, embedded PostgreSQL). The lease
 * TTL is long (one renewal period = 15 s), so a split reached through scheduled cycles would show
 * in the renewal-period counters; the assertions count periods, never seconds.
 */
describe('a new processor takes its fair share within one lease-renewal period', () => {
  const stream = 'fair-share';
  const leaseTtlMs = 60_000;
  let database: TestDatabase;
  let stack: TestStack;
  let pool: Pool;
  let db: Client;
  const running: Coordinator[] = [];
  const logger = silentLogger('fair-share');

  beforeAll(async () => {
    database = await startDatabase({ max: 12 });
    ({ writer: pool, db } = database);
    stack = await startStack({ pg: database.pg });
    await stack.createStream(stream, 4);
  });
  afterAll(async () => {
    await Promise.all(running.map((c) => c.shutdown().catch(() => undefined)));
    await stack?.stop();
    await database?.stop();
  });

  function coordinator(workerId: string): Coordinator {
    const c = new Coordinator({
      kinesis: stack.kinesis.client,
      pool,
      streamName: stream,
      workerId,
      leaseTtlMs,
      pollIntervalMs: 200,
      getRecordsLimit: 100,
      maxRecordBytes: 262_144,
      logger,
      metrics: new NoMetrics(),
    });
    running.push(c);
    c.start();
    return c;
  }

  /** Lease owners as the database records them: owner -> number of unexpired leases. */
  async function owners(): Promise<Record<string, number>> {
    const { rows } = await db.query<{ owner: string; n: number }>(
      `SELECT owner, count(*)::int AS n FROM shard_lease WHERE stream_name = $1 AND owner IS NOT NULL AND expires_at > now() GROUP BY owner ORDER BY owner`,
      [stream],
    );
    return Object.fromEntries(rows.map((r) => [r.owner, r.n]));
  }

  /** Waits (bounded by two renewal periods) until the database and the coordinators agree on `split`. */
  async function settle(split: Record<string, number>, coordinators: Record<string, Coordinator>): Promise<void> {
    const bound = 2 * coordinators[Object.keys(coordinators)[0]].cycleIntervalMs;
    await waitFor(
      `lease split ${JSON.stringify(split)}`,
      async () => {
        const now = await owners();
        const agreed =
          JSON.stringify(now) === JSON.stringify(split) &&
          Object.entries(coordinators).every(([id, c]) => c.heldShards.length === split[id]);
        return agreed ? true : undefined;
      },
      bound,
      50,
    );
  }

  test('alone, then joined by a second and a third, then left by the third', async () => {
    const a = coordinator('worker-a');
    await settle({ 'worker-a': 4 }, { 'worker-a': a });

    // B joins: A gives back two leases as soon as it sees B, and B takes them at once.
    const aBefore = a.renewalPeriods;
    const b = coordinator('worker-b');
    await settle({ 'worker-a': 2, 'worker-b': 2 }, { 'worker-a': a, 'worker-b': b });
    expect(b.renewalPeriods).toBe(0);
    expect(a.renewalPeriods - aBefore).toBeLessThanOrEqual(1);

    // C joins: 4 shards over 3 workers is 2, 1, 1 (by worker id), nobody idle.
    const [a2, b2] = [a.renewalPeriods, b.renewalPeriods];
    const c = coordinator('worker-c');
    await settle({ 'worker-a': 2, 'worker-b': 1, 'worker-c': 1 }, { 'worker-a': a, 'worker-b': b, 'worker-c': c });
    expect(c.renewalPeriods).toBe(0);
    expect(a.renewalPeriods - a2).toBeLessThanOrEqual(1);
    expect(b.renewalPeriods - b2).toBeLessThanOrEqual(1);

    // C leaves cleanly (releases its lease, deletes its heartbeat): B takes the lease back.
    const b3 = b.renewalPeriods;
    await c.shutdown();
    running.splice(running.indexOf(c), 1);
    await settle({ 'worker-a': 2, 'worker-b': 2 }, { 'worker-a': a, 'worker-b': b });
    expect(b.renewalPeriods - b3).toBeLessThanOrEqual(1);
  });
});
