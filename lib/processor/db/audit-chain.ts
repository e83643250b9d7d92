/**
 * Verification of the audit_event hash chains (migration 14): every connection that writes audit
 * events keeps a chain of its own, each row carrying the hash of the previous row of its chain and
 * its own hash over its canonical serialization (AUDIT_CANONICAL_SQL). The verifier recomputes every
 * hash here, not with the database's functions, so a replaced trigger or function cannot vouch for itself.
 */
import { createHash } from 'crypto';
import type { Pool } from 'pg';
import { AUDIT_CANONICAL_SQL } from './schema';
import { checkout } from './pool';

/** The previous hash of a chain's first row. */
export const GENESIS = Buffer.alloc(32);

/** One row as the verifier reads it. */
export interface ChainRow {
  readonly id: string;
  readonly login: string;
  readonly chainId: string;
  readonly seq: number;
  readonly prev: Buffer;
  readonly hash: Buffer;
  /** AUDIT_CANONICAL_SQL of the row, as the database serializes it (UTC). */
  readonly canonical: string;
}

/** An exported chain head: the chain's last position and hash when the export ran. */
export interface ChainHead {
  readonly chainId: string;
  readonly seq: number;
  /** Hex. */
  readonly hash: string;
  readonly login: string;
}

export type BreakKind =
  /** The row's stored hash is not the hash of its content and previous hash: the row was changed. */
  | 'altered'
  /** The row's previous hash is not the hash of the row before it: a row before it was replaced. */
  | 'broken-link'
  /** Positions from `seq` on are missing before the row at `id`: rows were deleted. */
  | 'missing'
  /** A second row at a position (possible only once the unique index is gone): a row was inserted. */
  | 'duplicate'
  /** The row was written by another login than the chain's earlier rows: it was spliced in. */
  | 'login-changed'
  /** An exported head's position no longer exists: the chain's later rows were deleted. */
  | 'head-missing'
  /** An exported head's position holds another hash: the chain was rewritten up to there. */
  | 'head-mismatch'
  /** A row with no chain at all: inserted with the chain trigger off and the NOT NULL constraints dropped. */
  | 'unchained';

/** The first broken link of one chain, at its position: chain, sequence number and row id (if a row is there). */
export interface ChainBreak {
  readonly kind: BreakKind;
  readonly chainId: string;
  readonly seq: number;
  /** The row at (or, for `missing`, right after) the position; absent for head-missing. */
  readonly id?: string;
  readonly detail: string;
}

export interface VerifyReport {
  readonly chains: number;
  readonly rows: number;
  /** Exported heads checked against the table. */
  readonly headsChecked: number;
  /** The first break of each broken chain, in row id order. */
  readonly breaks: readonly ChainBreak[];
  /** The last position and hash of every chain (what an export records). */
  readonly heads: readonly ChainHead[];
}

export function rowHash(prev: Buffer, canonical: string): Buffer {
  return createHash('sha256').update(prev).update(canonical, 'utf8').digest();
}

/** Walks rows sorted by chain, then position, one chain at a time, and keeps each chain's first break. */
export class ChainVerifier {
  private rows = 0;
  private readonly breaks: ChainBreak[] = [];
  private readonly heads: ChainHead[] = [];
  private current?: { chainId: string; login: string; seq: number; hash: Buffer; broken: boolean };

  add(row: ChainRow): void {
    this.rows++;
    const c = this.current;
    if (!c || c.chainId !== row.chainId) {
      if (c) this.closeChain();
      this.current = { chainId: row.chainId, login: row.login, seq: 0, hash: GENESIS, broken: false };
    }
    const chain = this.current!;
    const problem = chain.broken ? undefined : this.check(chain, row);
    if (problem) {
      chain.broken = true;
      this.breaks.push({ chainId: row.chainId, ...problem });
    }
    chain.seq = row.seq;
    chain.hash = row.hash;
  }

  /** The report, after every row was added; exported heads (from the last export) are checked against the rows' positions. */
  finish(exported: readonly ChainHead[] = [], stored: ReadonlyMap<string, Buffer> = new Map()): VerifyReport {
    if (this.current) this.closeChain();
    const known = new Map(this.heads.map((h) => [h.chainId, h]));
    for (const head of exported) {
      if (this.breaks.some((b) => b.chainId === head.chainId)) continue;
      const last = known.get(head.chainId);
      if (!last || last.seq < head.seq) {
        this.breaks.push({
          kind: 'head-missing',
          chainId: head.chainId,
          seq: head.seq,
          detail: `the exported head at position ${head.seq} is gone (the chain ${last ? `ends at ${last.seq}` : 'has no rows'}): rows were deleted`,
        });
        continue;
      }
      const hash = stored.get(`${head.chainId}:${head.seq}`);
      if (!hash || hash.toString('hex') !== head.hash) {
        this.breaks.push({
          kind: 'head-mismatch',
          chainId: head.chainId,
          seq: head.seq,
          detail: `position ${head.seq} no longer has the exported hash: the chain was rewritten up to there`,
        });
      }
    }
    const byId = (b: ChainBreak) => (b.id === undefined ? Number.MAX_SAFE_INTEGER : Number(b.id));
    return {
      chains: this.heads.length,
      rows: this.rows,
      headsChecked: exported.length,
      breaks: [...this.breaks].sort((a, b) => byId(a) - byId(b)),
      heads: this.heads,
    };
  }

