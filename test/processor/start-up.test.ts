import { Writable } from 'stream';
import { Client } from 'pg';
import { createLogger } from '../../lib/processor/logger';
import { startProcessor } from '../../lib/processor/main';
import { NoMetrics } from '../../lib/processor/metrics';
import { createStream, LocalKinesis, LocalPostgres, processorConfig, startKinesis, startPostgres } from './harness';

jest.setTimeout(120_000);

/** In AWS the service's own login may not change the schema: the migration task does it first. */
describe('migrations at start-up follow DB_MIGRATE_ON_START', () => {
  let pg: LocalPostgres;
  let kinesis: LocalKinesis;
  let db: Client;
  const stream = 'hipaa-fhir-records-startup';
  const quiet = () => createLogger('startup-test', 'error', new Writable({ write(_c, _e, cb) { cb(); } }));
  const migrationsTable = async () => (await db.query("SELECT to_regclass('public.schema_migrations')::text AS t")).rows[0].t as string | null;

  beforeAll(async () => {
    [pg, kinesis] = await Promise.all([startPostgres(), startKinesis()]);
    await createStream(kinesis.client, stream, 1);
    db = await pg.client();
  });

  afterAll(async () => {
    await db?.end();
    await Promise.all([kinesis?.stop(), pg?.stop()]);
  });

  test('false: the service starts without touching the schema', async () => {
    const processor = await startProcessor(processorConfig(pg, kinesis, stream, { migrateOnStart: false }), quiet(), new NoMetrics());
    try {
      expect(await migrationsTable()).toBeNull();
    } finally {
      await processor.shutdown();
    }
  });

  test('true (the local default): migrations are applied before the service starts', async () => {
    const processor = await startProcessor(processorConfig(pg, kinesis, stream), quiet(), new NoMetrics());
    try {
      expect(await migrationsTable()).toBe('schema_migrations');
      const versions = (await db.query('SELECT version FROM schema_migrations ORDER BY 1')).rows.map((r) => r.version);
      expect(versions).toContain(10);
    } finally {
      await processor.shutdown();
    }
  });
});
