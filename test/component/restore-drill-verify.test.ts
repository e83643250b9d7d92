/**
 * The restore drill's verify step against real PostgreSQL 16 (embedded): migration 12's login and
 * function, and the restored-vs-live comparison. The "restore" is a copy of the database made with
 * CREATE DATABASE ... TEMPLATE at a known point, after which the live database receives more writes,
 * as it does while RDS restores.
 */
import { Writable } from 'stream';
import { Client } from 'pg';
import { loadMigrationConfig } from '../../lib/processor/config';
import { DRILL_DB_USER, PROCESSOR_DB_USER, RESTORE_DRILL_FUNCTION } from '../../lib/processor/db/schema';
import { createLogger } from '../../lib/processor/logger';
import { runMigrations } from '../../lib/processor/db/migrate';
import { compareSummaries, querySummary } from '../../lib/processor/tasks/restore-drill/verify';
import { databaseEnv, LocalPostgres, startPostgres } from './harness';

jest.setTimeout(180_000);

const DRILL_PASSWORD = 'drill-local-only';
const CUTOFF = new Date('2026-11-22T02:51:29Z');
const STARTED = new Date('2026-11-22T03:00:07Z');

/** n rows per table, timestamps one minute apart ending at `last` (an ISO time). */
async function write(c: Client, from: number, n: number, last: string, runId: string): Promise<void> {
  const args = [from, n, last, runId];
  const ts = `($3::timestamptz - (($1 + $2 - 1 - i) * interval '1 minute'))`;
  await c.query(
    `INSERT INTO fhir_resource_history (resource_type, resource_id, version_id, last_updated, patient_id, resource, stream_name, shard_id, sequence_number, ingested_at, content_hash)
    SELECT 'Patient', $4 || '-' || i, '1', now(), 'p' || i, '{"resourceType":"Patient"}', 's', 'shard-0', i::text, ${ts}, sha256(($4 || i)::bytea) FROM generate_series($1::int, $1 + $2 - 1) AS i`,
    args,
  );
  await c.query(
    `INSERT INTO fhir_resource_current (resource_type, resource_id, version_id, last_updated, patient_id, resource, updated_at)
    SELECT 'Patient', $4 || '-' || i, '1', now(), 'p' || i, '{"resourceType":"Patient"}', ${ts} FROM generate_series($1::int, $1 + $2 - 1) AS i`,
    args,
  );
  await c.query(
    `INSERT INTO audit_event (actor, action, outcome, resource_type, resource_id, stream_name, shard_id, sequence_number, occurred_at)
    SELECT 'test', 'persist', 'written', 'Patient', $4 || '-' || i, 's', 'shard-0', i::text, ${ts} FROM generate_series($1::int, $1 + $2 - 1) AS i`,
    args,
  );
}

