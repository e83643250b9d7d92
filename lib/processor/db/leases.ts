import type { Pool } from 'pg';

export interface ShardInfo {
  readonly shardId: string;
  readonly parentShardIds: string[];
}

const interval = (ms: number) => `make_interval(secs => ${Number(ms) / 1000})`;

/** SQL condition: every parent shard of lease `l` has been processed to its end. */
const PARENTS_DONE = `NOT EXISTS (SELECT 1 FROM shard_lease p WHERE p.stream_name = l.stream_name AND p.shard_id = ANY(l.parent_shard_ids) AND NOT p.completed)`;

/**
 * Shard leases in PostgreSQL. A lease has an owner and an expiry; owners renew theirs, and an
 * expired lease (its owner died) may be taken by any worker. Child shards become eligible only
 * when all their parents are completed, so records of one key are processed in order.
 */
export class LeaseStore {
  constructor(
    private readonly pool: Pool,
    private readonly streamName: string,
    private readonly workerId: string,
    private readonly ttlMs: number,
  ) {}

  async syncShards(shards: readonly ShardInfo[]): Promise<void> {
    if (shards.length === 0) return;
    await this.pool.query(
      `INSERT INTO shard_lease (stream_name, shard_id, parent_shard_ids)
       SELECT $1, s, string_to_array(p, ',')::text[] FROM unnest($2::text[], $3::text[]) AS t(s, p)
       ON CONFLICT (stream_name, shard_id) DO NOTHING`,
      [this.streamName, shards.map((s) => s.shardId), shards.map((s) => s.parentShardIds.join(','))],
    );
  }

  /** Records this worker as alive and returns how many workers are alive. */
  async heartbeat(): Promise<number> {
    const { rows } = await this.pool.query<{ live: number }>(
      `WITH hb AS (
         INSERT INTO processor_worker (stream_name, worker_id, last_seen) VALUES ($1, $2, now())
         ON CONFLICT (stream_name, worker_id) DO UPDATE SET last_seen = now()
       )
       SELECT count(*)::int + CASE WHEN bool_or(worker_id = $2) THEN 0 ELSE 1 END AS live
       FROM processor_worker WHERE stream_name = $1 AND last_seen > now() - ${interval(this.ttlMs)}`,
      [this.streamName, this.workerId],
    );
    return Math.max(1, rows[0]?.live ?? 1);
  }

  /** Extends this worker's unexpired leases; returns the shards it still holds with their lease counters. */
  async renew(): Promise<Map<string, string>> {
    const { rows } = await this.pool.query<{ shard_id: string; lease_counter: string }>(
      `UPDATE shard_lease SET expires_at = now() + ${interval(this.ttlMs)}
       WHERE stream_name = $1 AND owner = $2 AND expires_at > now() AND NOT completed RETURNING shard_id, lease_counter`,
      [this.streamName, this.workerId],
    );
    return new Map(rows.sort((a, b) => (a.shard_id < b.shard_id ? -1 : 1)).map((r) => [r.shard_id, String(r.lease_counter)]));
  }

  /** Shards that can be processed now (not completed, parents completed). */
  async eligibleCount(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM shard_lease l WHERE l.stream_name = $1 AND NOT l.completed AND ${PARENTS_DONE}`,
      [this.streamName],
    );
    return rows[0].n;
  }

  /**
   * Takes up to `max` unowned or expired eligible leases; returns the shards taken with their new
   * lease counters. Every take-over increments the counter, even by the same worker id after an
   * outage, so a worker still holding the old counter is fenced out of every later commit.
   */
  async acquire(max: number): Promise<Map<string, string>> {
    if (max <= 0) return new Map();
    const { rows } = await this.pool.query<{ shard_id: string; lease_counter: string }>(
      `UPDATE shard_lease SET owner = $2, expires_at = now() + ${interval(this.ttlMs)}, lease_counter = lease_counter + 1
       WHERE (stream_name, shard_id) IN (
         SELECT stream_name, shard_id FROM shard_lease l
         WHERE l.stream_name = $1 AND NOT l.completed AND (l.owner IS NULL OR l.expires_at <= now()) AND ${PARENTS_DONE}
         ORDER BY l.shard_id LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING shard_id, lease_counter`,
      [this.streamName, this.workerId, max],
    );
    return new Map(rows.sort((a, b) => (a.shard_id < b.shard_id ? -1 : 1)).map((r) => [r.shard_id, String(r.lease_counter)]));
  }

  async release(shardIds: readonly string[]): Promise<void> {
    if (shardIds.length === 0) return;
    await this.pool.query(
      `UPDATE shard_lease SET owner = NULL, expires_at = NULL WHERE stream_name = $1 AND owner = $2 AND shard_id = ANY($3::text[])`,
      [this.streamName, this.workerId, shardIds],
    );
  }

  async leave(): Promise<void> {
    await this.pool.query('DELETE FROM processor_worker WHERE stream_name = $1 AND worker_id = $2', [this.streamName, this.workerId]);
  }

  async checkpoint(shardId: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ sequence_number: string }>(
      'SELECT sequence_number FROM shard_checkpoint WHERE stream_name = $1 AND shard_id = $2',
      [this.streamName, shardId],
    );
    return rows[0]?.sequence_number;
  }
}

/**
 * How many shards this worker should hold. Given its rank among the live workers (sorted by id),
 * the first `eligible % live` workers hold one more than the others, so the shares add up to
 * exactly the eligible shards and nobody is left idle (4 shards, 3 workers: 2, 1, 1). Without a
 * rank: an even share, rounded up.
 */
export function fairShare(eligible: number, liveWorkers: number, rank?: number): number {
  const live = Math.max(1, liveWorkers);
  if (rank === undefined) return Math.ceil(eligible / live);
  return Math.floor(eligible / live) + (Math.min(Math.max(0, rank), live - 1) < eligible % live ? 1 : 0);
}

/**
 * The ids of the stream's live workers, sorted: the membership fair shares are computed from, and
 * a cheap probe (a few rows, read-only) for noticing a task joining or leaving between cycles.
 */
export async function liveWorkers(pool: Pool, streamName: string, ttlMs: number): Promise<string[]> {
  const { rows } = await pool.query<{ worker_id: string }>(
    `SELECT worker_id FROM processor_worker WHERE stream_name = $1 AND last_seen > now() - ${interval(ttlMs)}`,
    [streamName],
  );
  return rows.map((r) => r.worker_id).sort();
}
