/**
 * The one write path of valid entries, for the stream batch (persist.ts) and the re-drive
 * (tasks/redrive): one statement, and one transaction (pool.ts) with one key-race retry
 * (writeTransaction). The two differ only in each entry's position (a re-driven entry keeps its
 * record's original stream position) and in the audit events' action.
 */
import type { Pool, PoolClient } from 'pg';
import type { PlannedEntry } from '../records';
import { transaction, TransactionOptions } from './pool';

/**
 * One statement writes the valid entries, passed as ONE JSON-array parameter: each entry is a
 * positional array (no keys for PostgreSQL to sort and look up) with the resource's JSON spliced in
 * unchanged. History gets one row per distinct content of a resource (content_hash: the SHA-256 of
 * the text jsonb gives it, so an equal re-send is a no-op however it is formatted; computed here, as
 * migration 13 keys existing rows, rather than by the processor, which would have to print the
 * same text first), current is replaced only by a newer version (fhir_is_newer), and every entry
 * gets one audit event with its own outcome, in input order.
 *
 * No ON CONFLICT: its arbitration (a speculative insertion per row: an extra index probe, a
 * lock-manager token and an extra WAL record, on two tables) was about 15% of PostgreSQL's CPU
 * here. Each entry's resource is looked up in current once (needed anyway to choose insert or
 * update); a resource without a current row has no history (its first version writes both, in one
 * transaction), so only resources already current are looked up in history. The primary keys still
 * refuse any duplicate: when another writer stored the same resource first, or a history row lost
 * its current row, the statement fails with 23505 and the transaction is retried with every entry
 * looked up in history ($5 = true; see isKeyRace and writeTransaction). The UPDATE of current
 * re-checks fhir_is_newer against a row a concurrent writer committed (READ COMMITTED).
 *
 * `entries` is the one materialized stage (every DML reads it): each entry once, its hash computed
 * once (the OFFSET 0 keeps the planner from copying the expression into the history probe), and no
 * second pass over the input for the audit events, which learn an entry's UPDATE from a hashed
 * look-up of `upd` (measured against the former input/known/fresh stages: 6% less execution time in
 * EXPLAIN ANALYZE of a 1,000-entry batch, 15-18% less backend CPU per record over 50k records).
 *
 * An entry's stream and shard are its own when it carries them (elements 11 and 12: a re-driven
 * record's original position), else the batch's ($2, $3); element 13 is a note its audit event
 * carries (the quarantine row it came from). Elements 14 and 15, present only for a part of a KPL
 * aggregate or an NDJSON payload, are its sub-sequence number and line (0 when absent).
 */
const WRITE_VALID = `
WITH entries AS MATERIALIZED (
  SELECT k.*, NOT k.dup AND NOT ((k.has_current OR $5::boolean) AND EXISTS (SELECT 1 FROM fhir_resource_history h
           WHERE h.resource_type = k.resource_type AND h.resource_id = k.resource_id AND h.content_hash = k.content_hash)) AS fresh
  FROM (
    SELECT i.*, CASE WHEN NOT i.dup THEN sha256(convert_to(i.resource::text, 'UTF8')) END AS content_hash, c.resource_id IS NOT NULL AS has_current
    FROM (
      SELECT e->>0 AS resource_type, e->>1 AS resource_id, e->>2 AS version_id, (e->>3)::timestamptz AS last_updated,
             e->>4 AS patient_id, (e->5)::boolean AS pk_patient, e->>6 AS sequence_number, (e->7)::int AS entry_index,
             (e->8)::boolean AS dup, (e->9)::boolean AS cand, e->10 AS resource,
             coalesce(e->>11, $2::text) AS stream_name, coalesce(e->>12, $3::text) AS shard_id, e->>13 AS note,
             coalesce((e->14)::int, 0) AS sub_seq, coalesce((e->15)::int, 0) AS line, ord
      FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(e, ord)
    ) i
    LEFT JOIN fhir_resource_current c ON NOT i.dup AND c.resource_type = i.resource_type AND c.resource_id = i.resource_id
    OFFSET 0
  ) k
),
hist AS (
  INSERT INTO fhir_resource_history (resource_type, resource_id, content_hash, version_id, last_updated, patient_id, patient_from_partition_key,
                                     resource, stream_name, shard_id, sequence_number, sub_sequence_number, line_number, entry_index)
  SELECT resource_type, resource_id, content_hash, version_id, last_updated, patient_id, pk_patient, resource, stream_name, shard_id, sequence_number, sub_seq, line, entry_index
  FROM entries WHERE fresh
),
upd AS (
  UPDATE fhir_resource_current c
  SET version_id = f.version_id, last_updated = f.last_updated, patient_id = f.patient_id, patient_from_partition_key = f.pk_patient,
      resource = f.resource, sequence_number = f.sequence_number, sub_sequence_number = f.sub_seq, line_number = f.line, entry_index = f.entry_index, updated_at = now()
  FROM entries f
  WHERE f.fresh AND f.cand AND f.has_current AND c.resource_type = f.resource_type AND c.resource_id = f.resource_id
    AND fhir_is_newer(f.last_updated, f.version_id, f.sequence_number, f.sub_seq, f.line, f.entry_index,
                      c.last_updated, c.version_id, c.sequence_number, c.sub_sequence_number, c.line_number, c.entry_index)
  RETURNING f.ord
),
ins AS (
  INSERT INTO fhir_resource_current (resource_type, resource_id, version_id, last_updated, patient_id, patient_from_partition_key, resource, sequence_number, sub_sequence_number, line_number, entry_index)
  SELECT resource_type, resource_id, version_id, last_updated, patient_id, pk_patient, resource, sequence_number, sub_seq, line, entry_index
  FROM entries WHERE fresh AND cand AND NOT has_current
),
audit AS (
  INSERT INTO audit_event (actor, action, outcome, resource_type, resource_id, version_id, stream_name, shard_id, sequence_number, sub_sequence_number, line_number, entry_index, detail)
  SELECT $4, $6::text,
         CASE WHEN NOT e.fresh THEN 'duplicate' WHEN e.cand AND (NOT e.has_current OR e.ord IN (SELECT ord FROM upd)) THEN 'written' ELSE 'stale-version-history-only' END,
         e.resource_type, e.resource_id, e.version_id, e.stream_name, e.shard_id, e.sequence_number, e.sub_seq, e.line, e.entry_index,
         CASE WHEN e.note IS NULL THEN CASE WHEN e.pk_patient THEN 'no patient in the resource: patient id is the partition key' END
              WHEN e.pk_patient THEN e.note || '; no patient in the resource: patient id is the partition key' ELSE e.note END
  FROM entries e
  ORDER BY e.ord
  RETURNING outcome
)
SELECT outcome, count(*)::int AS n FROM audit GROUP BY outcome`;

