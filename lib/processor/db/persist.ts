import type { Pool, PoolClient } from 'pg';
import type { ClassifiedBatch, QuarantineEntry, ValidEntry } from '../records';

/** The shard position a batch belongs to, and who is writing it. */
export interface BatchContext {
  readonly streamName: string;
  readonly shardId: string;
  readonly workerId: string;
  /** Lease extension granted by a successful commit. */
  readonly leaseTtlMs: number;
  /** The shard has ended (resharding): mark its lease completed with this batch. */
  readonly shardEnded?: boolean;
}

export interface PersistResult {
  readonly written: number;
  readonly duplicates: number;
  readonly stale: number;
  readonly quarantined: number;
}

/** The lease was taken by another worker: nothing was written; stop processing the shard. */
export class LeaseLostError extends Error {
  constructor(shardId: string) {
    super(`lease on ${shardId} is no longer held by this worker`);
    this.name = 'LeaseLostError';
  }
}

/**
 * One statement writes the valid records: history (append-only; a replay is a no-op), current
 * (only a newer version replaces it), and an audit event per record saying what happened.
 */
const PERSIST_VALID = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[])
    AS t(resource_type, resource_id, version_id, last_updated, patient_id, resource, sequence_number)
),
hist AS (
  INSERT INTO fhir_resource_history (resource_type, resource_id, version_id, last_updated, patient_id, resource, stream_name, shard_id, sequence_number)
  SELECT resource_type, resource_id, version_id, last_updated, patient_id, resource::jsonb, $8, $9, sequence_number FROM input
  ON CONFLICT (resource_type, resource_id, version_id) DO NOTHING
  RETURNING resource_type, resource_id, version_id
),
newest AS (
  SELECT DISTINCT ON (resource_type, resource_id) * FROM input
  ORDER BY resource_type, resource_id, last_updated DESC, length(version_id) DESC, version_id DESC
),
cur AS (
  INSERT INTO fhir_resource_current AS c (resource_type, resource_id, version_id, last_updated, patient_id, resource)
  SELECT resource_type, resource_id, version_id, last_updated, patient_id, resource::jsonb FROM newest
  ON CONFLICT (resource_type, resource_id) DO UPDATE
    SET version_id = EXCLUDED.version_id, last_updated = EXCLUDED.last_updated, patient_id = EXCLUDED.patient_id,
        resource = EXCLUDED.resource, updated_at = now()
    WHERE (EXCLUDED.last_updated, length(EXCLUDED.version_id), EXCLUDED.version_id) > (c.last_updated, length(c.version_id), c.version_id)
  RETURNING resource_type, resource_id, version_id
),
audit AS (
  INSERT INTO audit_event (actor, action, outcome, resource_type, resource_id, version_id, stream_name, shard_id, sequence_number)
  SELECT $10, 'persist',
         CASE WHEN h.resource_id IS NULL THEN 'duplicate' WHEN c.resource_id IS NULL THEN 'stale-version-history-only' ELSE 'written' END,
         i.resource_type, i.resource_id, i.version_id, $8, $9, i.sequence_number
  FROM input i
  LEFT JOIN hist h USING (resource_type, resource_id, version_id)
  LEFT JOIN cur c USING (resource_type, resource_id, version_id)
  RETURNING outcome
)
SELECT outcome, count(*)::int AS n FROM audit GROUP BY outcome`;

const PERSIST_QUARANTINE = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[]) AS t(sequence_number, partition_key, reason_code, detail, payload)
),
q AS (
  INSERT INTO quarantined_record (stream_name, shard_id, sequence_number, partition_key, reason_code, detail, payload)
  SELECT $6, $7, sequence_number, partition_key, reason_code, detail, payload FROM input
  ON CONFLICT (stream_name, shard_id, sequence_number) DO NOTHING
  RETURNING sequence_number, reason_code
)
INSERT INTO audit_event (actor, action, outcome, stream_name, shard_id, sequence_number)
SELECT $8, 'quarantine', reason_code, $6, $7, sequence_number FROM q`;

