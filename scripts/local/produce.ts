/**
 * Puts synthetic FHIR records (valid, with invalid ones among them) on a stream through
 * sendRecords (scripts/operations/send.ts); `npm run send` sends files.
 *
 *   npx ts-node --transpile-only scripts/local/produce.ts --stream hipaa-fhir-records-local --endpoint http://127.0.0.1:4567 --records 1000 --invalid 10
 *
 * Without --endpoint it writes to the real stream in AWS_REGION with the default credentials.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { appSettings } from '../../lib/config';
import { createKinesisClient } from '../../lib/processor/service/kinesis-client';
import { parseFlags, progressPrinter, runCli, UsageError } from '../shared/cli';
import { invalidSamples, prng, SampleRecord, validSamples } from '../shared/fhir-samples';
import { sendRecords } from '../operations/send';

/** sendRecords (scripts/operations/send.ts) for the samples: the tests and the local run send through the same code. */
export async function putRecords(
  client: KinesisClient,
  streamName: string,
  records: readonly SampleRecord[],
  onProgress?: (sent: number) => void,
  maxAttempts = 10,
): Promise<void> {
  await sendRecords(client, streamName, records, { onProgress, maxAttempts });
}

/** Valid records with invalid ones spread evenly among them. */
export function sampleMix(valid: number, invalid: number, runId: string, seed = 1): SampleRecord[] {
  const good = validSamples(valid, { runId, seed });
  const bad = invalidSamples(invalid, prng(seed + 1), runId);
  const out: SampleRecord[] = [];
  const every = bad.length > 0 ? Math.max(1, Math.floor(good.length / bad.length)) : Infinity;
  let b = 0;
  good.forEach((g, i) => {
    out.push(g);
    if ((i + 1) % every === 0 && b < bad.length) out.push(bad[b++]);
  });
  while (b < bad.length) out.push(bad[b++]);
  return out;
}

const USAGE = `usage: npx ts-node --transpile-only scripts/local/produce.ts --stream NAME [--endpoint URL] [--records 1000] [--invalid 0] [--run-id ID]
  without --endpoint it writes to the real stream in AWS_REGION with the default credentials`;

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseFlags(argv, {
    stream: { type: 'string' },
    endpoint: { type: 'string' },
    records: { type: 'integer', default: 1_000 },
    invalid: { type: 'integer', default: 0 },
    'run-id': { type: 'string' },
  });
  if (!parsed) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { stream, endpoint, records: valid, invalid } = parsed.flags;
  if (!stream) throw new UsageError('--stream is required');
  const records = sampleMix(valid, invalid, parsed.flags['run-id'] ?? `run${Date.now()}`);
  const client = createKinesisClient({ region: process.env.AWS_REGION ?? appSettings().region, kinesisEndpoint: endpoint });
  const progress = progressPrinter();
  try {
    await putRecords(client, stream, records, (sent) => progress.update(`sent ${sent}/${records.length}`));
  } finally {
    progress.done();
    client.destroy();
  }
  return 0;
}

if (require.main === module) runCli('produce', USAGE, () => main(process.argv.slice(2)));
