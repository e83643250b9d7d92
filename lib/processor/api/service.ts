/**
 * The read API's process-wide parts, shared by the Lambda function (lambda.ts) and the local HTTP
 * server (server.ts): configuration, the pool of its own login, one transaction per request.
 */
import type { Pool } from 'pg';
import { API_DB_USER } from '../../contract/processor';
import { loadConfig, ProcessorConfig } from '../config';
import { createPool, transaction } from '../db/pool';
import { createLogger, Logger } from '../logger';
import type { ReadTransaction, RequestLog } from './handler';
import { insertReadAudit, pgReadStore } from './store';

/** The DB_* variables the processor reads (docs/processor.md), and LOG_LEVEL; no stream. */
export function loadApiConfig(env: Readonly<Record<string, string | undefined>>): ProcessorConfig {
  return loadConfig({ STREAM_NAME: 'unused-by-the-read-api', ...env, DB_MIGRATE_ON_START: 'false' });
}

export interface ApiService {
  readonly transaction: ReadTransaction;
  readonly log: (fields: RequestLog & { requestId?: string; ms: number }) => void;
  readonly logger: Logger;
  close(): Promise<void>;
}

export function createApiService(config: ProcessorConfig, pool?: Pool): ApiService {
  // Every session works as fhir_api: its own login in AWS (SET ROLE to oneself is always allowed),
  // the superuser dropping to it locally, so the grants of migration 13 hold in both.
  const db = pool ?? createPool(config, { asWriter: false, role: API_DB_USER, max: 2, applicationName: 'fhir-read-api' });
  const logger = createLogger('read-api', config.logLevel);
  return {
    transaction: (work) =>
      transaction(db, (client) => work(pgReadStore(client), (event) => insertReadAudit(client, event)), { keepsSession: () => false }),
    // Interaction, status and counts only: never a path, an id or a query parameter.
    log: (fields) => logger.info(fields, 'request'),
    logger,
    close: () => db.end(),
  };
}
