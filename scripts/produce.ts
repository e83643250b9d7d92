/**
 * Puts FHIR records on a stream: PutRecords in batches of 500, partition key = patient id,
 * re-sending only the records the stream refused (throttling), with backoff.
 *
 *   npx ts-node --transpile-only scripts/produce.ts --stream hipaa-fhir-records-local --endpoint http://127.0.0.1:4567 --records 1000 --invalid 10
 *
 * Without --endpoint it writes to the real stream in AWS_REGION with the default credentials.
 */
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { createKinesisClient } from '../lib/processor/kinesis/client';
import { backoffDelay, sleep } from '../lib/processor/retry';
import { invalidSamples, prng, SampleRecord, validSamples } from './fhir-samples';

export async function putRecords(client: KinesisClient, streamName: string, records: readonly SampleRecord[], onProgress?: (sent: number) => void): Promise<void> {
  let sent = 0;
  for (let i = 0; i < records.length; i += 500) {
    let pending = records.slice(i, i + 500);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(backoffDelay(attempt, 100, 2_000));
      const out = await client.send(new PutRecordsCommand({ StreamName: streamName, Records: pending.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })) }));
      const refused = pending.filter((_, j) => out.Records?.[j]?.ErrorCode);
      sent += pending.length - refused.length;
      pending = refused;
    }
    onProgress?.(sent);
  }
}

/** Valid records with invalid ones spread evenly among them. */
export function sampleMix(valid: number, invalid: number, runId: string, seed = 1): SampleRecord[] {
  const good = validSamples(valid, { runId, seed });
  const bad = invalidSamples(invalid, prng(seed + 1), 262_144, runId);
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

function flag(argv: string[], name: string, fallback?: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
}

async function main(argv: string[]): Promise<void> {
  const stream = flag(argv, 'stream');
  if (!stream) throw new Error('--stream is required');
  const records = sampleMix(Number(flag(argv, 'records', '1000')), Number(flag(argv, 'invalid', '0')), flag(argv, 'run-id', `run${Date.now()}`)!);
  const client = createKinesisClient({ region: process.env.AWS_REGION ?? 'eu-west-2', kinesisEndpoint: flag(argv, 'endpoint') });
  await putRecords(client, stream, records, (sent) => process.stdout.write(`\rsent ${sent}/${records.length}`));
  process.stdout.write('\n');
  client.destroy();
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(`produce: ${(error as Error).message}`);
    process.exit(1);
  });
}
