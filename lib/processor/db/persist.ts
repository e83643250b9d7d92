import type { Pool, PoolClient } from 'pg';
import { ClassifiedBatch, compareSequence, planEntries, QuarantineEntry, RecordRef, subBatch, ValidEntry } from '../records';
import { checkout } from './pool';

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
export interface BatchProgress {
  committedThrough?: string;
  transactions: number;
  /** A primary key refused a row (isKeyRace): look every entry up in history from now on. @default false */
  checkHistory?: boolean;
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

/**
 * One statement writes the valid entries, passed as ONE JSON-array parameter: each entry is a
 * positional array (no keys for PostgreSQL to sort and look up) with the resource's JSON spliced in
 * unchanged. History gets one row per distinct content of a resource (a byte-identical re-send is a
 * no-op), current is replaced only by a newer version (fhir_is_newer), and every entry gets one
 * audit event with its own outcome, in input order.
 *
 * No ON CONFLICT: its arbitration (a speculative insertion per row: an extra index probe, a
 * lock-manager token and an extra WAL record, on two tables) was about 15% of PostgreSQL's CPU
 * here. Each entry's resource is looked up in current once (needed anyway to choose insert or
 * update); a resource without a current row has no history (its first version writes both, in one
 * transaction), so only resources already current are looked up in history. The primary keys still
 * refuse any duplicate: when another writer stored the same resource first, or a history row lost
 * its current row, the statement fails with 23505 and the batch is retried with every entry looked
 * up in history ($5 = true; see isKeyRace).
 */
const PERSIST_VALID = `
WITH input AS (
  SELECT e->>0 AS resource_type, e->>1 AS resource_id, e->>2 AS version_id, (e->>3)::timestamptz AS last_updated,
         e->>4 AS patient_id, (e->5)::boolean AS pk_patient, e->>6 AS sequence_number, (e->7)::int AS entry_index,
         decode(e->>8, 'hex') AS content_hash, (e->9)::boolean AS dup, (e->10)::boolean AS cand, e->11 AS resource, ord
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(e, ord)
),
known AS (
  SELECT i.*, c.resource_id IS NOT NULL AS has_current
  FROM input i LEFT JOIN fhir_resource_current c ON c.resource_type = i.resource_type AND c.resource_id = i.resource_id
  WHERE NOT i.dup
),
fresh AS (
  SELECT * FROM known k
  WHERE NOT ((k.has_current OR $5::boolean) AND EXISTS (SELECT 1 FROM fhir_resource_history h
    WHERE h.resource_type = k.resource_type AND h.resource_id = k.resource_id AND h.content_hash = k.content_hash))
),
hist AS (
  INSERT INTO fhir_resource_history (resource_type, resource_id, content_hash, version_id, last_updated, patient_id, patient_from_partition_key,
                                     resource, stream_name, shard_id, sequence_number, entry_index)
  SELECT resource_type, resource_id, content_hash, version_id, last_updated, patient_id, pk_patient, resource, $2, $3, sequence_number, entry_index
  FROM fresh
),
upd AS (
  UPDATE fhir_resource_current c
  SET version_id = f.version_id, last_updated = f.last_updated, patient_id = f.patient_id, patient_from_partition_key = f.pk_patient,
      resource = f.resource, sequence_number = f.sequence_number, entry_index = f.entry_index, updated_at = now()
  FROM fresh f
  WHERE f.cand AND f.has_current AND c.resource_type = f.resource_type AND c.resource_id = f.resource_id
    AND fhir_is_newer(f.last_updated, f.version_id, f.sequence_number, f.entry_index, c.last_updated, c.version_id, c.sequence_number, c.entry_index)
  RETURNING f.ord
),
ins AS (
  INSERT INTO fhir_resource_current (resource_type, resource_id, version_id, last_updated, patient_id, patient_from_partition_key, resource, sequence_number, entry_index)
  SELECT resource_type, resource_id, version_id, last_updated, patient_id, pk_patient, resource, sequence_number, entry_index
  FROM fresh WHERE cand AND NOT has_current
),
audit AS (
  INSERT INTO audit_event (actor, action, outcome, resource_type, resource_id, version_id, stream_name, shard_id, sequence_number, entry_index, detail)
  SELECT $4, 'persist',
         CASE WHEN f.ord IS NULL THEN 'duplicate' WHEN f.cand AND (NOT f.has_current OR u.ord IS NOT NULL) THEN 'written' ELSE 'stale-version-history-only' END,
         i.resource_type, i.resource_id, i.version_id, $2, $3, i.sequence_number, i.entry_index,
         CASE WHEN i.pk_patient THEN 'no patient in the resource: patient id is the partition key' END
  FROM input i LEFT JOIN fresh f ON f.ord = i.ord LEFT JOIN upd u ON u.ord = i.ord
  ORDER BY i.ord
  RETURNING outcome
)
SELECT outcome, count(*)::int AS n FROM audit GROUP BY outcome`;

const PERSIST_QUARANTINE = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::bytea[]) WITH ORDINALITY
    AS t(sequence_number, partition_key, partition_key_raw, reason_code, detail, payload, ord)
),
q AS (
  INSERT INTO quarantined_record (stream_name, shard_id, sequence_number, partition_key, partition_key_raw, reason_code, detail, payload)
  SELECT $7, $8, sequence_number, partition_key, partition_key_raw, reason_code, detail, payload FROM input
  ON CONFLICT (stream_name, shard_id, sequence_number) DO NOTHING
  RETURNING sequence_number
)
INSERT INTO audit_event (actor, action, outcome, stream_name, shard_id, sequence_number, detail)
SELECT $9, 'quarantine', CASE WHEN q.sequence_number IS NULL THEN 'duplicate' ELSE i.reason_code END, $7, $8, i.sequence_number,
       CASE WHEN q.sequence_number IS NULL THEN 'already quarantined' END