async function writeValid(client: PoolClient, entries: readonly ValidEntry[], ctx: BatchContext) {
  const counts = { written: 0, duplicates: 0, stale: 0 };
  if (entries.length === 0) return counts;
  const cols: string[][] = [[], [], [], [], [], [], []];
  for (const e of entries) {
    cols[0].push(e.resourceType); cols[1].push(e.id); cols[2].push(e.versionId); cols[3].push(e.lastUpdated);
    cols[4].push(e.patientId); cols[5].push(e.json); cols[6].push(e.sequenceNumber);
  }
  const { rows } = await client.query<{ outcome: string; n: number }>(PERSIST_VALID, [...cols, ctx.streamName, ctx.shardId, ctx.workerId]);
  for (const row of rows) {
    if (row.outcome === 'written') counts.written = row.n;
    else if (row.outcome === 'duplicate') counts.duplicates = row.n;
    else counts.stale = row.n;
  }
  return counts;
}

async function writeQuarantine(client: PoolClient, entries: readonly QuarantineEntry[], ctx: BatchContext) {
  if (entries.length === 0) return;
  await client.query(PERSIST_QUARANTINE, [
    entries.map((e) => e.sequenceNumber), entries.map((e) => e.partitionKey), entries.map((e) => e.reason),
    entries.map((e) => e.detail), entries.map((e) => e.payload), ctx.streamName, ctx.shardId, ctx.workerId,
  ]);
}

/**
 * Writes a batch exactly once: rows, quarantine, audit events and the shard checkpoint commit
 * together, and only while this worker still holds the shard's lease (the lease row is locked
 * first, so a takeover waits for this commit and then sees the extended lease).
 */
export async function persistBatch(pool: Pool, batch: ClassifiedBatch, ctx: BatchContext): Promise<PersistResult> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      const lease = await client.query(
        `UPDATE shard_lease SET expires_at = now() + make_interval(secs => $4::double precision / 1000), completed = completed OR $5
         WHERE stream_name = $1 AND shard_id = $2 AND owner = $3 AND expires_at > now()`,
        [ctx.streamName, ctx.shardId, ctx.workerId, ctx.leaseTtlMs, ctx.shardEnded ?? false],
      );
      if (lease.rowCount !== 1) throw new LeaseLostError(ctx.shardId);
      const counts = await writeValid(client, batch.valid, ctx);
      await writeQuarantine(client, batch.quarantined, ctx);
      if (batch.lastSequenceNumber) {
        await client.query(
          `INSERT INTO shard_checkpoint (stream_name, shard_id, sequence_number) VALUES ($1, $2, $3)
           ON CONFLICT (stream_name, shard_id) DO UPDATE SET sequence_number = EXCLUDED.sequence_number, updated_at = now()`,
          [ctx.streamName, ctx.shardId, batch.lastSequenceNumber],
        );
      }
      await client.query('COMMIT');
      return { ...counts, quarantined: batch.quarantined.length };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    client.release();
  }
}

/** SQLSTATE classes that mean "this data cannot be stored", not "the database is unavailable". */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}

/**
 * When a batch hits a data error, persist its records one at a time (each with its own
 * checkpoint) so the one the database rejects is quarantined as UNSTORABLE and the shard moves on.
 */
export async function persistIsolating(pool: Pool, batch: ClassifiedBatch, ctx: BatchContext, payloadOf: (sequenceNumber: string) => Buffer): Promise<PersistResult> {
  const total = { written: 0, duplicates: 0, stale: 0, quarantined: 0 };
  const ordered = [
    ...batch.valid.map((v) => ({ seq: v.sequenceNumber, valid: v as ValidEntry | undefined, q: undefined as QuarantineEntry | undefined })),
    ...batch.quarantined.map((q) => ({ seq: q.sequenceNumber, valid: undefined, q })),
  ].sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
  for (const [index, item] of ordered.entries()) {
    const last = index === ordered.length - 1;
    const single: ClassifiedBatch = { valid: item.valid ? [item.valid] : [], quarantined: item.q ? [item.q] : [], lastSequenceNumber: item.seq };
    const singleCtx = { ...ctx, shardEnded: last && ctx.shardEnded };
    let result: PersistResult;
    try {
      result = await persistBatch(pool, single, singleCtx);
    } catch (error) {
      if (!isDataError(error) || !item.valid) throw error;
      const code = (error as { code: string }).code;
      result = await persistBatch(pool, {
        valid: [],
        quarantined: [{ sequenceNumber: item.seq, partitionKey: item.valid.patientId, reason: 'UNSTORABLE', detail: `database rejected the record (SQLSTATE ${code})`, payload: payloadOf(item.seq) }],
        lastSequenceNumber: item.seq,
      }, singleCtx);
    }
    total.written += result.written; total.duplicates += result.duplicates; total.stale += result.stale; total.quarantined += result.quarantined;
  }
  return total;
}
