/**
 * Puts FHIR records on a stream: PutRecords in batches of 500, partition key = patient id,
 * re-sending only the records the stream refused (throttling), with backoff, at most
 * `maxAttempts` times per batch.
 *
 *   npx ts-node --transpile-only scripts/local/produce.ts --stream hipaa-fhir-records-local --endpoint http://127.0.0.1:4567 --records 1000 --invalid 10
 *
 * Without --endpoint it writes to the real stream in AWS_REGION with the default credentials.
 */
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { appSettings } from '../../lib/config';
import { createKinesisClient } from '../../lib/processor/service/kinesis-client';
import { backoffDelay, sleep } from '../../lib/processor/retry';
import { parseFlags, progressPrinter, runCli, UsageError } from '../shared/cli';
import { invalidSamples, prng, SampleRecord, validSamples } from '../shared/fhir-samples';

export async function putRecords(
  client: KinesisClient,
  streamName: string,
  records: readonly SampleRecord[],
  onProgress?: (sent: number) => void,
  maxAttempts = 10,
): Promise<void> {
  let sent = 0;
  for (let i = 0; i < records.length; i += 500) {
    let pending = records.slice(i, i + 500);
    let lastErrors: string[] = [];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= maxAttempts) {
        const codes = [...new Set(lastErrors)].join(', ');
        throw new Error(
          `the stream refused ${pending.length} record(s) ${maxAttempts} times (${codes}); ${sent} of ${records.length} were sent`,
        );
      }
      if (attempt > 0) await sleep(backoffDelay(attempt, 100, 2_000));
      const out = await client.send(
        new PutRecordsCommand({ StreamName: streamName, Records: pending.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })) }),
      );
      const refused = pending.filter((_, j) => out.Records?.[j]?.ErrorCode);
      lastErrors = (out.Records ?? []).flatMap((r) => (r.ErrorCode ? [r.ErrorCode] : []));
      sent += pending.length - refused.length;
      pending = refused;
    }
    onProgress?.(sent);
  }
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