FROM input i LEFT JOIN q USING (sequence_number) ORDER BY i.ord
RETURNING outcome`;

const json = (v: string | undefined) => (v === undefined ? 'null' : JSON.stringify(v));

/**
 * The batch's entries as one JSON array of positional arrays (the order PERSIST_VALID reads):
 * type, id, versionId, lastUpdated, patient, patient-from-partition-key, sequence number, entry
 * index, content hash, duplicate-in-batch, candidate, resource. Each resource's own JSON text is
 * spliced in unchanged.
 */
export function entriesParam(entries: readonly ValidEntry[]): string {
  const plan = planEntries(entries);
  const parts = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    parts[i] =
      `[${json(e.resourceType)},${json(e.id)},${json(e.versionId)},${json(e.lastUpdated)},${json(e.patientId)},${e.patientFromPartitionKey},` +
      `${json(e.sequenceNumber)},${e.entryIndex},"${e.contentHash}",${plan[i].duplicateInBatch},${plan[i].candidate},${e.json}]`;
  }
  return `[${parts.join(',')}]`;
}

/**
 * Text PostgreSQL can hold: U+0000 (which Kinesis accepts in a partition key) becomes the six
 * characters `\u0000`; `raw` then keeps the exact bytes.
 */
export function storableText(value: string): { text: string; raw: Buffer | null } {
  if (!value.includes('\u0000')) return { text: value, raw: null };
  // eslint-disable-next-line no-control-regex -- NUL is exactly what PostgreSQL text cannot hold
  return { text: value.replace(/\u0000/g, '\\u0000'), raw: Buffer.from(value, 'utf8') };
}

async function writeValid(client: PoolClient, entries: readonly ValidEntry[], ctx: BatchContext, checkHistory: boolean) {
  const counts = { written: 0, duplicates: 0, stale: 0 };
  if (entries.length === 0) return counts;
  // Named: each pooled session parses and analyses the statement once, not once per batch.
  const { rows } = await client.query<{ outcome: string; n: number }>({
    name: 'fhir-persist-valid-v5',
    text: PERSIST_VALID,
    values: [entriesParam(entries), ctx.streamName, ctx.shardId, ctx.workerId, checkHistory],
  });
  for (const row of rows) {
    if (row.outcome === 'written') counts.written = row.n;
    else if (row.outcome === 'duplicate') counts.duplicates = row.n;
    else counts.stale = row.n;
  }
  return counts;
}

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
  ]);
  const duplicates = rows.filter((r) => r.outcome === 'duplicate').length;
  // Each new quarantine row is audited with its reason code as the outcome.
  const byReason: Record<string, number> = {};
  for (const { outcome } of rows) if (outcome !== 'duplicate') byReason[outcome] = (byReason[outcome] ?? 0) + 1;
  return { quarantined: rows.length - duplicates, duplicates, byReason };
}

type Counts = { written: number; duplicates: number; stale: number; quarantined: number; quarantinedByReason: Record<string, number> };

/**
 * One transaction: fence, rows, quarantine, audit and checkpoint. The lease row is locked first and
 * must still carry this worker's counter (a take-over increments it, so a stale worker that wakes
 * up later can never commit); the checkpoint only moves forward.
 */
async function persistOnce(pool: Pool, batch: ClassifiedBatch, ctx: BatchContext, progress: BatchProgress): Promise<Counts> {
  progress.transactions++;
  const guarded = await checkout(pool);
  const { client } = guarded;
  let failure: unknown;
  try {
    // Planned for the tables as they are now, every time: a generic plan cached while history and
    // current were small keeps its sequential scan of current as they grow (measured: CPU per
    // record doubled between 0 and 100k rows). Planning is about 5% of the backend's CPU per batch.
    await client.query('BEGIN; SET LOCAL plan_cache_mode = force_custom_plan');
    try {
      const lease = await client.query(
        `UPDATE shard_lease SET expires_at = now() + make_interval(secs => $4::double precision / 1000), completed = completed OR $5
         WHERE stream_name = $1 AND shard_id = $2 AND owner = $3 AND lease_counter = $6`,
        [ctx.streamName, ctx.shardId, ctx.workerId, ctx.leaseTtlMs, ctx.shardEnded ?? false, String(ctx.leaseCounter ?? 0)],
      );
      if (lease.rowCount !== 1) throw new LeaseLostError(ctx.shardId);
      const valid = await writeValid(client, batch.valid, ctx, progress.checkHistory ?? false);
      const q = await writeQuarantine(client, batch.quarantined, ctx);
      if (batch.emptyRecords?.length) {
        // A valid record with nothing to store (a Bundle without entries) still gets its one audit event.
        await client.query(
          `INSERT INTO audit_event (actor, action, outcome, stream_name, shard_id, sequence_number, detail)
           SELECT $1, 'persist', 'no-resources', $2, $3, s, 'valid record without resources (empty Bundle)' FROM unnest($4::text[]) AS s`,
          [ctx.workerId, ctx.streamName, ctx.shardId, batch.emptyRecords],
        );
      }
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
      await client.query('COMMIT');
      if (batch.lastSequenceNumber) progress.committedThrough = batch.lastSequenceNumber;
      return { ...valid, duplicates: valid.duplicates + q.duplicates, quarantined: q.quarantined, quarantinedByReason: q.byReason };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } catch (error) {
    // A refused record leaves a healthy session; anything else may have broken it.
    if (!isDataError(error) && !(error instanceof LeaseLostError)) failure = error;
    throw error;
  } finally {
    guarded.release(failure);
  }
}

/** SQLSTATE classes that mean "this data cannot be stored", not "the database is unavailable". */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}

const sqlState = (error: unknown) => String((error as { code?: unknown }).code);

/**
 * History or current refused a row as a duplicate key: another writer stored the same resource
 * after this transaction's snapshot (two shards carrying one resource), or a history row has lost
 * its current row. Not the record's fault: retried (never bisected) with every entry looked up in
 * history, which then sees the stored row and audits a duplicate.
 */
export function isKeyRace(error: unknown): boolean {
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  return code === '23505' && (constraint === 'fhir_resource_history_pkey' || constraint === 'fhir_resource_current_pkey');
}

/** A record the database refused, as a quarantine row; `hex` is the last-resort form that is always storable. */
function unstorable(record: RecordRef, batch: ClassifiedBatch, code: string, hex: boolean): QuarantineEntry {
  const original = batch.quarantined.find((q) => q.sequenceNumber === record.sequenceNumber);
  const why = original ? `its quarantine row (${original.reason})` : 'the record';
  return {
    sequenceNumber: record.sequenceNumber,
    partitionKey: hex ? `hex:${Buffer.from(record.partitionKey, 'utf8').toString('hex')}` : record.partitionKey,
    reason: 'UNSTORABLE',
    detail: hex
      ? `database refused the record and its quarantine row (SQLSTATE ${code}); partition key hex-encoded`
      : `database rejected ${why} (SQLSTATE ${code})`,
    payload: Buffer.from(record.payload),
  };
}

async function bisect(pool: Pool, batch: ClassifiedBatch, ctx: BatchContext, acc: Counts, progress: BatchProgress): Promise<void> {
  let code: string;
  try {
    add(acc, await persistOnce(pool, batch, ctx, progress));
    return;
  } catch (error) {
    if (isKeyRace(error)) {
      // Once more at once, looking every entry up in history; a second race goes back to the worker, which retries with backoff.
      if (progress.checkHistory) throw error;
      progress.checkHistory = true;
      return bisect(pool, batch, ctx, acc, progress);
    }
    if (!isDataError(error)) throw error;
    code = sqlState(error);
  }
  const { records } = batch;
  if (records.length > 1) {
    // As Lambda's event source mapping does: halve, commit what can be committed, recurse on the rest.
    const mid = Math.ceil(records.length / 2);
    await bisect(pool, subBatch(batch, records.slice(0, mid)), { ...ctx, shardEnded: false }, acc, progress);
    await bisect(pool, subBatch(batch, records.slice(mid)), ctx, acc, progress);
    return;
  }
  const record = records[0];
  for (const hex of [false, true]) {
    try {
      add(
        acc,
        await persistOnce(
          pool,
          { valid: [], quarantined: [unstorable(record, batch, code, hex)], records, lastSequenceNumber: record.sequenceNumber },
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
  const remaining =
    done === undefined
      ? batch
      : subBatch(
          batch,
          batch.records.filter((r) => compareSequence(r.sequenceNumber, done) > 0),
        );
  const acc: Counts = { written: 0, duplicates: 0, stale: 0, quarantined: 0, quarantinedByReason: {} };
  if (remaining.records.length > 0 || ctx.shardEnded) await bisect(pool, remaining, ctx, acc, progress);
  return { ...acc, transactions: progress.transactions - before };
}
