import type { GetRecordsCommandOutput, _Record } from '@aws-sdk/client-kinesis';
import { GetRecordsCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { DeserializeMiddleware, HandlerExecutionContext, InitializeMiddleware, Pluggable } from '@smithy/types';
import type { ProcessorConfig } from '../config';
import { MemoryBudget, payloadBytes, Reservation } from './memory-budget';

/**
 * The Kinesis client. HTTP/1.1 (NodeHttpHandler): the SDK's default HTTP/2 handler is only
 * needed for SubscribeToShard, and local emulators reject it. GetRecords responses are decoded
 * by `getRecordsDecoder` (below) instead of the SDK's schema deserializer.
 */
export function createKinesisClient(config: Pick<ProcessorConfig, 'region' | 'kinesisEndpoint'>): KinesisClient {
  const local = config.kinesisEndpoint !== undefined;
  const client = new KinesisClient({
    region: config.region,
    endpoint: config.kinesisEndpoint,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 30_000 }),
    // The emulator accepts any signature; never pick up real credentials for it.
    credentials: local ? { accessKeyId: 'local', secretAccessKey: 'local' } : undefined,
    maxAttempts: 3,
  });
  client.middlewareStack.use(getRecordsDecoder);
  return client;
}

/** The GetRecords output fields the decoder fills in (everything but `$metadata`). */
export type DecodedGetRecords = Omit<GetRecordsCommandOutput, '$metadata'>;

/** The wire form of a GetRecords response (awsJson1_1): blobs are base64, timestamps epoch seconds. */
interface WireRecord {
  readonly SequenceNumber: string;
  readonly ApproximateArrivalTimestamp?: number;
  readonly Data: string;
  readonly PartitionKey: string;
  readonly EncryptionType?: string;
}
interface WireGetRecords {
  readonly Records?: WireRecord[];
  readonly NextShardIterator?: string;
  readonly MillisBehindLatest?: number;
  readonly ChildShards?: DecodedGetRecords['ChildShards'];
}

/**
 * Decodes a successful GetRecords response body: one JSON.parse and one base64 decode per record.
 * `Data` is a Buffer (a Uint8Array, as the SDK's type says) viewing its own memory.
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html#API_GetRecords_ResponseSyntax
 */
export function decodeGetRecordsBody(body: Buffer | string): DecodedGetRecords {
  const wire = JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as WireGetRecords;
  if (wire === null || typeof wire !== 'object' || (wire.Records !== undefined && !Array.isArray(wire.Records))) {
    throw new TypeError('GetRecords response is not a JSON object with a Records array');
  }
  const records: _Record[] = new Array(wire.Records?.length ?? 0);
  for (let i = 0; i < records.length; i++) {
    const r = wire.Records![i];
    if (typeof r?.Data !== 'string' || typeof r.SequenceNumber !== 'string')
      throw new TypeError(`GetRecords record ${i} has no Data or SequenceNumber string`);
    const record: { -readonly [K in keyof _Record]: _Record[K] } = {
      SequenceNumber: r.SequenceNumber,
      PartitionKey: r.PartitionKey,
      Data: Buffer.from(r.Data, 'base64'),
    };
    // Same rounding as the SDK's epoch-seconds parser.
    if (r.ApproximateArrivalTimestamp !== undefined)
      record.ApproximateArrivalTimestamp = new Date(Math.round(r.ApproximateArrivalTimestamp * 1000));
    if (r.EncryptionType !== undefined) record.EncryptionType = r.EncryptionType as _Record['EncryptionType'];
    records[i] = record;
  }
  const out: { -readonly [K in keyof DecodedGetRecords]: DecodedGetRecords[K] } = { Records: records };
  if (wire.NextShardIterator !== undefined && wire.NextShardIterator !== null) out.NextShardIterator = wire.NextShardIterator;
  if (wire.MillisBehindLatest !== undefined) out.MillisBehindLatest = wire.MillisBehindLatest;
  if (wire.ChildShards !== undefined) out.ChildShards = wire.ChildShards;
  return out;
}

/** Where the body decoder leaves its result for the output merge (one context per send). */
const DECODED = Symbol('fhir.getRecordsDecoded');
type DecoderContext = HandlerExecutionContext & { [DECODED]?: DecodedGetRecords };

interface RawResponse {
  statusCode?: number;
  headers?: Record<string, string | undefined>;
  body?: unknown;
}

async function readBody(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

function contentType(headers: RawResponse['headers']): string {
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === 'content-type') return v ?? '';
  return '';
}

const isGetRecords = (context: HandlerExecutionContext) => context.commandName === 'GetRecordsCommand';

