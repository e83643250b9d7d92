import { Client } from 'pg';
import type { ProcessorConfig } from '../../lib/processor/config';
import type { LocalKinesis, LocalPostgres } from '../../scripts/local-stack';

export { createStream, freePort, processorEnv, spawnTs, startKinesis, startPostgres } from '../../scripts/local-stack';
export type { LocalKinesis, LocalPostgres } from '../../scripts/local-stack';

export { putRecords } from '../../scripts/produce';

export function processorConfig(pg: LocalPostgres, kinesis: LocalKinesis, streamName: string, overrides: Partial<ProcessorConfig> = {}): ProcessorConfig {
  return {
    streamName,
    region: 'eu-west-2',
    kinesisEndpoint: kinesis.endpoint,
    db: { host: '127.0.0.1', port: pg.port, database: 'fhir', user: 'postgres', password: pg.password, iamAuth: false, sslMode: 'disable', caBundlePath: '' },
    workerId: 'test-worker',
    maxRecordBytes: 262_144,
    leaseTtlMs: 2_000,
    pollIntervalMs: 20,
    getRecordsLimit: 2_000,
    healthPort: 0,
    ...overrides,
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export async function counts(c: Client): Promise<{ history: number; current: number; quarantined: number; audit: number }> {
  const { rows } = await c.query(`SELECT (SELECT count(*) FROM fhir_resource_history)::int AS history, (SELECT count(*) FROM fhir_resource_current)::int AS current,
    (SELECT count(*) FROM quarantined_record)::int AS quarantined, (SELECT count(*) FROM audit_event)::int AS audit`);
  return rows[0];
}