  private check(chain: NonNullable<ChainVerifier['current']>, row: ChainRow): Omit<ChainBreak, 'chainId'> | undefined {
    const at = { seq: row.seq, id: row.id };
    if (row.seq === chain.seq)
      return { kind: 'duplicate', ...at, detail: `a second row at position ${row.seq}: a row was inserted into the chain` };
    if (row.seq !== chain.seq + 1)
      return {
        kind: 'missing',
        seq: chain.seq + 1,
        id: row.id,
        detail: `positions ${chain.seq + 1}${row.seq - 1 > chain.seq + 1 ? `-${row.seq - 1}` : ''} are missing before row ${row.id}: rows were deleted`,
      };
    if (!row.prev.equals(chain.hash))
      return {
        kind: 'broken-link',
        ...at,
        detail: `row ${row.id} does not link to the row before it: that row was replaced or the chain re-linked`,
      };
    if (!rowHash(row.prev, row.canonical).equals(row.hash))
      return { kind: 'altered', ...at, detail: `row ${row.id} does not match its hash: its content was changed` };
    if (row.login !== chain.login)
      return {
        kind: 'login-changed',
        ...at,
        detail: `row ${row.id} was written by another login than the chain's earlier rows: it was spliced in`,
      };
    return undefined;
  }

  private closeChain(): void {
    const c = this.current!;
    this.heads.push({ chainId: c.chainId, seq: c.seq, hash: c.hash.toString('hex'), login: c.login });
  }
}

const PAGE = 5_000;
const FIRST_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * Reads every chain in one consistent snapshot (REPEATABLE READ, read only) page by page and verifies it,
 * then checks the exported heads. Rows without chain columns (possible only with the NOT NULL constraints
 * dropped) are reported as a break of their own.
 */
export async function verifyAuditChains(
  pool: Pool,
  exported: readonly ChainHead[] = [],
  onProgress?: (rows: number) => void,
): Promise<VerifyReport> {
  const guarded = await checkout(pool);
  const { client } = guarded;
  let failure: unknown;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // The canonical form spells timestamps in the session's zone: the trigger hashed them in UTC.
    await client.query("SET LOCAL TimeZone = 'UTC'");
    const verifier = new ChainVerifier();
    // Keyed on the row id too: a position taken twice (a forged row) must not fall between two pages.
    let after: [string, string, string] = [FIRST_UUID, '0', '0'];
    let rows = 0;
    for (;;) {
      const page = await client.query<{
        id: string;
        chain_login: string;
        chain_id: string;
        chain_seq: string;
        chain_prev: Buffer;
        chain_hash: Buffer;
        canonical: string;
      }>(
        `SELECT id::text, chain_login, chain_id::text, chain_seq::text, chain_prev, chain_hash, ${AUDIT_CANONICAL_SQL('a')} AS canonical
         FROM audit_event a WHERE (chain_id, chain_seq, id) > ($1::uuid, $2::bigint, $3::bigint) ORDER BY a.chain_id, a.chain_seq, a.id LIMIT ${PAGE}`,
        after,
      );
      for (const r of page.rows) {
        verifier.add({
          id: r.id,
          login: r.chain_login,
          chainId: r.chain_id,
          seq: Number(r.chain_seq),
          prev: r.chain_prev,
          hash: r.chain_hash,
          canonical: r.canonical,
        });
      }
      rows += page.rows.length;
      onProgress?.(rows);
      if (page.rows.length < PAGE) break;
      const last = page.rows[page.rows.length - 1];
      after = [last.chain_id, last.chain_seq, last.id];
    }
    const stored = new Map<string, Buffer>();
    if (exported.length > 0) {
      const { rows: at } = await client.query<{ chain_id: string; chain_seq: string; chain_hash: Buffer }>(
        `SELECT chain_id::text, chain_seq::text, chain_hash FROM audit_event
         WHERE (chain_id, chain_seq) IN (SELECT * FROM unnest($1::uuid[], $2::bigint[]))`,
        [exported.map((h) => h.chainId), exported.map((h) => String(h.seq))],
      );
      for (const r of at) stored.set(`${r.chain_id}:${r.chain_seq}`, r.chain_hash);
    }
    const report = verifier.finish(exported, stored);
    const unchained = await client.query<{ id: string }>(
      'SELECT id::text FROM audit_event WHERE chain_id IS NULL OR chain_seq IS NULL OR chain_hash IS NULL OR chain_prev IS NULL ORDER BY audit_event.id LIMIT 1',
    );
    await client.query('COMMIT');
    if (unchained.rows.length === 0) return report;
    const id = unchained.rows[0].id;
    const orphan: ChainBreak = {
      kind: 'unchained',
      chainId: 'none',
      seq: 0,
      id,
      detail: `row ${id} carries no chain: it was inserted with the chain trigger disabled`,
    };
    return { ...report, breaks: [...report.breaks, orphan].sort((a, b) => Number(a.id ?? Infinity) - Number(b.id ?? Infinity)) };
  } catch (error) {
    failure = error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    guarded.release(failure);
  }
}

