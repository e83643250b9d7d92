import type { Pool, PoolClient } from 'pg';
import type { BatchRows, ClassifiedBatch, QuarantineEntry, RecordRef } from '../records';
import { hexQuarantineKey, storableText } from './quarantine-key';
import { isDataError } from '../retry';
import { isKeyRace, writeTransaction, writeValid, WriteProgress } from './write';

/** The shard position a batch belongs to, and who is writing it. */
export interface BatchContext {
  readonly streamName: string;
  readonly shardId: string;
  readonly workerId: string;
  /** Lease extension granted by a successful commit. */
  readonly leaseTtlMs: number;
  /**
   * The lease counter this worker was given when it took the shard (the fencing token): a
   * commit succeeds only while the lease still carries it.
   * @default 0 (a lease row never taken by acquire(); every take-over counts from 1)
   */
  readonly leaseCounter?: number | string;
  /** The shard has ended (resharding): mark its lease completed with this batch. */
  readonly shardEnded?: boolean;
}

export interface PersistResult {
  readonly written: number;
  readonly duplicates: number;
  readonly stale: number;
  readonly quarantined: number;
  /** The quarantined records by reason code (records already quarantined earlier are not counted). */
  readonly quarantinedByReason: Readonly<Record<string, number>>;
  /** Transactions attempted for this batch (1 unless the database refused a record and it was bisected). */
  readonly transactions: number;
}

/**
 * Carried by the caller across retries of one batch: how far bisection already committed, so a
 * retry after a transient failure resends only the rest (each record audited exactly once).
 */
export interface BatchProgress extends WriteProgress {
  committedThrough?: string;
}

/** The lease was taken by another worker, or the checkpoint is already past this batch: nothing was written. */
export class LeaseLostError extends Error {
  constructor(shardId: string, why = 'is no longer held by this worker (its lease counter changed)') {
    super(`lease on ${shardId} ${why}`);
    this.name = 'LeaseLostError';
  }
}

/** Even the fallback quarantine row was refused: the shard cannot move until the database accepts it. */
export class UnstorableRecordError extends Error {
  constructor(
    shardId: string,
    sequenceNumber: string,
    readonly code: string,
  ) {
    super(
      `record ${sequenceNumber} on ${shardId} cannot be stored even as a hex quarantine row (SQLSTATE ${code}); check quarantined_record constraints`,
    );
    this.name = 'UnstorableRecordError';
  }
}

const PERSIST_QUARANTINE = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::bytea[], $10::int[], $11::int[]) WITH ORDINALITY
    AS t(sequence_number, partition_key, partition_key_raw, reason_code, detail, payload, sub_sequence_number, line_number, ord)
),
q AS (
  INSERT INTO quarantined_record (stream_name, shard_id, sequence_number, sub_sequence_number, line_number, partition_key, partition_key_raw, reason_code, detail, payload)
  SELECT $7, $8, sequence_number, sub_sequence_number, line_number, partition_key, partition_key_raw, reason_code, detail, payload FROM input
  ON CONFLICT (stream_name, shard_id, sequence_number, sub_sequence_number, line_number) DO NOTHING
  RETURNING sequence_number, sub_sequence_number, line_number
)
INSERT INTO audit_event (actor, action, outcome, stream_name, shard_id, sequence_number, sub_sequence_number, line_number, detail)
SELECT $9, 'quarantine', CASE WHEN q.sequence_number IS NULL THEN 'duplicate' ELSE i.reason_code END, $7, $8, i.sequence_number,
       i.sub_sequence_number, i.line_number, CASE WHEN q.sequence_number IS NULL THEN 'already quarantined' END
