/**
 * The audit_event hash chains (migration 14) and their verifier against real PostgreSQL 16: a forged,
 * altered or deleted row is reported at its position (chain, sequence number, row id). Every scenario
 * tampers with its own copy (CREATE DATABASE ... TEMPLATE) of one clean history.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client, Pool } from 'pg';
import { main as auditVerify } from '../../scripts/operations/audit-verify';
import { ChainHead, VerifyReport } from '../../lib/processor/db/audit-chain';
import { migrate } from '../../lib/processor/db/migrate';
import { AUDIT_CANONICAL_SQL, MIGRATIONS, WRITER_ROLE } from '../../lib/processor/db/schema';
import { verifyRun } from '../../lib/processor/tasks/verify/main';
import { auditChains, copyOfFhir, LocalPostgres, startPostgres } from './harness';

jest.setTimeout(180_000);

const CHAIN_MIGRATION = 13;
const INSERT = `INSERT INTO audit_event (actor, action, outcome, stream_name, detail) VALUES ($1, 'persist', 'written', 's', $2)`;

interface Row {
  id: string;
  actor: string;
  chain_id: string;
  chain_seq: string;
  chain_login: string;
}

describe('audit_event hash chains (migration 14) and the verifier', () => {
  let pg: LocalPostgres;
  let copies = 0;
  /** The clean history's rows, in id order. */
  let rows: Row[];

  const verify = (database: string, heads: readonly ChainHead[] = []): Promise<VerifyReport> => auditChains(pg, database, heads);

  /** A copy of the clean history and an owner session in it. */
  const copy = () => copyOfFhir(pg, `tampered_${++copies}`);

  const chainOf = (actorPrefix: string) => rows.filter((r) => r.actor.startsWith(actorPrefix));

  beforeAll(async () => {
    pg = await startPostgres();
    const migrator = new Pool({ ...pg.settings(), max: 1 });
    await migrate(
      migrator,
      MIGRATIONS.filter((m) => m.version < CHAIN_MIGRATION),
    );
    const admin = await pg.client();
    // Written before the chains existed: migration 14 chains them in id order.
    for (let i = 1; i <= 3; i++) await admin.query(INSERT, [`before-${i}`, null]);
    await migrate(migrator);
    await migrator.end();

    // Two writer connections at once, interleaved: each keeps a chain of its own.
    const a = new Client(pg.settings({ role: WRITER_ROLE }));
    const b = new Client(pg.settings({ role: WRITER_ROLE }));
    await a.connect();
    await b.connect();
    for (let i = 1; i <= 5; i++) {
      await a.query(INSERT, [`a-${i}`, null]);
      await b.query(INSERT, [`b-${i}`, i % 2 ? null : 'with a detail']);
    }
    // A rolled-back transaction takes its rows and its links back: the next row follows a-5.
    await a.query('BEGIN');
    await a.query(INSERT, ['a-rolled-back', null]);
    await a.query('ROLLBACK');
    // Several rows in one statement, as the batch write inserts them.
    await a.query(
      `INSERT INTO audit_event (actor, action, outcome, stream_name) SELECT 'a-' || i, 'persist', 'written', 's' FROM generate_series(6, 8) i`,
    );
    await a.end();
    await b.end();
    // A real writer: the verify task's audited read.
    const pool = new Pool({ ...pg.settings({ role: WRITER_ROLE }), max: 1 });
    await verifyRun(pool, 'chain-run', 'verify-test/verify', 's');
    await pool.end();
    rows = (
      await admin.query<Row>(
        'SELECT id::text, actor, chain_id::text, chain_seq::text, chain_login FROM audit_event ORDER BY audit_event.id',
      )
    ).rows;
    await admin.end();
  });

  afterAll(async () => {
    await pg?.stop();
  });

  test('a clean history verifies: older rows form one chain, each connection its own, a rollback leaves no gap', async () => {
    const report = await verify('fhir');
    expect(report.breaks).toEqual([]);
    expect(report.rows).toBe(3 + 8 + 5 + 1);
    expect(report.chains).toBe(4);
    expect(chainOf('before-').map((r) => Number(r.chain_seq))).toEqual([1, 2, 3]);
    expect(chainOf('a-').map((r) => Number(r.chain_seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(new Set(chainOf('a-').map((r) => r.chain_id)).size).toBe(1);
    expect(chainOf('b-')[0].chain_id).not.toBe(chainOf('a-')[0].chain_id);
    // The login is the server's session user, whatever the row's actor says.
    expect(new Set(rows.map((r) => r.chain_login))).toEqual(new Set(['postgres']));
    expect(report.heads.find((h) => h.chainId === chainOf('a-')[0].chain_id)).toMatchObject({ seq: 8, login: 'postgres' });
  });

  test('the writer role cannot change or delete a row, nor choose its chain values', async () => {
    const writer = new Client(pg.settings({ role: WRITER_ROLE }));
    await writer.connect();
    try {
      await expect(writer.query("UPDATE audit_event SET actor = 'x' WHERE id = $1", [rows[4].id])).rejects.toThrow(
        /permission denied|append-only/,
      );
      await expect(writer.query('DELETE FROM audit_event WHERE id = $1', [rows[4].id])).rejects.toThrow(/permission denied|append-only/);
      const { rows: forged } = await writer.query<{ chain_seq: string; chain_login: string }>(
        `INSERT INTO audit_event (actor, action, outcome, stream_name, chain_login, chain_id, chain_seq, chain_prev, chain_hash)
         VALUES ('admin', 'persist', 'written', 's', 'someone-else', $1, 2, '\\x00', '\\x00') RETURNING chain_seq::text, chain_login`,
        [chainOf('a-')[0].chain_id],
      );
      expect(forged).toEqual([{ chain_seq: '1', chain_login: 'postgres' }]);
    } finally {
      await writer.end();
    }
  });

  test('an altered row is reported at its position', async () => {
    const { database, owner } = await copy();
    const target = chainOf('b-')[2];
    // The owner can do what the writer cannot: switch the append-only trigger off.
    await owner.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
    await owner.query("UPDATE audit_event SET outcome = 'duplicate' WHERE id = $1", [target.id]);
    await owner.end();
    const report = await verify(database);
    expect(report.breaks).toEqual([
      { kind: 'altered', chainId: target.chain_id, seq: 3, id: target.id, detail: expect.stringContaining('content was changed') },
    ]);
  });

  test('npm run audit:verify -- --suffix local: exit 1 and the break with its position; exit 0 on an intact copy', async () => {
    const { database, owner } = await copy();
    const target = chainOf('a-')[1];
    await owner.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
    await owner.query("UPDATE audit_event SET actor = 'someone-else' WHERE id = $1", [target.id]);
    await owner.end();
    const dir = mkdtempSync(join(tmpdir(), 'audit-verify-'));
    try {
      const outputs = (db: string) => {
        const file = join(dir, `${db}.json`);
        const s = pg.settings();
        writeFileSync(
          file,
          JSON.stringify({
            EnvironmentSuffix: 'local',
            StreamName: 's',
            DatabaseEndpointAddress: s.host,
            DatabaseEndpointPort: String(s.port),
            DatabaseName: db,
            LocalDatabaseUser: s.user,
            LocalDatabasePassword: s.password,
          }),
        );
        return file;
      };
      const lines: string[] = [];
      expect(await auditVerify(['--suffix', 'local', '--outputs', outputs(database)], { print: (l) => lines.push(l) })).toBe(1);
      expect(lines).toContain(
        `BROKEN altered in chain ${target.chain_id} at position 2 (row id ${target.id}): row ${target.id} does not match its hash: its content was changed`,
      );
      const clean: string[] = [];
      expect(await auditVerify(['--suffix', 'local', '--outputs', outputs('fhir')], { print: (l) => clean.push(l) })).toBe(0);
      expect(clean.at(-1)).toMatch(/^intact: \d+ rows in \d+ chains$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a deleted row is reported at its position, and the next row is named', async () => {
    const { database, owner } = await copy();
    const chain = chainOf('a-');
    await owner.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
    await owner.query('DELETE FROM audit_event WHERE id = $1', [chain[3].id]);
    await owner.end();
    const report = await verify(database);
    expect(report.breaks).toEqual([{ kind: 'missing', chainId: chain[0].chain_id, seq: 4, id: chain[4].id, detail: expect.any(String) }]);
  });

  test('a deleted first row is reported at position 1', async () => {
    const { database, owner } = await copy();
    const chain = chainOf('before-');
    await owner.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
    await owner.query('DELETE FROM audit_event WHERE id = $1', [chain[0].id]);
    await owner.end();
    expect((await verify(database)).breaks).toEqual([
      { kind: 'missing', chainId: chain[0].chain_id, seq: 1, id: chain[1].id, detail: expect.any(String) },
    ]);
  });

  test('a forged row the owner inserts with the chain trigger off is reported at its position', async () => {
    const { database, owner } = await copy();
    const chain = chainOf('a-');
    await owner.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_chain');
    const { rows: forged } = await owner.query<{ id: string }>(
      `INSERT INTO audit_event (actor, action, outcome, stream_name, chain_login, chain_id, chain_seq, chain_prev, chain_hash)
       SELECT 'fhir-processor-1', 'persist', 'written', 's', chain_login, chain_id, chain_seq + 1, chain_hash, sha256('made up')
       FROM audit_event WHERE id = $1 RETURNING id::text`,
      [chain[7].id],
    );
    await owner.end();
    expect((await verify(database)).breaks).toEqual([
      { kind: 'altered', chainId: chain[0].chain_id, seq: 9, id: forged[0].id, detail: expect.any(String) },
    ]);
  });

  test('a forged row with a valid link and hash, inserted into the middle of a chain, is reported at its position', async () => {
    const { database, owner } = await copy();
    const chain = chainOf('b-');
    // The unique index refuses a second row at a position: the forger must drop it first.
    await expect(
      owner.query(
        `INSERT INTO audit_event (actor, action, outcome, stream_name) SELECT 'x', 'persist', 'written', 's'
         FROM (SELECT set_config('audit_chain.head', chain_id || ':1:' || encode(chain_hash, 'hex'), false) FROM audit_event WHERE id = $1) s`,
        [chain[0].id],
      ),
    ).rejects.toThrow(/audit_event_chain_position/);
    await owner.query('RESET audit_chain.head');
    await owner.query('DROP INDEX audit_event_chain_position');
    await owner.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_chain');
    await owner.query("SET TimeZone = 'UTC'");
    const { rows: forged } = await owner.query<{ id: string }>(
      `WITH f AS (
         INSERT INTO audit_event (actor, action, outcome, stream_name, chain_login, chain_id, chain_seq, chain_prev, chain_hash)
         SELECT 'fhir-processor-1', 'read', 'verify', 's', chain_login, chain_id, 3, chain_hash, '\\x00' FROM audit_event WHERE id = $1
         RETURNING *)
       SELECT id::text FROM f`,
      [chain[1].id],
    );
    // Its own hash made right, as a forger who knows the algorithm would.
    await owner.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
    await owner.query(
      `UPDATE audit_event a SET chain_hash = sha256(chain_prev || convert_to(${AUDIT_CANONICAL_SQL('a')}, 'UTF8')) WHERE id = $1`,
      [forged[0].id],
    );
    await owner.end();
    expect((await verify(database)).breaks).toEqual([
      { kind: 'duplicate', chainId: chain[0].chain_id, seq: 3, id: forged[0].id, detail: expect.any(String) },
    ]);
  });

  test('a row another login splices into a chain (INSERT with any actor) is reported at its position', async () => {
    const { database, owner } = await copy();
    await owner.query(`CREATE ROLE intruder LOGIN PASSWORD 'intruder-local-only' IN ROLE ${WRITER_ROLE}`);
    await owner.end();
    const chain = chainOf('a-');
    const intruder = new Client({ host: '127.0.0.1', port: pg.port, user: 'intruder', password: 'intruder-local-only', database });
    await intruder.connect();
    await intruder.query(`SET ROLE ${WRITER_ROLE}`);
    // It reads the victim chain's head and sets it as its own, so the trigger links its row there.
    await intruder.query(
      `SELECT set_config('audit_chain.head', chain_id || ':' || chain_seq || ':' || encode(chain_hash, 'hex'), false) FROM audit_event WHERE id = $1`,
      [chain[7].id],
    );
    const { rows: forged } = await intruder.query<{ id: string }>(`${INSERT} RETURNING id::text`, ['fhir-processor-1', null]);
    await intruder.end();
    expect((await verify(database)).breaks).toEqual([
      { kind: 'login-changed', chainId: chain[0].chain_id, seq: 9, id: forged[0].id, detail: expect.any(String) },
    ]);
  });

  test('a chain rewritten to hide a deletion verifies by itself, and is caught by the exported heads', async () => {
    const { heads } = await verify('fhir');
    const { database, owner } = await copy();
    const chain = chainOf('a-');
    // Delete row 4, then renumber and re-link rows 5-8 as a forger with the owner's rights would.
    await owner.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
    await owner.query("SET TimeZone = 'UTC'");
    await owner.query('DELETE FROM audit_event WHERE id = $1', [chain[3].id]);
    for (const row of chain.slice(4)) {
      await owner.query(
        `UPDATE audit_event a SET chain_seq = chain_seq - 1,
           chain_prev = (SELECT chain_hash FROM audit_event p WHERE p.chain_id = a.chain_id AND p.chain_seq = a.chain_seq - 2) WHERE id = $1`,
        [row.id],
      );
      await owner.query(
        `UPDATE audit_event a SET chain_hash = sha256(chain_prev || convert_to(${AUDIT_CANONICAL_SQL('a')}, 'UTF8')) WHERE id = $1`,
        [row.id],
      );
    }
    await owner.end();
    expect((await verify(database)).breaks).toEqual([]);
    expect((await verify(database, heads)).breaks).toEqual([
      { kind: 'head-missing', chainId: chain[0].chain_id, seq: 8, detail: expect.stringContaining('ends at 7') },
    ]);
  });

  test('a deleted last row is caught by the exported heads', async () => {
    const { heads } = await verify('fhir');
    const { database, owner } = await copy();
    const chain = chainOf('b-');
    await owner.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
    await owner.query('DELETE FROM audit_event WHERE id = $1', [chain[4].id]);
    await owner.end();
    expect((await verify(database)).breaks).toEqual([]);
    expect((await verify(database, heads)).breaks).toEqual([
      { kind: 'head-missing', chainId: chain[0].chain_id, seq: 5, detail: expect.any(String) },
    ]);
  });
});