describe('restore drill verify (migration 12, real PostgreSQL)', () => {
  let pg: LocalPostgres;
  let admin: Client;
  const drill = async (database: string) => {
    const c = new Client({ host: '127.0.0.1', port: pg.port, user: DRILL_DB_USER, password: DRILL_PASSWORD, database });
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    pg = await startPostgres();
    const quiet = createLogger('drill-verify-test', 'silent', new Writable({ write: (_c, _e, cb) => cb() }));
    await runMigrations(loadMigrationConfig(databaseEnv(pg)), quiet);
    admin = await pg.client();
    // No rds_iam locally: the drill login gets a password here, as the test's stand-in for its IAM token.
    await admin.query(`ALTER ROLE ${DRILL_DB_USER} PASSWORD '${DRILL_PASSWORD}'`);
    // Before the restore point: 60 rows per table, the last at 02:50; a quarantined record at 01:00.
    await write(admin, 1, 60, '2026-11-22T02:50:00Z', 'before');
    await admin.query(`INSERT INTO quarantined_record (stream_name, shard_id, sequence_number, partition_key, reason_code, detail, payload, received_at)
      VALUES ('s', 'shard-0', 'q1', 'p1', 'NOT_JSON', 'not JSON', '\\x00', '2026-11-22T01:00:00Z')`);
    // Two writes between the cutoff (02:51:29) and the restore point, that the copy has and the comparison ignores.
    await write(admin, 61, 2, '2026-11-22T02:55:00Z', 'before');
    await admin.end();
    // The "restore": a copy of the database as it is now (no session may be connected to the template).
    const server = new Client(pg.settings({ database: 'postgres' }));
    await server.connect();
    await server.query('CREATE DATABASE restored TEMPLATE fhir');
    await server.end();
    admin = await pg.client();
    // The live database goes on: an update of an old current row, and new rows after the restore point.
    await admin.query(`UPDATE fhir_resource_current SET updated_at = '2026-11-22T02:58:00Z' WHERE resource_id = 'before-1'`);
    await write(admin, 100, 5, '2026-11-22T02:59:40Z', 'after');
  });

  afterAll(async () => {
    await admin?.end();
    await pg?.stop();
  });

  test('the drill login can call the summary function and nothing else: no table, no other role', async () => {
    const c = await drill('fhir');
    try {
      for (const table of [
        'fhir_resource_history',
        'fhir_resource_current',
        'quarantined_record',
        'audit_event',
        'shard_checkpoint',
        'shard_lease',
        'schema_migrations',
      ]) {
        await expect(c.query(`SELECT * FROM ${table} LIMIT 1`)).rejects.toThrow(/permission denied/);
      }
      await expect(c.query('SET ROLE fhir_writer')).rejects.toThrow(/permission denied/);
      await expect(c.query(`SET ROLE ${PROCESSOR_DB_USER}`)).rejects.toThrow(/permission denied/);
      const roles = await c.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = current_user',
      );
      expect(roles.rows).toEqual([{ n: 0 }]);
      // Aggregates only: the function's result has exactly these columns.
      const result = await c.query(`SELECT * FROM ${RESTORE_DRILL_FUNCTION}($1, $2)`, [CUTOFF, STARTED]);
      expect(result.fields.map((f) => f.name)).toEqual(['table_name', 'row_count', 'rows_to_cutoff', 'newest_as_of']);
    } finally {
      await c.end();
    }
    // EXECUTE was revoked from PUBLIC: the processor's login (or any other) cannot call it.
    await admin.query(`SET ROLE ${PROCESSOR_DB_USER}`);
    try {
      await expect(admin.query(`SELECT * FROM ${RESTORE_DRILL_FUNCTION}(now(), now())`)).rejects.toThrow(/permission denied for function/);
    } finally {
      await admin.query('RESET ROLE');
    }
  });

  test('restored copy and live database agree up to the cutoff; the RPO is the window from the newest restored row to the start', async () => {
    const [restoredClient, liveClient] = [await drill('restored'), await drill('fhir')];
    try {
      const restored = await querySummary(restoredClient, CUTOFF, STARTED);
      const live = await querySummary(liveClient, CUTOFF, STARTED);
      // In the function's order; the two rows written after the cutoff are in the copy but not compared.
      expect(restored).toEqual([
        { table: 'fhir_resource_history', rows: 62, rowsToCutoff: 60, newestAsOf: new Date('2026-11-22T02:55:00Z') },
        { table: 'fhir_resource_current', rows: 62, rowsToCutoff: 60, newestAsOf: new Date('2026-11-22T02:55:00Z') },
        { table: 'quarantined_record', rows: 1, rowsToCutoff: 1, newestAsOf: new Date('2026-11-22T01:00:00Z') },
        { table: 'audit_event', rows: 62, rowsToCutoff: 60, newestAsOf: new Date('2026-11-22T02:55:00Z') },
      ]);
      // Live: 5 more rows per table; one current row updated after the cutoff counts as later there.
      expect(live.map((t) => [t.table, t.rows, t.rowsToCutoff, t.newestAsOf?.toISOString()])).toEqual([
        ['fhir_resource_history', 67, 60, '2026-11-22T02:59:40.000Z'],
        ['fhir_resource_current', 67, 59, '2026-11-22T02:59:40.000Z'],
        ['quarantined_record', 1, 1, '2026-11-22T01:00:00.000Z'],
        ['audit_event', 67, 60, '2026-11-22T02:59:40.000Z'],
      ]);
      const comparison = compareSummaries(restored, live, { cutoff: CUTOFF, startedAt: STARTED });
      expect(comparison.problems).toEqual([]);
      expect(comparison.ok).toBe(true);
      // Writes after 02:55 exist live, so a loss at 03:00:07 would have cost them: 307 s.
      expect(comparison.rpoSeconds).toBe(307);
      // Rows written after the drill started do not count towards the live side's newest row.
      const asOfEarlier = await querySummary(liveClient, CUTOFF, new Date('2026-11-22T02:55:30Z'));
      expect(compareSummaries(restored, asOfEarlier, { cutoff: CUTOFF, startedAt: new Date('2026-11-22T02:55:30Z') }).rpoSeconds).toBe(0);
    } finally {
      await Promise.all([restoredClient.end(), liveClient.end()]);
    }
  });

  test('a restored copy that lost a row before the cutoff fails the comparison, naming the table and both counts', async () => {
    const server = new Client(pg.settings({ database: 'postgres' }));
    await server.connect();
    await server.query('CREATE DATABASE damaged TEMPLATE restored');
    await server.end();
    const damaged = new Client(pg.settings({ database: 'damaged' }));
    await damaged.connect();
    try {
      // History is append-only (a trigger refuses DELETE): only a replica-role session can lose a row.
      await damaged.query("SET session_replication_role = replica; DELETE FROM fhir_resource_history WHERE resource_id = 'before-7'");
    } finally {
      await damaged.end();
    }
    const [d, l] = [await drill('damaged'), await drill('fhir')];
    try {
      const comparison = compareSummaries(await querySummary(d, CUTOFF, STARTED), await querySummary(l, CUTOFF, STARTED), {
        cutoff: CUTOFF,
        startedAt: STARTED,
      });
      expect(comparison.ok).toBe(false);
      expect(comparison.problems).toEqual([
        'fhir_resource_history: 59 rows up to 2026-11-22T02:51:29.000Z in the restored copy, 60 in the live database',
      ]);
    } finally {
      await Promise.all([d.end(), l.end()]);
    }
  });

  test('fhir_resource_current: more rows in the restore than live, or fewer untouched since the cutoff, are refused', () => {
    const t = (table: string, rows: number, rowsToCutoff: number) => ({ table, rows, rowsToCutoff });
    const base = [t('fhir_resource_history', 10, 10), t('quarantined_record', 0, 0), t('audit_event', 10, 10)];
    const found = compareSummaries([...base, t('fhir_resource_current', 12, 8)], [...base, t('fhir_resource_current', 11, 9)], {
      cutoff: CUTOFF,
      startedAt: STARTED,
    });
    expect(found.problems).toEqual([
      'fhir_resource_current: 12 rows in the restored copy, more than the 11 of the live database',
      'fhir_resource_current: 8 rows last written up to 2026-11-22T02:51:29.000Z in the restored copy, fewer than the 9 of the live database',
    ]);
    // Empty on both sides: nothing to lose, RPO 0.
    const empty = [
      t('fhir_resource_history', 0, 0),
      t('quarantined_record', 0, 0),
      t('audit_event', 0, 0),
      t('fhir_resource_current', 0, 0),
    ];
    expect(compareSummaries(empty, empty, { cutoff: CUTOFF, startedAt: STARTED })).toMatchObject({ ok: true, rpoSeconds: 0 });
  });
});
