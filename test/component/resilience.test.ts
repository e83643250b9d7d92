import { DescribeStreamSummaryCommand, ListShardsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { Client } from 'pg';
import { validSamples } from '../../scripts/shared/fhir-samples';
import { counts, LocalKinesis, migrateSchema, putRecords, startStack, TestStack, waitFor } from './harness';

jest.setTimeout(300_000);

describe('processor resilience (child processes, real PostgreSQL and kinesalite)', () => {
  let stack: TestStack;
  let kinesis: LocalKinesis;
  /** A superuser session; a new one after the database restart. */
  let db: Client;

  const start = (stream: string, workerId: string, env?: Record<string, string>) => stack.spawnProcessor(stream, workerId, env);

  const leases = async (stream: string) =>
    (
      await db.query(
        'SELECT shard_id, owner, completed, expires_at > now() AS live FROM shard_lease WHERE stream_name = $1 ORDER BY shard_id',
        [stream],
      )
    ).rows;

  beforeAll(async () => {
    stack = await startStack();
    ({ kinesis, db } = stack);
    // The schema before any test reads it: each test stands alone (-t), not only after one that started a processor.
    await migrateSchema(stack.pg);
  });
  afterAll(() => stack?.stop());

  test('two processors split a 4-shard stream; when one is killed the other takes over its shards', async () => {
    const stream = 'split-test';
    await stack.createStream(stream, 4);
    const a = start(stream, 'worker-a');
    const b = start(stream, 'worker-b');
    const split = await waitFor(
      'an even split',
      async () => {
        const rows = await leases(stream);
        const owners = rows.filter((r) => r.live).map((r) => r.owner);
        const byOwner = { a: owners.filter((o) => o === 'worker-a').length, b: owners.filter((o) => o === 'worker-b').length };
        return rows.length === 4 && byOwner.a === 2 && byOwner.b === 2 ? byOwner : undefined;
      },
      60_000,
    );
    expect(split).toEqual({ a: 2, b: 2 });

    await putRecords(kinesis.client, stream, validSamples(400, { runId: 'split1' }));
    await waitFor('first 400', async () => ((await counts(db)).history >= 400 ? true : undefined));

    a.child.kill('SIGKILL');
    await a.exited;
    const takeover = await waitFor(
      'worker-b holds all shards',
      async () => {
        const rows = await leases(stream);
        return rows.every((r) => r.owner === 'worker-b' && r.live) ? rows.length : undefined;
      },
      30_000,
    );
    expect(takeover).toBe(4);

    await putRecords(kinesis.client, stream, validSamples(400, { runId: 'split2' }));
    await waitFor('all 800', async () => ((await counts(db)).history >= 800 ? true : undefined));
    const { rows } = await db.query('SELECT count(*)::int AS n FROM fhir_resource_history WHERE stream_name = $1', [stream]);
    expect(rows[0].n).toBe(800);

    // SIGTERM: the survivor finishes, releases its leases and exits 0.
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    expect((await leases(stream)).every((r) => r.owner === null)).toBe(true);
    expect(b.logs.some((l) => l.includes('leases released'))).toBe(true);
  });

  test('kill -9 on observed progress during a 20,000-record run: every record persisted exactly once', async () => {
    const stream = 'crash-test';
    await stack.createStream(stream, 4);
    const records = validSamples(20_000, { runId: 'crash', patients: 2_000, seed: 99 });
    // A 1 s lease TTL (the configuration's minimum): each new incarnation takes over the killed one's shards
    // after at most 1 s instead of 2. A live worker renews every 250 ms; one that misses its renewals under load
    // takes its expired leases back under a new fencing token, a path exactly-once must survive anyway.
    const TTL = { LEASE_TTL_MS: '1000' };
    // Producer (a chunk every 100 ms), held to an allowance the kill loop raises: before kill k at most k x 2,000 + 1,000
    // records exist, so however slowly this loop observes progress (a loaded machine), the incarnation
    // killed at k x 2,000 leaves the next one at least 1,000 new records, and no kill can land after the last.
    const chunk = 1_000;
    let allowed = 0;
    let produced = 0;
    let raised: () => void = () => undefined;
    const allow = (n: number) => {
      allowed = Math.max(allowed, Math.min(n, records.length));
      raised();
    };
    const producing = (async () => {
      while (produced < records.length) {
        while (produced + chunk > allowed) await new Promise<void>((resolve) => (raised = resolve));
        await putRecords(kinesis.client, stream, records.slice(produced, produced + chunk));
        produced += chunk;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    // A producer failure ends the test with its own error, not with a wait that times out.
    const orProducerFailure = <T>(p: Promise<T>) => Promise.race([p, producing.then(() => new Promise<T>(() => undefined))]);
    const done = async () =>
      (await db.query('SELECT count(*)::int AS n FROM fhir_resource_history WHERE stream_name = $1', [stream])).rows[0].n as number;
    let proc = start(stream, 'crashy-0', TTL);
    const kills: Array<{ atStart: number; atKill: number; afterKill: number; produced: number }> = [];
    for (let k = 1; k <= 8; k++) {
      allow(k * 2_000 + chunk);
      // Kill once this incarnation has committed (the count moved since it started) and the run has passed k x 2,000.
      const atStart = await done();
      const atKill = await orProducerFailure(
        waitFor(
          `progress past ${k * 2_000}`,
          async () => {
            const n = await done();
            return n > atStart && n >= k * 2_000 ? n : undefined;
          },
          90_000,
          25,
        ),
      ).catch(async (error: Error) => {
        // What the incarnation under test was doing, for the failure message (its log lines carry no PHI).
        const state = `${await done()} stored, ${produced} produced, ${allowed} allowed`;
        throw new Error(
          `${error.message} (${state}); crashy-${k - 1} (exit ${proc.child.exitCode}) logged:\n${proc.logs.slice(-15).join('\n')}`,
        );
      });
      proc.child.kill('SIGKILL');
      await proc.exited;
      kills.push({ atStart, atKill, afterKill: await done(), produced });
      proc = start(stream, `crashy-${k}`, TTL);
    }
    allow(records.length);
    await producing;
    await waitFor('20,000 persisted', async () => ((await done()) >= 20_000 ? true : undefined), 120_000);
    proc.child.kill('SIGTERM');
    await proc.exited;

    // Every kill landed mid-run: after its incarnation's first commit and before the last record was stored.
    expect(kills).toHaveLength(8);
    for (const kill of kills) {
      expect(kill.atKill).toBeGreaterThan(kill.atStart);
      expect(kill.afterKill).toBeLessThan(20_000);
      expect(kill.produced).toBeLessThan(20_000);
    }
    const history = await db.query(
      `SELECT count(*)::int AS rows, count(DISTINCT (resource_type, resource_id, version_id))::int AS keys
      FROM fhir_resource_history WHERE stream_name = $1`,
      [stream],
    );
    expect(history.rows[0]).toEqual({ rows: 20_000, keys: 20_000 });
    // Exactly once also for the audit trail: one "written" event per record, none duplicated by a replay.
    const audit = await db.query(`SELECT outcome, count(*)::int AS n FROM audit_event WHERE stream_name = $1 GROUP BY 1`, [stream]);
    expect(audit.rows).toEqual([{ outcome: 'written', n: 20_000 }]);
    const expectedKeys = new Set(records.map((r) => (r.expect.kind === 'valid' ? r.expect.key : '')));
    const stored = await db.query(
      `SELECT resource_type || '/' || resource_id || '/' || version_id AS k FROM fhir_resource_history WHERE stream_name = $1`,
      [stream],
    );
    expect(new Set(stored.rows.map((r) => r.k))).toEqual(expectedKeys);
  });

  test('a database restart mid-run loses nothing; processing resumes', async () => {
    const stream = 'db-restart-test';
    await stack.createStream(stream, 2);
    const proc = start(stream, 'db-restart');
    await putRecords(kinesis.client, stream, validSamples(1_000, { runId: 'dbr1' }));
    await waitFor('first batch', async () =>
      (await db.query('SELECT count(*)::int AS n FROM fhir_resource_history WHERE stream_name = $1', [stream])).rows[0].n > 0
        ? true
        : undefined,
    );
    await stack.restartPostgres(3_000);
    db = stack.db;
    await putRecords(kinesis.client, stream, validSamples(1_000, { runId: 'dbr2' }));
    const n = await waitFor(
      '2,000 persisted after restart',
      async () => {
        const c = (await db.query('SELECT count(*)::int AS n FROM fhir_resource_history WHERE stream_name = $1', [stream])).rows[0]
          .n as number;
        return c >= 2_000 ? c : undefined;
      },
      120_000,
    );
    expect(n).toBe(2_000);
    expect(proc.logs.some((l) => l.includes('database unavailable') || l.includes('coordination cycle failed'))).toBe(true);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });

  test('resharding: child shards are processed only after their parent, and nothing is lost', async () => {
    const stream = 'reshard-test';
    await stack.createStream(stream, 1);
    const proc = start(stream, 'resharder');
    await putRecords(kinesis.client, stream, validSamples(300, { runId: 'rs1' }));
    await waitFor('parent records', async () =>
      (await db.query('SELECT count(*)::int AS n FROM fhir_resource_history WHERE stream_name = $1', [stream])).rows[0].n >= 300
        ? true
        : undefined,
    );
    const parent = (await kinesis.client.send(new ListShardsCommand({ StreamName: stream }))).Shards![0];
    await kinesis.client.send(
      new SplitShardCommand({
        StreamName: stream,
        ShardToSplit: parent.ShardId,
        NewStartingHashKey: (BigInt(2) ** BigInt(127)).toString(),
      }),
    );
    // The split is done when the stream is ACTIVE again with the parent closed and two open children;
    // only then do new records go to the children (Kinesis refuses a split while UPDATING, and
    // records put meanwhile still go to the parent).
    await waitFor('the split to complete', async () => {
      const summary = await kinesis.client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
      const shards = (await kinesis.client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
      const open = shards.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);
      return summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE' && shards.length === 3 && open.length === 2 ? true : undefined;
    });
    await putRecords(kinesis.client, stream, validSamples(300, { runId: 'rs2' }));
    await waitFor(
      'children records',
      async () =>
        (await db.query('SELECT count(*)::int AS n FROM fhir_resource_history WHERE stream_name = $1', [stream])).rows[0].n >= 600
          ? true
          : undefined,
      60_000,
    );
    const rows = await leases(stream);
    expect(rows).toHaveLength(3);
    expect(rows.find((r) => r.shard_id === parent.ShardId)!.completed).toBe(true);
    // Every child's first record was written after the parent's last.
    const order = await db.query(
      `SELECT shard_id, min(ingested_at) AS first, max(ingested_at) AS last FROM fhir_resource_history WHERE stream_name = $1 GROUP BY 1`,
      [stream],
    );
    const parentRow = order.rows.find((r) => r.shard_id === parent.ShardId)!;
    for (const child of order.rows.filter((r) => r.shard_id !== parent.ShardId))
      expect(child.first.getTime()).toBeGreaterThanOrEqual(parentRow.last.getTime());
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });
});
