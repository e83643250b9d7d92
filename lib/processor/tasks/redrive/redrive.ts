/**
 * The re-drive: re-validates quarantined records with the current validator and persists those that
 * now pass through the processor's own write path (db/write.ts): history keyed by content hash,
 * current replaced only by a newer version (fhir_is_newer, with the record's ORIGINAL stream
 * position), one audit event per record or Bundle entry (action `redrive`). The quarantine row is
 * kept and marked in the same transaction, so a crash loses nothing and a second run finds nothing
 * to do. The task's command line is main.ts; its flags, options.ts.
 */
import { createHash } from 'crypto';
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import type { Pool, PoolClient } from 'pg';
import { originalPartitionKey, storableText } from '../../db/quarantine-key';
import { transaction } from '../../db/pool';
import { isKeyRace, writeTransaction, writeValid, WriteProgress } from '../../db/write';
import { validateRecord } from '../../fhir/validate';
import { classifyRecords, RecordOrigin, RecordValidator, withPlan } from '../../records';
import { isDataError, isTransientDbError, retryTransient } from '../../retry';
import type { RedriveOptions } from './options';

/** The validator a re-drive applies, and the identity of its behaviour. */
export interface RedriveValidator {
  /**
   * Names the validator's behaviour (its code and its limits). A record found still invalid is
   * marked with it, and is examined again only by a re-drive whose validator id differs.
   */
  readonly id: string;
  readonly maxRecordBytes: number;
  readonly validate: RecordValidator;
}

const builds = new Map<string, string>();

/** SHA-256 over the validator's own code (lib/processor/fhir: its rules and HL7's generated definitions). */
export function validatorBuild(dir = join(__dirname, '..', '..', 'fhir')): string {
  const known = builds.get(dir);
  if (known) return known;
  const hash = createHash('sha256');
  const walk = (sub: string) => {
    const entries = readdirSync(join(dir, sub), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path);
      else if (/\.(js|ts)$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
        hash
          .update(`${path}\0`)
          .update(readFileSync(join(dir, path)))
          .update('\0');
    }
  };
  walk('');
  const value = `fhir-r4-${hash.digest('hex').slice(0, 16)}`;
  builds.set(dir, value);
  return value;
}

/** The processor's validator, as this image runs it with this MAX_RECORD_BYTES. */
export function currentValidator(maxRecordBytes: number): RedriveValidator {
  return { id: `${validatorBuild()}/max-${maxRecordBytes}`, maxRecordBytes, validate: validateRecord };
}

/** Counts of one original quarantine code. */
export interface ReasonCounts {
  examined: number;
  redriven: number;
  stillQuarantined: number;
}

/** Counts only: never a payload, an id or patient data. */
export interface RedriveSummary {
  readonly dryRun: boolean;
  readonly validator: string;
  readonly filters: { readonly reason?: string; readonly since?: string; readonly limit?: number };
  readonly batches: number;
  readonly examined: number;
  /** Persisted (in a dry run: would be). */
  readonly redriven: number;
  readonly stillQuarantined: number;
  /** Audit outcomes of the re-driven records' resources (one per record or Bundle entry); none in a dry run. */
  readonly entries: Readonly<Record<string, number>>;
  /** By the code each record was quarantined with. */
  readonly byReason: Readonly<Record<string, ReasonCounts>>;
  /** Records matching the filters that a run with this validator would still examine (locked by another re-drive, quarantined meanwhile, or past --limit). */
  readonly pending: number;
}

export interface RedriveContext {
  /** Recorded in audit events and on the quarantine rows. */
  readonly actor: string;
  /** The processor's stream: where a dry run's read is recorded. */
  readonly streamName: string;
  readonly validator: RedriveValidator;
  /** After each committed batch, with the counts so far. */
  readonly onBatch?: (progress: RedriveSummary) => void | Promise<void>;
  /** A transient database error is retried with backoff (up to maxAttempts per batch). */
  readonly onRetry?: (error: unknown, attempt: number) => void;
  /** @default 8 */
  readonly maxAttempts?: number;
  /**
   * Inside each writing batch's transaction, after its writes and before COMMIT (its row locks are
   * held): tests hold a batch here to prove what a concurrent processor does; a throw rolls it back.
   */
  readonly beforeCommit?: (batch: { readonly number: number; readonly records: number }) => Promise<void>;
}

interface QuarantinedRow {
  readonly id: string;
  readonly stream_name: string;
  readonly shard_id: string;
  readonly sequence_number: string;
  readonly sub_sequence_number: number;
  readonly line_number: number;
  readonly partition_key: string;
  readonly partition_key_raw: Buffer | null;
  readonly reason_code: string;
  readonly detail: string;
  readonly payload: Buffer;
}