/**
 * A thin GetRecords decoder. The SDK still signs, resolves the endpoint, retries and turns error
 * responses into its typed exceptions (ExpiredIteratorException, ProvisionedThroughputExceeded...);
 * only the successful body is decoded here, because the SDK's schema-driven decoder cost about a
 * third of the processor's CPU.
 *
 * Two middlewares: one just inside the SDK's deserializer takes a 2xx JSON body, decodes it and
 * hands the SDK an empty body (so the SDK builds only `$metadata`); one in the initialize step
 * (outside the retry loop and the SDK's logger) puts the decoded fields on the SDK's output. Anything unexpected
 * (non-JSON content type, a body that does not decode) is put back untouched for the SDK to judge.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the SDK's own client plugins are Pluggable<any, any>: the middleware serves every command's input and output
export const getRecordsDecoder: Pluggable<any, any> = {
  applyToStack(stack) {
    const decodeBody: DeserializeMiddleware<object, object> = (next, context: DecoderContext) => async (args) => {
      const result = await next(args);
      if (!isGetRecords(context)) return result;
      const response = result.response as RawResponse;
      const status = response.statusCode ?? 0;
      if (status < 200 || status >= 300 || !/json/i.test(contentType(response.headers))) return result;
      const bytes = await readBody(response.body);
      try {
        context[DECODED] = decodeGetRecordsBody(bytes);
        response.body = new Uint8Array(0);
      } catch {
        response.body = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      }
      return result;
    };
    const mergeOutput: InitializeMiddleware<object, object> = (next, context: DecoderContext) => async (args) => {
      const result = await next(args);
      const decoded = context[DECODED];
      if (decoded !== undefined) {
        context[DECODED] = undefined;
        Object.assign(result.output, decoded);
      }
      return result;
    };
    stack.addRelativeTo(decodeBody, {
      name: 'fhirGetRecordsBodyDecoder',
      relation: 'after',
      toMiddleware: 'deserializerMiddleware',
      override: true,
    });
    // Outside the SDK's logger middleware, which otherwise walks and copies every record (even for
    // its no-op logger) and, with a real logger, would log the payloads: PHI.
    stack.addRelativeTo(mergeOutput, {
      name: 'fhirGetRecordsOutput',
      relation: 'before',
      toMiddleware: 'loggerMiddleware',
      override: true,
    });
  },
};

/** How a ShardReader holds memory for its batches (see memory-budget.ts). */
export interface ReaderMemory {
  /** The process-wide budget every shard's batches are reserved from. */
  readonly budget: MemoryBudget;
  /** Reserved before each call: the most one response can carry (getRecordsWorstCaseBytes). */
  readonly worstCaseBytes: number;
  /** Aborts a reservation still waiting for room (the worker is stopping). */
  readonly signal?: AbortSignal;
}

interface Fetched {
  readonly output: GetRecordsCommandOutput;
  readonly reservation?: Reservation;
}

/**
 * GetRecords for one shard, with the next batch read while the current one is persisted: a
 * shard's throughput becomes the slower of reading and writing rather than their sum. Only the
 * read moves ahead; the caller still commits batches in order and passes the iterator it wants,
 * so a prefetch for any other iterator (after an expired iterator, a lost lease) is never used.
 * Calls stay at least `pollIntervalMs` apart (GetRecords allows 5 calls per second per shard:
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html).
 *
 * With `memory`, every call (the read-ahead too) first reserves the worst case of its response
 * from the process's budget, waiting while the budget is used; the batch returned by read() holds
 * its reservation, resized to its payload, until release(), the next read() or close().
 */
export class ShardReader {
  private ahead: { readonly iterator: string; readonly fetched: Promise<Fetched> } | undefined;
  private lastCallAt = 0;
  /** The reservation of the batch read() returned last. */
  private current: Reservation | undefined;

  constructor(
    private readonly kinesis: KinesisClient,
    private readonly limit: number,
    private readonly pollIntervalMs: number,
    /** Waits between calls; the worker's abortable pause, so stopping never waits for it. */
    private readonly delay: (ms: number) => Promise<void>,
    private readonly memory?: ReaderMemory,
  ) {}

  /** True while a read of the next batch is under way (the caller then needs no poll pause). */
  get readingAhead(): boolean {
    return this.ahead !== undefined;
  }

  /** The bytes the last batch read holds in the budget (0 without a budget or once released). */
  get heldBytes(): number {
    return this.current?.bytes ?? 0;
  }

  /**
   * The batch at `iterator`: the read already under way for it, or a new call. Errors are the
   * SDK's, or ReservationAbortedError when the memory signal aborts while waiting for room. The
   * previous batch's reservation is released first: the caller is done with it.
   */
  async read(iterator: string): Promise<GetRecordsCommandOutput> {
    this.release();
    const ahead = this.ahead;
    this.ahead = undefined;
    let fetched: Fetched;
    if (ahead?.iterator === iterator) fetched = await ahead.fetched;
    else {
      if (ahead) dropFetched(ahead.fetched);
      fetched = await this.fetch(iterator);
    }
    this.current = fetched.reservation;
    return fetched.output;
  }

  /** Starts reading the batch at `iterator` now, for the next read(). */
  readAhead(iterator: string): void {
    if (this.ahead) dropFetched(this.ahead.fetched);
    const fetched = this.delay(this.lastCallAt + this.pollIntervalMs - Date.now()).then(() => this.fetch(iterator));
    // A read-ahead nobody collects (the worker stopped or lost its lease) must not be an unhandled rejection.
    fetched.catch(() => undefined);
    this.ahead = { iterator, fetched };
  }

  /**
   * The batch's reservation grows to at least `bytes` (what classification made of it: inflated
   * payloads); a no-op without a budget or once released.
   */
  charge(bytes: number): void {
    this.current?.atLeast(bytes);
  }

  /** Releases the reservation of the batch read last (it has committed, or will not be retried). */
  release(): void {
    this.current?.release();
    this.current = undefined;
  }

  /** Releases everything: the last batch, and the read-ahead as soon as it settles. */
  close(): void {
    this.release();
    if (this.ahead) dropFetched(this.ahead.fetched);
    this.ahead = undefined;
  }

  private async fetch(iterator: string): Promise<Fetched> {
    const m = this.memory;
    const reservation = m ? await m.budget.reserve(m.worstCaseBytes, m.signal) : undefined;
    try {
      this.lastCallAt = Date.now();
      const output = await this.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: this.limit }));
      reservation?.resize(payloadBytes(output.Records));
      return { output, reservation };
    } catch (error) {
      reservation?.release();
      throw error;
    }
  }
}

/** A fetch whose batch nobody will use: its reservation goes back as soon as it settles. */
function dropFetched(fetched: Promise<Fetched>): void {
  fetched.then(
    (f) => f.reservation?.release(),
    () => undefined,
  );
}
