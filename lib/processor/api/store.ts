/**
 * The read API's database side: the ReadStore over fhir_resource_current and fhir_resource_history,
 * and its audit event, all as parameterised statements. Resources come back as their stored text
 * (`resource::text`), which respond.ts splices in unchanged.
 */
import type { PoolClient } from 'pg';
import type { ReadAuditEvent } from './handler';
import type { ReadStore, StoredResource } from './respond';

interface Row {
  resource_type: string;
  resource_id: string;
  version_id: string | null;
  modified: Date;
  text: string;
}

const toResource = (r: Row): StoredResource => ({
  type: r.resource_type,
  id: r.resource_id,
  versionId: r.version_id,
  lastModified: r.modified,
  text: r.text,
});

const CURRENT_COLUMNS = 'resource_type, resource_id, version_id, coalesce(last_updated, updated_at) AS modified, resource::text AS text';
const HISTORY_COLUMNS = 'resource_type, resource_id, version_id, coalesce(last_updated, ingested_at) AS modified, resource::text AS text';
/** Newest first: the order fhir_is_newer decides current by (lastUpdated, then arrival). */
const NEWEST_FIRST = 'last_updated DESC NULLS LAST, sequence_number::numeric DESC, entry_index DESC, ingested_at DESC';

export function pgReadStore(client: PoolClient): ReadStore {
  const rows = async (name: string, text: string, values: unknown[]) =>
    (await client.query<Row>({ name, text, values })).rows.map(toResource);
  return {
    async current(type, id) {
      const found = await rows(
        'api-current',
        `SELECT ${CURRENT_COLUMNS} FROM fhir_resource_current WHERE resource_type = $1 AND resource_id = $2`,
        [type, id],
      );
      return found[0];
    },
    async version(type, id, vid) {
      const found = await rows(
        'api-version',
        `SELECT ${HISTORY_COLUMNS} FROM fhir_resource_history WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3
         ORDER BY ${NEWEST_FIRST} LIMIT 1`,
        [type, id, vid],
      );
      return found[0];
    },
    history(type, id, limit, offset) {
      return rows(
        'api-history',
        `SELECT ${HISTORY_COLUMNS} FROM fhir_resource_history WHERE resource_type = $1 AND resource_id = $2
         ORDER BY ${NEWEST_FIRST} LIMIT $3 OFFSET $4`,
        [type, id, limit, offset],
      );
    },
    compartment(patient, type, limit, offset) {
      return rows(
        'api-compartment',
        `SELECT ${CURRENT_COLUMNS} FROM fhir_resource_current WHERE patient_id = $1 AND ($2::text IS NULL OR resource_type = $2)
         ORDER BY resource_type <> 'Patient', resource_type, resource_id LIMIT $3 OFFSET $4`,
        [patient, type ?? null, limit, offset],
      );
    },
  };
}

/**
 * The one write of the read API: one audit_event row per request. Only these columns are granted
 * to the API's login (migration "read API login"); occurred_at and the id are the table's own.
 */
export async function insertReadAudit(client: PoolClient, event: ReadAuditEvent): Promise<void> {
  await client.query({
    name: 'api-audit',
    text: `INSERT INTO audit_event (actor, action, outcome, resource_type, resource_id, version_id, detail, result_count)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    values: [
      event.actor,
      event.action,
      event.outcome,
      event.resourceType ?? null,
      event.resourceId ?? null,
      event.versionId ?? null,
      event.detail,
      event.count,
    ],
  });
}
