import { Client } from 'pg';
import { startStack, TestStack } from './harness';

jest.setTimeout(120_000);

/** In AWS the service's own login may not change the schema: the migration task does it first. */
describe('migrations at start-up follow DB_MIGRATE_ON_START', () => {
  let stack: TestStack;
  let db: Client;
  const stream = 'hipaa-fhir-records-startup';
  const migrationsTable = async () =>
    (await db.query("SELECT to_regclass('public.schema_migrations')::text AS t")).rows[0].t as string | null;

  beforeAll(async () => {
    stack = await startStack();
    db = stack.db;
    await stack.createStream(stream, 1);
  });
  afterAll(() => stack?.stop());

  test('false: the service starts without touching the schema', async () => {
    const processor = await stack.startProcessor(stream, { config: { migrateOnStart: false } });
    try {
      expect(await migrationsTable()).toBeNull();
    } finally {
      await processor.shutdown();
    }
  });

  test('true (the local default): migrations are applied before the service starts', async () => {
    const processor = await stack.startProcessor(stream);
    try {
      expect(await migrationsTable()).toBe('schema_migrations');
      const versions = (await db.query('SELECT version FROM schema_migrations ORDER BY 1')).rows.map((r) => r.version);
      expect(versions).toContain(10);
    } finally {
      await processor.shutdown();
    }
  });
});