FROM input i LEFT JOIN q USING (sequence_number, sub_sequence_number, line_number) ORDER BY i.ord
RETURNING outcome`;

async function writeQuarantine(
  client: PoolClient,
  entries: readonly QuarantineEntry[],
  ctx: BatchContext,
): Promise<{ quarantined: number; duplicates: number; byReason: Record<string, number> }> {
  if (entries.length === 0) return { quarantined: 0, duplicates: 0, byReason: {} };
  const keys = entries.map((e) => storableText(e.partitionKey));
  const { rows } = await client.query<{ outcome: string }>(PERSIST_QUARANTINE, [
    entries.map((e) => e.sequenceNumber),
    keys.map((k) => k.text),
    keys.map((k) => k.raw),
    entries.map((e) => e.reason),
    entries.map((e) => storableText(e.detail).text),
    entries.map((e) => e.payload),
    ctx.streamName,
    ctx.shardId,
    ctx.workerId,
    entries.map((e) => e.subSequenceNumber ?? 0),
    entries.map((e) => e.line ?? 0),
  ]);
  const duplicates = rows.filter((r) => r.outcome === 'duplicate').length;
  // Each new quarantine row is audited with its reason code as the outcome.
  const byReason: Record<string, number> = {};
  for (const { outcome } of rows) if (outcome !== 'duplicate') byReason[outcome] = (byReason[outcome] ?? 0) + 1;
  return { quarantined: rows.length - duplicates, duplicates, byReason };
}

type Counts = { written: number; duplicates: number; stale: number; quarantined: number; quarantinedByReason: Record<string, number> };

/**
 * One transaction: rows, quarantine, audit, fence and checkpoint. The lease row must still carry
 * this worker's counter (a take-over increments it, so a stale worker that wakes up later can never
 * commit), and stays locked from that check to the commit; the checkpoint only moves forward. The
 * fence comes after the rows, not before them: locked for the whole batch, the lease row held up the
 * coordinator's renewal of all the worker's leases, which in turn held up every other shard's next
 * batch at its fence (measured end to end, one processor on 4 shards: 2.4 s of waiting at the fence
 * and 3.2 s in the renewal in a 10 s run).
 */
async function persistOnce(pool: Pool, batch: BatchRows, ctx: BatchContext, progress: BatchProgress): Promise<Counts> {
  const counts = await writeTransaction(
    pool,
    progress,
    async (client, checkHistory) => {
      const valid = await writeValid(
        client,
        batch.valid,
        { actor: ctx.workerId, action: 'persist', streamName: ctx.streamName, shardId: ctx.shardId },
        checkHistory,
      );
      const q = await writeQuarantine(client, batch.quarantined, ctx);
      if (batch.emptyRecords.length) {
        // A valid record with nothing to store (a Bundle without entries) still gets its one audit event.
        await client.query(
          `INSERT INTO audit_event (actor, action, outcome, stream_name, shard_id, sequence_number, sub_sequence_number, line_number, detail)
           SELECT $1, 'persist', 'no-resources', $2, $3, s, sub, line, 'valid record without resources (empty Bundle or KPL aggregate)'
           FROM unnest($4::text[], $5::int[], $6::int[]) AS t(s, sub, line)`,
          [
            ctx.workerId,
            ctx.streamName,
            ctx.shardId,
            batch.emptyRecords.map((e) => e.sequenceNumber),
            batch.emptyRecords.map((e) => e.subSequenceNumber ?? 0),
            batch.emptyRecords.map((e) => e.line ?? 0),
          ],
        );
      }
      const lease = await client.query(
        `UPDATE shard_lease SET expires_at = now() + make_interval(secs => $4::double precision / 1000), completed = completed OR $5
         WHERE stream_name = $1 AND shard_id = $2 AND owner = $3 AND lease_counter = $6`,
        [ctx.streamName, ctx.shardId, ctx.workerId, ctx.leaseTtlMs, ctx.shardEnded ?? false, String(ctx.leaseCounter ?? 0)],
      );
      if (lease.rowCount !== 1) throw new LeaseLostError(ctx.shardId);
      if (batch.lastSequenceNumber) {
        const moved = await client.query(
          `INSERT INTO shard_checkpoint (stream_name, shard_id, sequence_number, lease_counter) VALUES ($1, $2, $3, $4)
           ON CONFLICT (stream_name, shard_id) DO UPDATE SET sequence_number = EXCLUDED.sequence_number, lease_counter = EXCLUDED.lease_counter, updated_at = now()
           WHERE shard_checkpoint.sequence_number::numeric < EXCLUDED.sequence_number::numeric`,
          [ctx.streamName, ctx.shardId, batch.lastSequenceNumber, String(ctx.leaseCounter ?? 0)],
        );
        if (moved.rowCount !== 1)
          throw new LeaseLostError(ctx.shardId, 'checkpoint is already at or past this batch (another worker committed it)');
      }
      return {
        written: valid.written ?? 0,
        duplicates: (valid.duplicate ?? 0) + q.duplicates,
        stale: valid['stale-version-history-only'] ?? 0,
        quarantined: q.quarantined,
        quarantinedByReason: q.byReason,
      };
    },
    // A lost lease is this worker's news, not a broken session.
    { keepsSession: (error) => isDataError(error) || error instanceof LeaseLostError },
  );
  if (batch.lastSequenceNumber) progress.committedThrough = batch.lastSequenceNumber;
  return counts;
}

const sqlState = (error: unknown) => String((error as { code?: unknown }).code);

/** A record the database refused, as a quarantine row; `hex` is the last-resort form that is always storable. */
function unstorable(record: RecordRef, batch: ClassifiedBatch, code: string, hex: boolean): QuarantineEntry {
  const original = batch.quarantined.find((q) => q.sequenceNumber === record.sequenceNumber);
  const why = original ? `its quarantine row (${original.reason})` : 'the record';
  return {
    sequenceNumber: record.sequenceNumber,
    ...(hex
      ? hexQuarantineKey(record.partitionKey, code)
      : { partitionKey: record.partitionKey, detail: `database rejected ${why} (SQLSTATE ${code})` }),
    reason: 'UNSTORABLE',
    payload: Buffer.from(record.payload),
  };
}

async function bisect(pool: Pool, batch: ClassifiedBatch, ctx: BatchContext, acc: Counts, progress: BatchProgress): Promise<void> {
  let code: string;
  try {
    add(acc, await persistOnce(pool, batch, ctx, progress));
    return;
  } catch (error) {
    // A second key race (writeTransaction retried the first) goes back to the worker, which retries with backoff.
    if (isKeyRace(error) || !isDataError(error)) throw error;
    code = sqlState(error);
  }
  const { records } = batch;
  if (records.length > 1) {
    // As Lambda's event source mapping does: halve, commit what can be committed, recurse on the rest.
    const [first, rest] = batch.halves();
    await bisect(pool, first, { ...ctx, shardEnded: false }, acc, progress);
    await bisect(pool, rest, ctx, acc, progress);
    return;
  }
  const record = records[0];
  for (const hex of [false, true]) {
    try {
      add(
        acc,
        await persistOnce(
          pool,
          {
            valid: [],
            quarantined: [unstorable(record, batch, code, hex)],
            emptyRecords: [],
            records,
            lastSequenceNumber: record.sequenceNumber,
          },
          ctx,
          progress,
        ),
      );
      return;
    } catch (error) {
      if (!isDataError(error)) throw error;
      code = sqlState(error);
    }
  }
  throw new UnstorableRecordError(ctx.shardId, record.sequenceNumber, code);
}

function add(acc: Counts, c: Counts): void {
  acc.written += c.written;
  acc.duplicates += c.duplicates;
  acc.stale += c.stale;
  acc.quarantined += c.quarantined;
  for (const [reason, n] of Object.entries(c.quarantinedByReason))
    acc.quarantinedByReason[reason] = (acc.quarantinedByReason[reason] ?? 0) + n;
}

/**
 * Writes a batch exactly once: rows, quarantine, audit events and the shard checkpoint commit
 * together, under the lease fence. When the database refuses the batch (a data error), it is
 * bisected: the halves commit separately, each with its own checkpoint, and the record the
 * database refuses on its own is quarantined as UNSTORABLE, so one bad record costs O(log n)
 * transactions and never blocks the shard. Pass the same `progress` when retrying a batch.
 */
export async function persistBatch(
  pool: Pool,
  batch: ClassifiedBatch,
  ctx: BatchContext,
  progress: BatchProgress = { transactions: 0 },
): Promise<PersistResult> {
  const before = progress.transactions;
  const done = progress.committedThrough;
  const remaining = done === undefined ? batch : batch.after(done);
  const acc: Counts = { written: 0, duplicates: 0, stale: 0, quarantined: 0, quarantinedByReason: {} };
  if (remaining.records.length > 0 || ctx.shardEnded) await bisect(pool, remaining, ctx, acc, progress);
  return { ...acc, transactions: progress.transactions - before };
}