/** One line per break, first first: what broke and where (chain, position, row id). */
export function describeBreak(b: ChainBreak): string {
  return `${b.kind} in chain ${b.chainId} at position ${b.seq}${b.id !== undefined ? ` (row id ${b.id})` : ''}: ${b.detail}`;
}

/** Checks a heads document read back from the archive; anything else is refused with the reason. */
export function parseHeads(text: string, where: string): ChainHead[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where} is not JSON: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  const heads = (doc as { heads?: unknown })?.heads;
  const valid = (h: unknown): h is ChainHead => {
    const x = h as Partial<ChainHead>;
    return (
      typeof x?.chainId === 'string' &&
      /^[0-9a-f-]{36}$/.test(x.chainId) &&
      Number.isSafeInteger(x.seq) &&
      (x.seq as number) >= 1 &&
      typeof x.hash === 'string' &&
      /^[0-9a-f]{64}$/.test(x.hash) &&
      typeof x.login === 'string'
    );
  };
  if (!Array.isArray(heads) || !heads.every(valid)) throw new Error(`${where} has no valid "heads" list of {chainId, seq, hash, login}`);
  return heads;
}

/** What one export writes to the archive: the heads of the chains that advanced since the export before the previous one. */
export interface HeadsExport {
  readonly exportedAt: string;
  /** Rows with an id above this were read (the previous export's previousMaxId: one export of overlap for transactions still open). */
  readonly fromId: string;
  /** The largest row id this export saw. */
  readonly maxId: string;
  /** The previous export's maxId: the next export reads from here. */
  readonly previousMaxId: string;
  readonly heads: readonly ChainHead[];
}

/**
 * The heads of every chain with a row above `fromId`, reading only the id and chain columns (what the
 * auditor login may read). A head covers its whole chain up to it: any later change below it is caught.
 */
export async function readHeads(pool: Pool, fromId: string): Promise<{ heads: ChainHead[]; maxId: string }> {
  const { rows } = await pool.query<{ chain_id: string; chain_seq: string; chain_hash: Buffer; chain_login: string }>(
    `SELECT DISTINCT ON (chain_id) chain_id::text, chain_seq::text, chain_hash, chain_login
     FROM audit_event WHERE id > $1::bigint ORDER BY chain_id, chain_seq DESC`,
    [fromId],
  );
  const max = await pool.query<{ max: string | null }>('SELECT max(id)::text AS max FROM audit_event');
  return {
    heads: rows.map((r) => ({ chainId: r.chain_id, seq: Number(r.chain_seq), hash: r.chain_hash.toString('hex'), login: r.chain_login })),
    maxId: max.rows[0].max ?? '0',
  };
}

/** The next export after `previous` (undefined: the first, which reads every chain). */
export async function nextHeadsExport(pool: Pool, previous: HeadsExport | undefined, now: Date): Promise<HeadsExport> {
  const fromId = previous?.previousMaxId ?? '0';
  const { heads, maxId } = await readHeads(pool, fromId);
  return { exportedAt: now.toISOString(), fromId, maxId, previousMaxId: previous?.maxId ?? '0', heads };
}

/**
 * Several exports as one list of heads to check: every exported position once (an earlier head of a chain
 * still counts: a chain rewritten between two exports matches the later head but not the earlier one).
 */
export function mergeHeads(exports: readonly (readonly ChainHead[])[]): ChainHead[] {
  const merged = new Map<string, ChainHead>();
  for (const heads of exports) for (const h of heads) merged.set(`${h.chainId}:${h.seq}:${h.hash}`, h);
  return [...merged.values()];
}
