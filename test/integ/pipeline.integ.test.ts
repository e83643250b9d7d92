/**
 * Proves a deployed (or local) environment works: valid and invalid FHIR records put on the
 * stream are persisted once, quarantined with the right reason, and audited. Reads only
 * cfn-outputs/flat-outputs.json (and AWS credentials from the environment).
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { RunSummary } from '../../lib/processor/tasks/verify/main';
import { createKinesisClient } from '../../lib/processor/service/kinesis-client';
import { putRecords, sampleMix } from '../../scripts/local/produce';
import { isLocal, readFlatOutputs } from './outputs';
import { EcsVerifier, LocalVerifier, Verifier } from './verifiers';
import { waitForRun } from './wait';

const outputs = readFlatOutputs();
const local = isLocal(outputs);
const VALID = 200;
const INVALID = 18;
const runId = `integ-${Date.now().toString(36)}`;

/** A failed verify task is retried (up to three in a row), not the end of the run. */
function until(verifier: Verifier, done: (s: RunSummary) => boolean, timeoutMs: number): Promise<RunSummary> {
  return waitForRun(() => verifier.verify(runId), done, {
    timeoutMs,
    intervalMs: local ? 500 : 15_000,
    onRetry: (error, n) => console.warn(`verification failed (${n} in a row), retrying: ${error.message}`),
  });
}

describe(`environment ${outputs.EnvironmentSuffix}: records in, persisted, quarantined, audited`, () => {
  let kinesis: KinesisClient;
  let verifier: Verifier;
  const records = sampleMix(VALID, INVALID, runId, Date.now() % 10_000);

  beforeAll(() => {
    kinesis = createKinesisClient({ region: outputs.AwsRegion, kinesisEndpoint: outputs.KinesisEndpoint });
    verifier = local ? new LocalVerifier(outputs) : new EcsVerifier(outputs);
  });
  afterAll(async () => {
    kinesis?.destroy();
    await verifier?.close();
  });

  test('every valid record is persisted once with its audit event; every invalid one is quarantined with its reason', async () => {
    await putRecords(kinesis, outputs.StreamName, records);
    const summary = await until(
      verifier,
      (s) => s.history >= VALID && Object.values(s.quarantined).reduce((a, b) => a + b, 0) >= INVALID,
      local ? 60_000 : 600_000,
    );
    expect(summary.history).toBe(VALID);
    expect(summary.current).toBe(VALID);
    expect(summary.duplicates).toBe(0);
    expect(summary.quarantined).toEqual({
      INFLATED_TOO_LARGE: 2,
      INVALID_FHIR: 6,
      NOT_A_RESOURCE: 2,
      NOT_JSON: 2,
      NOT_UTF8: 2,
      UNSTORABLE: 2,
      UNSUPPORTED_RESOURCE_TYPE: 2,
    });
    expect(summary.audit.written).toBe(VALID);
    expect(
      Object.entries(summary.audit)
        .filter(([k]) => k !== 'written')
        .reduce((a, [, n]) => a + n, 0),
    ).toBe(INVALID);
  });

  test('records sent again are stored once and audited as duplicates', async () => {
    await putRecords(kinesis, outputs.StreamName, records.filter((r) => r.expect.kind === 'valid').slice(0, 50));
    const summary = await until(verifier, (s) => (s.audit.duplicate ?? 0) >= 50, local ? 60_000 : 600_000);
    expect(summary.audit.duplicate).toBe(50);
    expect(summary.history).toBe(VALID);
    expect(summary.duplicates).toBe(0);
  });
});