/** What a batch did; added to the run's counts only once its transaction committed. */
interface BatchTally {
  records: number;
  lastId: string;
  byReason: Map<string, ReasonCounts>;
  entries: Map<string, number>;
}

const emptyTally = (): BatchTally => ({ records: 0, lastId: '0', byReason: new Map(), entries: new Map() });

function count(tally: BatchTally, reason: string, field: keyof ReasonCounts): void {
  const counts = tally.byReason.get(reason) ?? { examined: 0, redriven: 0, stillQuarantined: 0 };
  counts[field]++;
  tally.byReason.set(reason, counts);
}

/** Adds one tally's counts into another's maps. */
function merge(into: Pick<BatchTally, 'byReason' | 'entries'>, from: BatchTally): void {
  for (const [reason, c] of from.byReason) {
    const sum = into.byReason.get(reason) ?? { examined: 0, redriven: 0, stillQuarantined: 0 };
    sum.examined += c.examined;
    sum.redriven += c.redriven;
    sum.stillQuarantined += c.stillQuarantined;
    into.byReason.set(reason, sum);
  }
  for (const [outcome, n] of from.entries) into.entries.set(outcome, (into.entries.get(outcome) ?? 0) + n);
}

/** Rows of the filters still waiting for this validator, in id order (the bigint, not its text) after a cursor. */
const SELECT_PENDING = `
SELECT q.id::text AS id, stream_name, shard_id, sequence_number, sub_sequence_number, line_number, partition_key, partition_key_raw, reason_code, detail, payload
FROM quarantined_record q
WHERE redriven_at IS NULL AND redrive_validator IS DISTINCT FROM $1
  AND ($2::text IS NULL OR reason_code = $2) AND ($3::timestamptz IS NULL OR received_at >= $3)
  AND q.id > $4::bigint AND ($6::bigint IS NULL OR q.id = $6)
ORDER BY q.id LIMIT $5`;

const COUNT_PENDING = `
SELECT count(*)::int AS n FROM quarantined_record
WHERE redriven_at IS NULL AND redrive_validator IS DISTINCT FROM $1
  AND ($2::text IS NULL OR reason_code = $2) AND ($3::timestamptz IS NULL OR received_at >= $3)`;

const MARK_REDRIVEN = `
UPDATE quarantined_record SET redriven_at = now(), redrive_attempted_at = now(), redrive_actor = $2, redrive_validator = $3, redrive_outcome = 'redriven', redrive_detail = NULL
WHERE id = ANY($1::bigint[]) AND redriven_at IS NULL`;

const AUDIT_EMPTY = `
INSERT INTO audit_event (actor, action, outcome, stream_name, shard_id, sequence_number, sub_sequence_number, line_number, detail)
SELECT $1, 'redrive', 'no-resources', stream_name, shard_id, sequence_number, sub_sequence_number, line_number,
       'from quarantine row ' || id || ' (' || reason_code || '): valid record without resources (empty Bundle)'
FROM quarantined_record WHERE id = ANY($2::bigint[]) ORDER BY id`;

/** Still refused: the attempt is recorded on the row (with this validator's id) and audited once. */
const RECORD_STILL_QUARANTINED = `
WITH x AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t(id, reason, detail)),
u AS (
  UPDATE quarantined_record q SET redrive_attempted_at = now(), redrive_actor = $4, redrive_validator = $5, redrive_outcome = x.reason, redrive_detail = x.detail
  FROM x WHERE q.id = x.id AND q.redriven_at IS NULL
  RETURNING q.id, q.stream_name, q.shard_id, q.sequence_number, q.sub_sequence_number, q.line_number, q.reason_code, x.reason, x.detail
)
INSERT INTO audit_event (actor, action, outcome, stream_name, shard_id, sequence_number, sub_sequence_number, line_number, detail)
SELECT $4, 'redrive', 'still-quarantined', stream_name, shard_id, sequence_number, sub_sequence_number, line_number,
       'quarantine row ' || id || ' (' || reason_code || ') still fails: ' || reason || ': ' || detail
FROM u ORDER BY id`;

interface Selection {
  readonly after: string;
  readonly size: number;
  /** One row only (a batch the database refused is retried record by record). */
  readonly id?: string;
}

class Redrive {
  readonly byReason = new Map<string, ReasonCounts>();
  readonly entries = new Map<string, number>();
  private batches = 0;

  constructor(
    private readonly pool: Pool,
    private readonly options: RedriveOptions,
    private readonly ctx: RedriveContext,
  ) {}

  private get filterParams(): [string, string | null, Date | null] {
    return [this.ctx.validator.id, this.options.reason ?? null, this.options.since ?? null];
  }