const json = (v: string | undefined) => (v === undefined ? 'null' : JSON.stringify(v));

/**
 * The planned entries as one JSON array of positional arrays (the order WRITE_VALID reads): type,
 * id, versionId, lastUpdated, patient, patient-from-partition-key, sequence number, entry index,
 * duplicate-in-batch, candidate, resource; then, for an entry with an origin of its
 * own, its stream, shard and note. Each resource's own JSON text is spliced in unchanged.
 */
export function entriesParam(entries: readonly PlannedEntry[]): string {
  // Stryker disable next-line ArrayDeclaration: the size only pre-allocates; parts[i] fills an empty Array the same way
  const parts = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const sub = e.subSequenceNumber ?? 0,
      line = e.line ?? 0;
    const origin = e.origin ? `,${json(e.origin.streamName)},${json(e.origin.shardId)},${json(e.origin.note)}` : '';
    const part = sub !== 0 || line !== 0 ? `${origin || ',null,null,null'},${sub},${line}` : origin;
    parts[i] =
      `[${json(e.resourceType)},${json(e.id)},${json(e.versionId)},${json(e.lastUpdated)},${json(e.patientId)},${e.patientFromPartitionKey},` +
      `${json(e.sequenceNumber)},${e.entryIndex},${e.duplicateInBatch},${e.candidate},${e.json}${part}]`;
  }
  return `[${parts.join(',')}]`;
}

/** Who writes a set of entries, and where entries without an origin of their own were read. */
export interface WriteContext {
  /** audit_event.actor */
  readonly actor: string;
  /** audit_event.action: `persist` from the stream, `redrive` from quarantine. */
  readonly action: 'persist' | 'redrive';
  /** @default none: every entry has an origin */
  readonly streamName?: string;
  /** @default none: every entry has an origin */
  readonly shardId?: string;
}

/** Audit outcomes of the written entries: `written`, `duplicate`, `stale-version-history-only`. */
export type WriteOutcomes = Partial<Record<string, number>>;

/** Writes the planned entries (history, current, one audit event each) in the caller's transaction. */
export async function writeValid(
  client: PoolClient,
  entries: readonly PlannedEntry[],
  ctx: WriteContext,
  checkHistory: boolean,
): Promise<WriteOutcomes> {
  const outcomes: WriteOutcomes = {};
  if (entries.length === 0) return outcomes;
  // Unnamed, so PostgreSQL plans it for each batch with its parameters and the tables as they are now:
  // a named statement's cached generic plan, made while history and current were small, kept a
  // sequential scan of current as they grew (CPU per record doubled between 0 and 100k rows).
  // Parsing it again costs far less than the alternative, plan_cache_mode = force_custom_plan for
  // the transaction, which also re-planned the audit chain trigger's statement for every row
  // (measured: 20-30 µs of backend CPU per record, about a fifth of the persist path's).
  const { rows } = await client.query<{ outcome: string; n: number }>(WRITE_VALID, [
    entriesParam(entries),
    ctx.streamName ?? null,
    ctx.shardId ?? null,
    ctx.actor,
    checkHistory,
    ctx.action,
  ]);
  for (const { outcome, n } of rows) outcomes[outcome] = n;
  return outcomes;
}

/**
 * History or current refused a row as a duplicate key: another writer stored the same resource
 * after this transaction's snapshot (two shards, or a shard and a re-drive, carrying one
 * resource), or a history row has lost its current row. Not the record's fault: retried (never
 * bisected) with every entry looked up in history, which then sees the stored row and audits a
 * duplicate.
 */
export function isKeyRace(error: unknown): boolean {
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  return code === '23505' && (constraint === 'fhir_resource_history_pkey' || constraint === 'fhir_resource_current_pkey');
}

/** Carried by the caller across attempts at one unit of work. */
export interface WriteProgress {
  /** Transactions attempted. */
  transactions: number;
  /** A primary key refused a row (isKeyRace): look every entry up in history from now on. @default false */
  checkHistory?: boolean;
}

/**
 * transaction() for work that writes entries: a key race is retried once at once with every entry
 * looked up in history; a second one is thrown to the caller, which retries with backoff.
 */
export async function writeTransaction<T>(
  pool: Pool,
  progress: WriteProgress,
  work: (client: PoolClient, checkHistory: boolean) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  for (;;) {
    progress.transactions++;
    try {
      return await transaction(pool, (client) => work(client, progress.checkHistory ?? false), options);
    } catch (error) {
      if (!isKeyRace(error) || progress.checkHistory) throw error;
      progress.checkHistory = true;
    }
  }
}
