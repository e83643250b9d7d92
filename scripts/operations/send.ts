/**
 * Puts FHIR records on an environment's stream, as the record format requires: one resource or
 * Bundle per record, partition key = its patient id (the processor's own derivation).
 *
 *   npm run send -- --suffix dev patient.json bundle.json export/Observation.ndjson
 *   npm run send -- --suffix local synthea/*.json          (the stack of npm run local -- --keep)
 *
 * A JSON file is one record (a resource or a Bundle); any other file is NDJSON, one record per line.
 * PutRecords carries at most 500 records and 5 MiB (partition keys included); a larger record goes
 * alone through PutRecord. Only the entries the stream refused are sent again, with backoff, a
 * bounded number of times. Progress goes to stderr. In AWS it uses the default credentials: assume
 * the environment's producer role (ProducerRoleArn) first.
 */
import { readFileSync } from 'fs';
import { join, resolve } from 'path';
import { KinesisClient, PutRecordCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { Naming } from '../../lib/contract';
import { validateRecord } from '../../lib/processor/fhir/validate';
import { backoffDelay, sleep } from '../../lib/processor/retry';
import { createKinesisClient } from '../../lib/processor/service/kinesis-client';
import { InputError, parseFlags, progressPrinter, runCli, UsageError } from '../shared/cli';
import { commandTarget, environmentSuffix } from '../shared/target';
import { readOutputs } from './redrive';

/** What PutRecords accepts in one request (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html). */
export const PUT_RECORDS_LIMITS = { records: 500, bytes: 5 * 1024 * 1024 } as const;
/** A stream's default maximum record size (partition key included); `--max-record-kib` for a stream raised to more. */
const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

export interface OutgoingRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/** A record's size as Kinesis counts it: data and partition key. */
const sizeOf = (r: OutgoingRecord) => r.data.byteLength + Buffer.byteLength(r.partitionKey, 'utf8');

/** Requests in order: PutRecords batches within the limits, and a record over the request limit on its own. */
export function planRequests<R extends OutgoingRecord>(records: readonly R[]): R[][] {
  const out: R[][] = [];
  let batch: R[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = sizeOf(r);
    if (batch.length > 0 && (batch.length === PUT_RECORDS_LIMITS.records || bytes + size > PUT_RECORDS_LIMITS.bytes)) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(r);
    bytes += size;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

export interface SendOptions {
  /** Called after each request with the records accepted so far. */
  readonly onProgress?: (sent: number) => void;
  /** Attempts per request before giving up. @default 10 */
  readonly maxAttempts?: number;
  /** @default the real clock */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Sends every record, re-sending only the entries the stream refused (throttling), with bounded backoff. */
export async function sendRecords(
  client: KinesisClient,
  streamName: string,
  records: readonly OutgoingRecord[],
  options: SendOptions = {},
): Promise<number> {
  const maxAttempts = options.maxAttempts ?? 10;
  const pause = options.sleep ?? sleep;
  let sent = 0;
  for (const request of planRequests(records)) {
    let pending = request;
    let lastErrors: string[] = [];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= maxAttempts) {
        const codes = [...new Set(lastErrors)].join(', ');
        throw new Error(
          `the stream refused ${pending.length} record(s) ${maxAttempts} times (${codes}); ${sent} of ${records.length} were sent`,
        );
      }
      if (attempt > 0) await pause(backoffDelay(attempt, 100, 2_000));
      if (pending.length === 1 && sizeOf(pending[0]) > PUT_RECORDS_LIMITS.bytes) {
        // Only PutRecord carries a record over PutRecords' 5 MiB (a stream raised to up to 10 MiB); its throttling is thrown, not reported.
        try {
          await client.send(new PutRecordCommand({ StreamName: streamName, PartitionKey: pending[0].partitionKey, Data: pending[0].data }));
          sent += 1;
          pending = [];
        } catch (error) {
          if ((error as { name?: string }).name !== 'ProvisionedThroughputExceededException') throw error;
          lastErrors = [(error as Error).name];
        }
        continue;
      }
      const out = await client.send(
        new PutRecordsCommand({ StreamName: streamName, Records: pending.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })) }),
      );
      const refused = pending.filter((_, j) => out.Records?.[j]?.ErrorCode);
      lastErrors = (out.Records ?? []).flatMap((r) => (r.ErrorCode ? [r.ErrorCode] : []));
      sent += pending.length - refused.length;
      pending = refused;
    }
    options.onProgress?.(sent);
  }
  return sent;
}

/** A record read from a file, with where it came from (for messages: never its content). */
export interface FileRecord extends OutgoingRecord {
  readonly source: string;
}

/**
 * The patient id the processor derives for a record (the Patient of a Bundle, else its first entry
 * that names one), or undefined when it names none or is not valid FHIR.
 */
export function patientOf(data: Uint8Array, maxBytes: number): string | undefined {
  const result = validateRecord(data, maxBytes);
  if (!result.ok) return undefined;
  return (
    (result.resources.find((r) => r.resourceType === 'Patient') ?? result.resources.find((r) => r.patientId !== null))?.patientId ??
    undefined
  );
}