  summary(pending: number): RedriveSummary {
    const byReason = Object.fromEntries([...this.byReason.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, { ...v }]));
    const total = (field: keyof ReasonCounts) => [...this.byReason.values()].reduce((n, c) => n + c[field], 0);
    return {
      dryRun: this.options.dryRun,
      validator: this.ctx.validator.id,
      filters: {
        ...(this.options.reason ? { reason: this.options.reason } : {}),
        ...(this.options.since ? { since: this.options.since.toISOString() } : {}),
        ...(this.options.limit !== undefined ? { limit: this.options.limit } : {}),
      },
      batches: this.batches,
      examined: total('examined'),
      redriven: total('redriven'),
      stillQuarantined: total('stillQuarantined'),
      entries: Object.fromEntries([...this.entries.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
      byReason,
      pending,
    };
  }

  async run(): Promise<RedriveSummary> {
    let after = '0';
    for (;;) {
      const examined = [...this.byReason.values()].reduce((n, c) => n + c.examined, 0);
      const size = Math.min(this.options.batchSize, this.options.limit === undefined ? Infinity : this.options.limit - examined);
      if (size <= 0) break;
      const tally = await this.batch({ after, size });
      if (tally.records === 0) break;
      after = tally.lastId;
      merge(this, tally);
      this.batches++;
      await this.ctx.onBatch?.(this.summary(0));
    }
    const pending = (await this.retrying(() => this.pool.query<{ n: number }>(COUNT_PENDING, this.filterParams))).rows[0].n;
    const summary = this.summary(pending);
    if (this.options.dryRun && summary.examined > 0) {
      // Reading quarantined payloads is an access to PHI: the dry run records it once (counts only).
      await this.retrying(() =>
        this.pool.query(
          `INSERT INTO audit_event (actor, action, outcome, stream_name, detail) VALUES ($1, 'read', 'redrive-dry-run', $2, $3)`,
          [
            this.ctx.actor,
            this.ctx.streamName,
            `dry-run re-drive examined ${summary.examined} quarantined records with validator ${summary.validator}: ${summary.redriven} would pass; counts only`,
          ],
        ),
      );
    }
    return summary;
  }

  private retrying<T>(work: () => Promise<T>): Promise<T> {
    // Connection loss, failover, deadlock with a concurrent processor batch, a second key race:
    // the transaction rolled back whole (or committed whole, and its rows are no longer selected), so repeat it.
    return retryTransient(work, {
      attempts: this.ctx.maxAttempts ?? 8,
      baseMs: 100,
      capMs: 5_000,
      retryable: (error) => isTransientDbError(error) || isKeyRace(error),
      onRetry: this.ctx.onRetry,
    });
  }

  private transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return transaction(this.pool, work, { readOnly: this.options.dryRun });
  }

  /** One batch in one transaction; when the database refuses it, each of its records in its own. */
  private async batch(selection: Selection): Promise<BatchTally> {
    let ids: string[] = [];
    // Kept across retries: after a key race every entry is looked up in history.
    const progress: WriteProgress = { transactions: 0 };
    try {
      return await this.retrying(() =>
        writeTransaction(
          this.pool,
          progress,
          async (client, checkHistory) => {
            const rows = await this.select(client, selection);
            ids = rows.map((r) => r.id);
            return this.apply(client, rows, checkHistory);
          },
          { readOnly: this.options.dryRun },
        ),
      );
    } catch (error) {
      if (!isDataError(error) || ids.length === 0) throw error;
      const code = String((error as { code?: unknown }).code);
      if (ids.length === 1) return this.refused(ids[0], code);
      const tally = emptyTally();
      for (const id of ids) merge(tally, await this.batch({ after: '0', size: 1, id }));
      tally.records = ids.length;
      tally.lastId = ids[ids.length - 1];
      return tally;
    }
  }

  private async select(client: PoolClient, selection: Selection): Promise<QuarantinedRow[]> {
    // A writing run locks its rows; another re-drive skips them (and finds them done once it commits).
    const sql = this.options.dryRun ? SELECT_PENDING : `${SELECT_PENDING} FOR UPDATE SKIP LOCKED`;
    return (await client.query<QuarantinedRow>(sql, [...this.filterParams, selection.after, selection.size, selection.id ?? null])).rows;
  }

