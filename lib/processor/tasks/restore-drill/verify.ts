/**
 * The verify step of the restore drill: the same aggregate query on the restored copy and on the
 * live database (through RESTORE_DRILL_FUNCTION, as the drill's own login, which can read no row),
 * and the comparison that decides whether the restore is complete. Counts and timestamps only: no PHI.
 */
import { RESTORE_DRILL_FUNCTION } from '../../db/schema';

/** What the drill learns of one table. */
export interface TableSummary {
  readonly table: string;
  /** Every row. */
  readonly rows: number;
  /** Rows whose timestamp is at or before the comparison cutoff. */
  readonly rowsToCutoff: number;
  /** The newest timestamp at or before `as_of` (the drill's start); undefined for an empty table. */
  readonly newestAsOf?: Date;
}

/** Tables the processor only ever inserts into (triggers and grants forbid UPDATE and DELETE). */
export const APPEND_ONLY_TABLES = ['fhir_resource_history', 'quarantined_record', 'audit_event'] as const;
/** Upserted: rows are never deleted, but an update moves the row's timestamp forward. */
export const UPSERTED_TABLES = ['fhir_resource_current'] as const;
const ALL_TABLES: readonly string[] = [...APPEND_ONLY_TABLES, ...UPSERTED_TABLES];

/** A pg Client, PoolClient or Pool. */
export interface Queryable {
  query<R extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** Calls the summary function. `cutoff`: the comparison point; `asOf`: the newest timestamps count up to here. */
export async function querySummary(db: Queryable, cutoff: Date, asOf: Date): Promise<TableSummary[]> {
  const { rows } = await db.query<{ table_name: string; row_count: string; rows_to_cutoff: string; newest_as_of: Date | null }>(
    `SELECT table_name, row_count::text, rows_to_cutoff::text, newest_as_of FROM ${RESTORE_DRILL_FUNCTION}($1, $2)`,
    [cutoff, asOf],
  );
  const summary = rows.map((r) => ({
    table: r.table_name,
    rows: Number(r.row_count),
    rowsToCutoff: Number(r.rows_to_cutoff),
    ...(r.newest_as_of ? { newestAsOf: new Date(r.newest_as_of) } : {}),
  }));
  const missing = ALL_TABLES.filter((t) => !summary.some((s) => s.table === t));
  if (missing.length > 0)
    throw new Error(`${RESTORE_DRILL_FUNCTION} returned no row for ${missing.join(', ')}: the schema and the drill disagree`);
  return summary;
}

export interface Comparison {
  /** Every check held: the restore holds every row the live database had at the cutoff. */
  readonly ok: boolean;
  /** One line per failed check. */
  readonly problems: readonly string[];
  readonly tables: ReadonlyArray<{ table: string; restoredRows: number; liveRows: number; restoredToCutoff: number; liveToCutoff: number }>;
  /** The newest timestamp in the restored copy (any append-only table). */
  readonly restoredNewest?: Date;
  /** The newest timestamp in the live database at the drill's start. */
  readonly liveNewestAtStart?: Date;
  /**
   * Recovery point, in seconds: had the database been lost when the drill started, the rows written
   * after the newest restored row would be gone. When the live database has no such row (nothing
   * was written since), nothing would be lost and the RPO is 0; otherwise it is the time from the
   * newest restored row to the drill's start, an upper bound of the window of lost writes. (The
   * plain age of the newest restored row would report a quiet weekend as a days-long RPO.)
   */
  readonly rpoSeconds: number;
}

const iso = (d: Date) => d.toISOString();
const newestOf = (summary: readonly TableSummary[]) =>
  summary
    .filter((s) => (APPEND_ONLY_TABLES as readonly string[]).includes(s.table) && s.newestAsOf)
    .reduce<Date | undefined>((max, s) => (!max || s.newestAsOf! > max ? s.newestAsOf : max), undefined);

/**
 * Decides whether the restored copy is complete, comparing rows up to `cutoff` (a few minutes before
 * the restore point, so that no transaction was still open across it):
 * - append-only tables: exactly the same number of rows up to the cutoff;
 * - fhir_resource_current (rows are inserted or updated, never deleted): the restore has no more rows
 *   than the live database now, and at least as many rows last touched before the cutoff (a live row
 *   updated since then has a later timestamp there).
 */
export function compareSummaries(
  restored: readonly TableSummary[],
  live: readonly TableSummary[],
  at: { readonly cutoff: Date; readonly startedAt: Date },
): Comparison {
  const problems: string[] = [];
  const tables = ALL_TABLES.map((table) => {
    const r = restored.find((s) => s.table === table);
    const l = live.find((s) => s.table === table);
    if (!r || !l) throw new Error(`summary of ${table} missing from the ${r ? 'live database' : 'restored copy'}`);
    return { table, restoredRows: r.rows, liveRows: l.rows, restoredToCutoff: r.rowsToCutoff, liveToCutoff: l.rowsToCutoff };
  });
  for (const t of tables) {
    if ((APPEND_ONLY_TABLES as readonly string[]).includes(t.table)) {
      if (t.restoredToCutoff !== t.liveToCutoff)
        problems.push(
          `${t.table}: ${t.restoredToCutoff} rows up to ${iso(at.cutoff)} in the restored copy, ${t.liveToCutoff} in the live database`,
        );
    } else {
      if (t.restoredRows > t.liveRows)
        problems.push(`${t.table}: ${t.restoredRows} rows in the restored copy, more than the ${t.liveRows} of the live database`);
      if (t.restoredToCutoff < t.liveToCutoff)
        problems.push(
          `${t.table}: ${t.restoredToCutoff} rows last written up to ${iso(at.cutoff)} in the restored copy, fewer than the ${t.liveToCutoff} of the live database`,
        );
    }
  }
  const restoredNewest = newestOf(restored);
  const liveNewestAtStart = newestOf(live);
  const lost = liveNewestAtStart !== undefined && (restoredNewest === undefined || liveNewestAtStart > restoredNewest);
  const rpoSeconds = lost ? Math.max(0, Math.round((at.startedAt.getTime() - (restoredNewest ?? at.cutoff).getTime()) / 1000)) : 0;
  return { ok: problems.length === 0, problems, tables, restoredNewest, liveNewestAtStart, rpoSeconds };
}
