/**
 * The read API against real PostgreSQL, with records stored by the real processor: what it serves
 * over HTTP, that every request leaves one audit event, and that its login (fhir_api) reaches exactly
 * current and history for reading and audit_event for appending.
 */
import type { Server } from 'http';
import { Client, Pool } from 'pg';
import { apiServer } from '../../lib/processor/api/server';
import { ApiService, createApiService, loadApiConfig } from '../../lib/processor/api/service';
import { API_DB_USER } from '../../lib/processor/db/schema';
import { patient, prng, SampleRecord, validSamples } from '../../scripts/shared/fhir-samples';
import { counts, databaseEnv, putRecords, startStack, TestStack, waitFor } from './harness';

jest.setTimeout(120_000);

const STREAM = 'hipaa-fhir-records-readapi';
const ACTOR = 'arn:aws:sts::111122223333:assumed-role/hipaa-fhir-reader-test/alice';

describe('read API: served from current and history, every request audited, its login least privilege', () => {
  let stack: TestStack;
  let db: Client;
  let service: ApiService;
  let server: Server;
  let base: string;
  const records = validSamples(60, { runId: 'ra', patients: 3 });
  // A second version of patient ra-p0, so history and vread have two versions.
  const v2 = patient('ra-p0', 2, new Date('2026-11-02T00:00:00Z'), prng(7));
  const update: SampleRecord = {
    partitionKey: 'ra-p0',
    data: Buffer.from(JSON.stringify(v2)),
    expect: { kind: 'valid', key: 'Patient/ra-p0' },
  };

  beforeAll(async () => {
    stack = await startStack();
    db = stack.db;
    await stack.createStream(STREAM, 1);
    await stack.startProcessor(STREAM);
    await putRecords(stack.kinesis.client, STREAM, records);
    await waitFor('the records stored', async () => ((await counts(db)).history >= 60 ? true : undefined));
    await putRecords(stack.kinesis.client, STREAM, [update]);
    await waitFor('the update stored', async () => ((await counts(db)).history >= 61 ? true : undefined));
    service = createApiService(loadApiConfig({ ...databaseEnv(stack.pg), LOG_LEVEL: 'silent' }));
    server = apiServer(service, ACTOR);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await service?.close();
    await stack?.stop();
  });

  const apiAudit = async () =>
    (
      await db.query(
        `SELECT actor, action, outcome, resource_type, resource_id, version_id, detail, result_count FROM audit_event WHERE action LIKE 'api-%' ORDER BY id`,
      )
    ).rows;

  test('$everything of a patient returns every stored resource of that patient once, over all pages, each page audited', async () => {
    const before = (await apiAudit()).length;
    const expected = (
      await db.query(`SELECT resource_type || '/' || resource_id AS key FROM fhir_resource_current WHERE patient_id = 'ra-p1'`)
    ).rows
      .map((r) => r.key)
      .sort();
    expect(expected.length).toBeGreaterThan(10);
    const seen: string[] = [];
    let url: string | undefined = `${base}/Patient/ra-p1/$everything?_count=7`;
    let pages = 0;
    while (url) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
      const bundle = (await res.json()) as {
        type: string;
        entry: { resource: { resourceType: string; id: string } }[];
        link: { relation: string; url: string }[];
      };
      expect(bundle.type).toBe('searchset');
      seen.push(...bundle.entry.map((e) => `${e.resource.resourceType}/${e.resource.id}`));
      url = bundle.link.find((l) => l.relation === 'next')?.url;
      pages++;
    }
    expect(seen[0]).toBe('Patient/ra-p1');
    expect([...seen].sort()).toEqual(expected);
    const audit = (await apiAudit()).slice(before);
    expect(audit).toHaveLength(pages);
    expect(audit.every((a) => a.actor === ACTOR && a.action === 'api-everything' && a.resource_id === 'ra-p1')).toBe(true);
    expect(audit.reduce((n, a) => n + a.result_count, 0)).toBe(expected.length);
  });

  test('read returns the stored text with ETag and Last-Modified; history has both versions; vread the first', async () => {
    const read = await fetch(`${base}/Patient/ra-p0`);
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe('W/"2"');
    expect(read.headers.get('last-modified')).toBe('Mon, 02 Nov 2026 00:00:00 GMT');
    const stored = (
      await db.query(`SELECT resource::text AS t FROM fhir_resource_current WHERE resource_type = 'Patient' AND resource_id = 'ra-p0'`)
    ).rows[0].t;
    expect(await read.text()).toBe(stored);

    const history = (await (await fetch(`${base}/Patient/ra-p0/_history`)).json()) as {
      type: string;
      entry: { resource: { meta: { versionId: string } } }[];
    };
    expect(history.type).toBe('history');
    expect(history.entry.map((e) => e.resource.meta.versionId)).toEqual(['2', '1']);

    const vread = await fetch(`${base}/Patient/ra-p0/_history/1`);
    expect([vread.status, vread.headers.get('etag')]).toEqual([200, 'W/"1"']);
  });

  test('search by patient returns that type only', async () => {
    const res = await fetch(`${base}/Observation?patient=Patient/ra-p2&_count=1000`);
    const bundle = (await res.json()) as { entry: { resource: { resourceType: string } }[] };
    const stored = (
      await db.query(`SELECT count(*)::int AS n FROM fhir_resource_current WHERE patient_id = 'ra-p2' AND resource_type = 'Observation'`)
    ).rows[0].n;
    expect(bundle.entry.length).toBe(stored);
    expect(new Set(bundle.entry.map((e) => e.resource.resourceType))).toEqual(new Set(['Observation']));
  });

  test('refused and unknown requests get an OperationOutcome and are audited', async () => {
    const before = (await apiAudit()).length;
    const cases: [string, RequestInit, number][] = [
      ['/Patient/nobody', {}, 404],
      ['/Patient/ra-p0', { method: 'DELETE' }, 405],
      ['/Observation?patient=ra-p0&_count=abc', {}, 400],
      ['/Organization/o1', {}, 404],
    ];
    for (const [path, init, status] of cases) {
      const res = await fetch(`${base}${path}`, init);
      expect([path, res.status]).toEqual([path, status]);
      expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    }
    const audit = (await apiAudit()).slice(before);
    expect(audit.map((a) => [a.outcome, a.detail.split(':')[0]])).toEqual([
      ['not-found', 'status 404'],
      ['refused', 'status 405'],
      ['refused', 'status 400'],
      ['not-found', 'status 404'],
    ]);
  });

  describe(`${API_DB_USER}: its grants`, () => {
    let api: Pool;
    beforeAll(() => {
      api = new Pool({ ...stack.pg.settings({ role: API_DB_USER }), max: 1 });
    });
    afterAll(() => api?.end());

    test('reads current and history, and nothing else', async () => {
      await expect(api.query('SELECT count(*) FROM fhir_resource_current')).resolves.toBeDefined();
      await expect(api.query('SELECT count(*) FROM fhir_resource_history')).resolves.toBeDefined();
      for (const table of [
        'quarantined_record',
        'audit_event',
        'shard_checkpoint',
        'shard_lease',
        'processor_worker',
        'schema_migrations',
      ]) {
        await expect(api.query(`SELECT 1 FROM ${table} LIMIT 1`)).rejects.toThrow(`permission denied for table ${table}`);
      }
    });

    test('writes no resource and changes no audit event', async () => {
      for (const sql of [
        `INSERT INTO fhir_resource_current (resource_type, resource_id, patient_id, resource) VALUES ('Patient', 'x', 'x', '{}')`,
        `UPDATE fhir_resource_current SET patient_id = 'x'`,
        `DELETE FROM fhir_resource_history`,
        `UPDATE audit_event SET actor = 'x'`,
        `DELETE FROM audit_event`,
      ]) {
        await expect(api.query(sql)).rejects.toThrow(/permission denied/);
      }
    });

    test('appends audit events with its own columns only: not their time, id or stream position', async () => {
      await expect(api.query(`INSERT INTO audit_event (actor, action, outcome) VALUES ('a', 'api-read', 'read')`)).resolves.toBeDefined();
      await expect(
        api.query(
          `INSERT INTO audit_event (actor, action, outcome, occurred_at) VALUES ('a', 'api-read', 'read', now() - interval '1 day')`,
        ),
      ).rejects.toThrow('permission denied');
      await expect(
        api.query(`INSERT INTO audit_event (actor, action, outcome, stream_name) VALUES ('a', 'persist', 'written', 's')`),
      ).rejects.toThrow('permission denied');
    });

    test('is a login of its own, not a member of the writer role', async () => {
      const { rows } = await db.query(
        `SELECT rolcanlogin, pg_has_role($1, 'fhir_writer', 'MEMBER') AS writer FROM pg_roles WHERE rolname = $1`,
        [API_DB_USER],
      );
      expect(rows).toEqual([{ rolcanlogin: true, writer: false }]);
    });
  });
});