  private async apply(client: PoolClient, rows: readonly QuarantinedRow[], checkHistory: boolean): Promise<BatchTally> {
    const tally = emptyTally();
    const passed: string[] = [];
    const empty: string[] = [];
    const still: Array<{ id: string; reason: string; detail: string }> = [];
    const { validator } = this.ctx;
    // Each record keeps its original stream position; its audit events name the quarantine row.
    const rowOf = new Map<RecordOrigin, QuarantinedRow>();
    const batch = classifyRecords(
      rows.map((row) => {
        const origin = { streamName: row.stream_name, shardId: row.shard_id, note: `from quarantine row ${row.id} (${row.reason_code})` };
        rowOf.set(origin, row);
        const part =
          row.sub_sequence_number !== 0 || row.line_number !== 0
            ? { subSequenceNumber: row.sub_sequence_number, line: row.line_number }
            : undefined;
        return {
          sequenceNumber: row.sequence_number,
          partitionKey: originalPartitionKey(row),
          payload: row.payload,
          origin,
          ...(part ? { part } : {}),
        };
      }),
      validator.maxRecordBytes,
      validator.validate,
    );
    const refusedRows = new Map(batch.quarantined.map((q) => [rowOf.get(q.origin!), q]));
    const rowsWithEntries = new Set(batch.valid.map((v) => rowOf.get(v.origin!)));
    for (const row of rows) {
      count(tally, row.reason_code, 'examined');
      const refused = refusedRows.get(row);
      if (refused) {
        count(tally, row.reason_code, 'stillQuarantined');
        still.push({ id: row.id, reason: refused.reason, detail: storableText(refused.detail).text });
        continue;
      }
      count(tally, row.reason_code, 'redriven');
      passed.push(row.id);
      if (!rowsWithEntries.has(row)) empty.push(row.id);
    }
    tally.records = rows.length;
    tally.lastId = rows.length > 0 ? rows[rows.length - 1].id : '0';
    if (this.options.dryRun || rows.length === 0) return tally;

    const { actor } = this.ctx;
    // A row is re-driven whole or not at all: an NDJSON row with one line still failing stores none of its lines.
    const valid = refusedRows.size === 0 ? batch.valid : withPlan(batch.valid.filter((v) => !refusedRows.has(rowOf.get(v.origin!)!)));
    const outcomes = await writeValid(client, valid, { actor, action: 'redrive' }, checkHistory);
    for (const [outcome, n] of Object.entries(outcomes)) tally.entries.set(outcome, n!);
    if (empty.length > 0) {
      await client.query(AUDIT_EMPTY, [actor, empty]);
      tally.entries.set('no-resources', empty.length);
    }
    if (passed.length > 0) {
      const marked = await client.query(MARK_REDRIVEN, [passed, actor, validator.id]);
      // The rows are locked by this transaction: anything else means the schema's rules changed under us.
      if (marked.rowCount !== passed.length)
        throw new Error(`marked ${marked.rowCount} of ${passed.length} re-driven quarantine rows; nothing of this batch was committed`);
    }
    if (still.length > 0) {
      await client.query(RECORD_STILL_QUARANTINED, [
        still.map((s) => s.id),
        still.map((s) => s.reason),
        still.map((s) => s.detail),
        actor,
        validator.id,
      ]);
    }
    await this.ctx.beforeCommit?.({ number: this.batches + 1, records: rows.length });
    return tally;
  }

  /** A record the database refuses even on its own stays quarantined, its attempt recorded as UNSTORABLE. */
  private async refused(id: string, code: string): Promise<BatchTally> {
    return this.retrying(() =>
      this.transaction(async (client) => {
        const tally = emptyTally();
        const [row] = await this.select(client, { after: '0', size: 1, id });
        if (!row) return tally;
        count(tally, row.reason_code, 'examined');
        count(tally, row.reason_code, 'stillQuarantined');
        await client.query(RECORD_STILL_QUARANTINED, [
          [id],
          ['UNSTORABLE'],
          [`database refused the re-driven rows (SQLSTATE ${code})`],
          this.ctx.actor,
          this.ctx.validator.id,
        ]);
        tally.records = 1;
        tally.lastId = id;
        return tally;
      }),
    );
  }
}

/**
 * Re-drives what matches the options, batch by batch in id order. Safe while the processor runs
 * and while another re-drive runs (rows are locked and skipped); each batch commits its records,
 * their audit events and the quarantine rows' marks together.
 */
export function redrive(pool: Pool, options: RedriveOptions, ctx: RedriveContext): Promise<RedriveSummary> {
  return new Redrive(pool, options, ctx).run();
}

/** A progress line of counts. */
export function progressLine(s: RedriveSummary): string {
  return `${s.dryRun ? 'dry run: ' : ''}batch ${s.batches}: examined ${s.examined}, ${s.dryRun ? 'would re-drive' : 're-driven'} ${s.redriven}, still quarantined ${s.stillQuarantined}`;
}

/** A one-line error that cannot carry a value from a record (database messages may quote one). */
export function safeMessage(error: unknown): string {
  const e = error as { code?: unknown; severity?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && typeof e.severity === 'string')
    return `the database refused the re-drive (SQLSTATE ${e.code}); the failed batch was rolled back`;
  return String(e?.message ?? error).split('\n')[0];
}
