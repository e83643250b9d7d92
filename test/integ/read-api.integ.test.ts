/**
 * Reads back through the FHIR read API what this suite wrote to the stream: Patient/$everything
 * returns every resource of the patient, read and search answer as FHIR does, and (locally, where
 * the suite can see the database) each request left one audit event. In AWS the requests are
 * SigV4-signed as the environment's reader role.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { createKinesisClient } from '../../lib/processor/service/kinesis-client';
import { putRecords } from '../../scripts/local/produce';
import { ReadApiClient } from '../../scripts/shared/read-api-client';
import { validSamples } from '../../scripts/shared/fhir-samples';
import { isLocal, readFlatOutputs } from './outputs';
import { localPool } from './verifiers';
import { waitForRun } from './wait';

const outputs = readFlatOutputs();
const local = isLocal(outputs);
const runId = `read-${Date.now().toString(36)}`;
// One patient and 40 resources in its compartment, sent as the record format requires.
const records = validSamples(41, { runId, patients: 1 });
const patientId = `${runId}-p0`;
// expect.key is type/id/version: the resource key is its first two parts.
const keys = records.map((r) => (r.expect.kind === 'valid' ? r.expect.key.split('/').slice(0, 2).join('/') : '')).sort();

describe(`environment ${outputs.EnvironmentSuffix}: what was written is read back through the FHIR read API`, () => {
  let kinesis: KinesisClient;
  let api: ReadApiClient;

  beforeAll(async () => {
    if (!outputs.ReadApiUrl)
      throw new Error('the flat outputs have no ReadApiUrl: deploy the compute stack, or run npm run local -- --keep');
    kinesis = createKinesisClient({ region: outputs.AwsRegion, kinesisEndpoint: outputs.KinesisEndpoint });
    api = new ReadApiClient(
      local ? { url: outputs.ReadApiUrl } : { url: outputs.ReadApiUrl, region: outputs.AwsRegion, roleArn: outputs.ReaderRoleArn },
    );
    await putRecords(kinesis, outputs.StreamName, records);
  });
  afterAll(() => kinesis?.destroy());

  test('Patient/$everything returns every resource of the patient, once, across pages', async () => {
    // 404 until the processor has stored the first resource of the patient.
    const everything = async () =>
      (await api.get(`Patient/${patientId}/$everything?_count=1`)).status === 404
        ? []
        : api.all(`Patient/${patientId}/$everything?_count=15`);
    const entries = await waitForRun(everything, (e) => e.length >= records.length, {
      timeoutMs: local ? 60_000 : 600_000,
      intervalMs: local ? 500 : 10_000,
      onRetry: (error) => console.warn(`read failed, retrying: ${error.message}`),
    });
    expect(entries.map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort()).toEqual(keys);
    expect(entries[0].resource.resourceType).toBe('Patient');
  });

  test('read answers FHIR JSON with ETag and Last-Modified; an unknown id is a 404 OperationOutcome', async () => {
    const read = await api.get(`Patient/${patientId}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    expect(read.headers.get('etag')).toBe('W/"1"');
    expect(read.headers.get('last-modified')).toBeTruthy();
    const missing = await api.get(`Patient/${runId}-nobody`);
    expect([missing.status, JSON.parse(missing.text).resourceType]).toEqual([404, 'OperationOutcome']);
  });

  (local ? test : test.skip)('each request left one audit event with its caller, keys and count', async () => {
    const pool = localPool(outputs);
    try {
      const { rows } = await pool.query(
        `SELECT action, outcome, result_count FROM audit_event WHERE action = 'api-read' AND resource_type = 'Patient' AND resource_id = $1`,
        [patientId],
      );
      expect(rows).toEqual([{ action: 'api-read', outcome: 'read', result_count: 1 }]);
      const pages = (
        await pool.query(
          `SELECT sum(result_count)::int AS n FROM audit_event WHERE action = 'api-everything' AND resource_id = $1 AND outcome = 'read'`,
          [patientId],
        )
      ).rows[0].n;
      expect(pages).toBeGreaterThanOrEqual(records.length);
    } finally {
      await pool.end();
    }
  });
});
