import { Client } from 'pg';
import { loadConfig, ProcessorConfig } from '../../lib/processor/config';
import { LocalKinesis, LocalPostgres, processorEnv } from '../../scripts/local-stack';

export { createStream, freePort, processorEnv, spawnTs, startKinesis, startPostgres } from '../../scripts/local-stack';
export type { LocalKinesis, LocalPostgres } from '../../scripts/local-stack';

export { putRecords } from '../../scripts/produce';

/** The same settings as a processor child process gets (processorEnv), for one in this process. */
export function processorConfig(pg: LocalPostgres, kinesis: LocalKinesis, streamName: string, overrides: Partial<ProcessorConfig> = {}): ProcessorConfig {
  return { ...loadConfig(processorEnv(pg, kinesis, streamName, 'test-worker')), ...overrides };
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
