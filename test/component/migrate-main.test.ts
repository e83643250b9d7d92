import { Writable } from 'stream';
import type { Pool } from 'pg';
import { loadMigrationConfig } from '../../lib/processor/config';
import { PROCESSOR_DB_USER, WRITER_ROLE } from '../../lib/processor/db/schema';
import { createLogger } from '../../lib/processor/logger';
import { runMigrations } from '../../lib/processor/db/migrate';
import { databaseEnv, LocalPostgres, startPostgres } from '../../scripts/local/stack';

const silent = () => createLogger('migrate-test', 'silent', new Writable({ write: (_c, _e, cb) => cb() }));

// What the one-off migration task (lib/constructs/database-migration.ts) runs, against real PostgreSQL.
describe('migrate-main (the one-off migration task)', () => {
  let pg: LocalPostgres;
  const env = () => databaseEnv(pg);

  beforeAll(async () => {
    pg = await startPostgres();
  }, 180_000);
  afterAll(async () => {
    await pg?.stop();
  });

  test('needs no stream, and always logs in with the password it is given', () => {
    const config = loadMigrationConfig({ ...env(), DB_IAM_AUTH: 'true' });
    expect(config.db).toMatchObject({ user: 'postgres', iamAuth: false, password: pg.password });
  });

  test("migration 10 creates the processor's own login, a member of the writer role with nothing more, on a server without rds_iam", async () => {
    const applied = await runMigrations(loadMigrationConfig(env()), silent());
    expect(applied).toContain(10);
    const c = await pg.client();
    try {
      const role = await c.query<{
        rolcanlogin: boolean;
        rolsuper: boolean;
        rolcreaterole: boolean;
        rolcreatedb: boolean;
        writer: boolean;
      }>(
        `SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, pg_has_role($1, $2, 'MEMBER') AS writer FROM pg_roles WHERE rolname = $1`,
        [PROCESSOR_DB_USER, WRITER_ROLE],
      );
      expect(role.rows).toEqual([{ rolcanlogin: true, rolsuper: false, rolcreaterole: false, rolcreatedb: false, writer: true }]);
      // As the processor (SET ROLE stands in for its IAM login here): reads and writes through the
      // writer role, changes no schema, and RESET ROLE gains it nothing.
      await c.query(`SET ROLE ${PROCESSOR_DB_USER}`);
      await expect(c.query('SELECT count(*) FROM fhir_resource_current')).resolves.toBeDefined();
      await expect(c.query('CREATE TABLE sneaky (x int)')).rejects.toThrow(/permission denied/);
      await expect(c.query('DELETE FROM fhir_resource_history')).rejects.toThrow(/permission denied/);
      await c.query('RESET ROLE');
    } finally {
      await c.end();
    }
    // Applied once: a second run finds nothing to do.
    await expect(runMigrations(loadMigrationConfig(env()), silent())).resolves.toEqual([]);
  }, 120_000);

  test('a database that is not reachable yet is retried; any other error ends the task', async () => {
    let opened = 0;
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const fakePool = (error: Error) =>
      ({
        connect: async () => {
          opened++;
          throw error;
        },
        end: async () => undefined,
      }) as unknown as Pool;
    await expect(runMigrations(loadMigrationConfig(env()), silent(), () => fakePool(refused), 3)).rejects.toThrow('ECONNREFUSED');
    expect(opened).toBe(3);
    opened = 0;
    await expect(
      runMigrations(loadMigrationConfig(env()), silent(), () => fakePool(new Error('syntax error at or near "x"')), 3),
    ).rejects.toThrow('syntax error');
    expect(opened).toBe(1);
  }, 60_000);
});