/** The records of one file: a JSON document is one record; anything else is NDJSON, one record per non-blank line. */
export function recordsOfFile(path: string, text: Buffer, maxRecordBytes: number, fallbackPatient?: string): FileRecord[] {
  const trimmed = text.toString('utf8').trim();
  let documents: Array<{ source: string; data: Buffer }>;
  try {
    JSON.parse(trimmed);
    documents = [{ source: path, data: Buffer.from(trimmed) }];
  } catch {
    documents = trimmed
      .split('\n')
      .map((line, i) => ({ source: `${path} line ${i + 1}`, data: Buffer.from(line.trim()) }))
      .filter((d) => d.data.byteLength > 0);
  }
  const tooLarge = (source: string, bytes: number) =>
    new InputError(
      `${source}: ${bytes} bytes is more than the stream's ${maxRecordBytes}-byte record limit: split it, gzip it, or raise sizing.streamMaxRecordSizeKiB and pass --max-record-kib`,
    );
  return documents.map(({ source, data }) => {
    if (data.byteLength > maxRecordBytes) throw tooLarge(source, data.byteLength);
    const partitionKey = patientOf(data, maxRecordBytes) ?? fallbackPatient;
    if (partitionKey === undefined)
      throw new InputError(
        `${source}: no patient id can be derived (not valid FHIR, or it names no patient): fix it, or pass --patient ID to send it under that patient`,
      );
    if (sizeOf({ partitionKey, data }) > maxRecordBytes) throw tooLarge(source, sizeOf({ partitionKey, data }));
    return { source, partitionKey, data };
  });
}

export const USAGE = `usage: npm run send -- --suffix S [--endpoint URL] [--patient ID] [--max-record-kib N] [--project P] [--region R] FILE...
  --suffix S           the environment: local (the stack of npm run local -- --keep) or a deployed environmentSuffix
  FILE                 a FHIR JSON resource or Bundle (one record), or NDJSON (one record per line)
  --endpoint URL       a Kinesis endpoint to use instead (an emulator)
  --patient ID         the partition key of records that name no patient (it becomes their patient)
  --max-record-kib N   the stream's maximum record size (sizing.streamMaxRecordSizeKiB; default 1024)
  uses the default AWS credentials: assume the environment's producer role (output ProducerRoleArn) first`;

export interface SendCli {
  readonly suffix: string;
  readonly files: readonly string[];
  readonly endpoint?: string;
  readonly patient?: string;
  readonly maxRecordBytes: number;
  readonly project?: string;
  readonly region?: string;
}

export function parseSendArgs(argv: readonly string[]): SendCli | undefined {
  const parsed = parseFlags(
    argv,
    {
      suffix: { type: 'string' },
      endpoint: { type: 'string' },
      patient: { type: 'string' },
      'max-record-kib': { type: 'integer', min: 1024, default: 1024 },
      project: { type: 'string' },
      region: { type: 'string' },
    },
    { positionals: true },
  );
  if (!parsed) return undefined;
  const { flags, positionals } = parsed;
  const suffix = environmentSuffix(flags.suffix);
  if (positionals.length === 0) throw new UsageError('name at least one FILE to send (FHIR JSON, a Bundle, or NDJSON)');
  if (flags['max-record-kib'] > 10240)
    throw new UsageError(`--max-record-kib must be at most 10240 (10 MiB), not ${flags['max-record-kib']}`);
  return {
    suffix,
    files: positionals,
    endpoint: flags.endpoint,
    patient: flags.patient,
    maxRecordBytes: flags['max-record-kib'] * 1024 || DEFAULT_MAX_RECORD_BYTES,
    project: flags.project,
    region: flags.region,
  };
}

const ROOT = join(__dirname, '..', '..');

export async function main(argv: readonly string[], overrides: { client?: KinesisClient } = {}): Promise<number> {
  const cli = parseSendArgs(argv);
  if (!cli) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const records = cli.files.flatMap((file) => {
    let text: Buffer;
    try {
      text = readFileSync(resolve(file));
    } catch (error) {
      throw new InputError(`cannot read ${file}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
    }
    return recordsOfFile(file, text, cli.maxRecordBytes, cli.patient);
  });
  let streamName: string;
  let endpoint = cli.endpoint;
  let region: string;
  if (cli.suffix === 'local') {
    const path = join(ROOT, 'cfn-outputs', 'flat-outputs.json');
    const outputs = readOutputs(path, 'start the local stack with npm run local -- --keep first');
    if (!outputs.StreamName || !outputs.KinesisEndpoint)
      throw new InputError(`${path} has no local StreamName and KinesisEndpoint: run npm run local -- --keep`);
    streamName = outputs.StreamName;
    endpoint ??= outputs.KinesisEndpoint;
    region = outputs.AwsRegion ?? 'eu-west-2';
  } else {
    const target = commandTarget(cli, process.env);
    streamName = new Naming(target.project, cli.suffix).streamName;
    region = target.region;
  }
  const client = overrides.client ?? createKinesisClient({ region, kinesisEndpoint: endpoint });
  const progress = progressPrinter(process.stderr);
  try {
    const sent = await sendRecords(client, streamName, records, {
      onProgress: (n) => progress.update(`sent ${n}/${records.length} records to ${streamName}`),
    });
    progress.done(`sent ${sent}/${records.length} records to ${streamName}`);
  } finally {
    if (!overrides.client) client.destroy();
  }
  return 0;
}

if (require.main === module) runCli('send', USAGE, () => main(process.argv.slice(2)));
