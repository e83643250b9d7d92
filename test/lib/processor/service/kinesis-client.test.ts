import { Readable } from 'stream';
import {
  ExpiredIteratorException,
  GetRecordsCommand,
  KinesisClient,
  ListShardsCommand,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { decodeGetRecordsBody, getRecordsDecoder, ShardReader } from '../../../../lib/processor/service/kinesis-client';
import { MemoryBudget } from '../../../../lib/processor/service/memory-budget';

/** A GetRecords body as Kinesis sends it (awsJson1_1: base64 blobs, epoch-second timestamps). */
const wireBody = (records: { seq: string; key: string; data: Buffer; at?: number }[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    Records: records.map((r) => ({
      SequenceNumber: r.seq,
      PartitionKey: r.key,
      Data: r.data.toString('base64'),
      ...(r.at === undefined ? {} : { ApproximateArrivalTimestamp: r.at }),
    })),
    NextShardIterator: 'next-iterator',
    MillisBehindLatest: 42,
    ...extra,
  });

interface Canned {
  readonly status: number;
  readonly body: string;
  readonly contentType?: string;
}

/** A client whose HTTP layer answers from a script and keeps the requests it was sent. */
function scriptedClient(responses: Canned[], logger?: { debug: jest.Mock; info: jest.Mock; warn: jest.Mock; error: jest.Mock }) {
  const requests: { headers: Record<string, string>; body: string }[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  /** Resolves once the HTTP layer has been asked for its n-th response. */
  const requestSeen = (n: number) => new Promise<void>((resolve) => (requests.length >= n ? resolve() : waiters.push({ n, resolve })));
  const requestHandler = {
    handle: async (request: { headers: Record<string, string>; body?: unknown }) => {
      const body = request.body as Uint8Array | string | undefined;
      requests.push({
        headers: request.headers,
        body:
          typeof body === 'string' || body === undefined
            ? (body ?? '')
            : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'),
      });
      waiters.filter((w) => requests.length >= w.n).forEach((w) => w.resolve());
      const next = responses.shift();
      if (!next) throw new Error('scripted client: no response left for this request');
      return {
        response: {
          statusCode: next.status,
          headers: { 'content-type': next.contentType ?? 'application/x-amz-json-1.1', 'x-amzn-requestid': `req-${requests.length}` },
          body: Readable.from([Buffer.from(next.body)]),
        },
      };
    },
  };
  const client = new KinesisClient({
    region: 'eu-west-2',
    endpoint: 'http://127.0.0.1:1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    requestHandler: requestHandler as unknown as NodeHttpHandler,
    maxAttempts: 3,
    logger,
  });
  client.middlewareStack.use(getRecordsDecoder);
  return { client, requests, requestSeen };
}

describe('decodeGetRecordsBody', () => {
  test('decodes records, arrival times, the next iterator, the lag and child shards', () => {
    const out = decodeGetRecordsBody(
      Buffer.from(
        wireBody(
          [
            { seq: '1', key: 'patient-1', data: Buffer.from([0, 255, 10, 0x7b]), at: 1_763_900_000.123 },
            { seq: '2', key: 'patient-2', data: Buffer.from('{"a":1}') },
          ],
          {
            ChildShards: [
              {
                ShardId: 'shardId-000000000002',
                ParentShards: ['shardId-000000000000'],
                HashKeyRange: { StartingHashKey: '0', EndingHashKey: '9' },
              },
            ],
          },
        ),
      ),
    );
    expect(out.Records).toHaveLength(2);
    expect(Buffer.from(out.Records![0].Data!)).toEqual(Buffer.from([0, 255, 10, 0x7b]));
    expect(out.Records![0].ApproximateArrivalTimestamp).toEqual(new Date(1_763_900_000_123));
    expect(out.Records![0].PartitionKey).toBe('patient-1');
    expect(out.Records![1]).toEqual({ SequenceNumber: '2', PartitionKey: 'patient-2', Data: Buffer.from('{"a":1}') });
    expect(out.NextShardIterator).toBe('next-iterator');
    expect(out.MillisBehindLatest).toBe(42);
    expect(out.ChildShards![0].ParentShards).toEqual(['shardId-000000000000']);
  });

  test('a closed shard (NextShardIterator null) has no next iterator, so the worker sees the shard end', () => {
    const out = decodeGetRecordsBody(wireBody([], { NextShardIterator: null }));
    expect(out.Records).toEqual([]);
    expect('NextShardIterator' in out).toBe(false);
  });

  test('refuses bodies that are not a GetRecords response', () => {
    expect(() => decodeGetRecordsBody('not json')).toThrow(SyntaxError);
    expect(() => decodeGetRecordsBody('{"Records":{}}')).toThrow(/Records array/);
    expect(() => decodeGetRecordsBody('{"Records":[{"SequenceNumber":"1"}]}')).toThrow(/record 0 has no Data/);
  });
});

describe('the GetRecords decoder inside the SDK (scripted HTTP responses)', () => {
  test('a 200 response is decoded by the thin decoder; the request is still signed and targeted by the SDK', async () => {
    const { client, requests } = scriptedClient([
      { status: 200, body: wireBody([{ seq: '7', key: 'k', data: Buffer.from('{"resourceType":"Patient"}'), at: 1_763_900_000 }]) },
    ]);
    const out = await client.send(new GetRecordsCommand({ ShardIterator: 'it', Limit: 10 }));
    // The SDK's own decoder yields plain Uint8Arrays; a Buffer here proves the thin decoder ran.
    expect(Buffer.isBuffer(out.Records![0].Data)).toBe(true);
    expect(Buffer.from(out.Records![0].Data!).toString()).toBe('{"resourceType":"Patient"}');
    expect(out.Records![0].ApproximateArrivalTimestamp).toEqual(new Date(1_763_900_000_000));
    expect(out.NextShardIterator).toBe('next-iterator');
    expect(out.$metadata).toMatchObject({ httpStatusCode: 200, requestId: 'req-1', attempts: 1 });
    expect(requests[0].headers['x-amz-target']).toBe('Kinesis_20131202.GetRecords');
    expect(requests[0].headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-2\/kinesis\/aws4_request/);
    expect(JSON.parse(requests[0].body)).toEqual({ ShardIterator: 'it', Limit: 10 });
    client.destroy();
  });

  test("an error response surfaces as the SDK's typed exception, with its metadata, and is not retried", async () => {
    const { client, requests } = scriptedClient([
      { status: 400, body: JSON.stringify({ __type: 'ExpiredIteratorException', message: 'Iterator expired.' }) },
    ]);
    const error = await client.send(new GetRecordsCommand({ ShardIterator: 'old' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExpiredIteratorException);
    expect(error).toMatchObject({
      name: 'ExpiredIteratorException',
      message: 'Iterator expired.',
      $metadata: { httpStatusCode: 400, attempts: 1 },
    });
    expect(requests).toHaveLength(1);
    client.destroy();
  });

  test('throttling is retried by the SDK, and the retried 200 is decoded by the thin decoder', async () => {
    const { client, requests } = scriptedClient([
      { status: 400, body: JSON.stringify({ __type: 'ProvisionedThroughputExceededException', message: 'Rate exceeded for shard' }) },
      { status: 200, body: wireBody([{ seq: '9', key: 'k', data: Buffer.from('x') }]) },
    ]);
    const out = await client.send(new GetRecordsCommand({ ShardIterator: 'it' }));
    expect(requests).toHaveLength(2);
    expect(out.$metadata.attempts).toBe(2);
    expect(Buffer.isBuffer(out.Records![0].Data)).toBe(true);
    expect(out.Records!.map((r) => r.SequenceNumber)).toEqual(['9']);
    client.destroy();
  });

  test('throttling on every attempt ends in the typed throttling exception', async () => {
    const throttle = {
      status: 400,
      body: JSON.stringify({ __type: 'ProvisionedThroughputExceededException', message: 'Rate exceeded for shard' }),
    };
    const { client, requests } = scriptedClient([throttle, throttle, throttle]);
    const error = await client.send(new GetRecordsCommand({ ShardIterator: 'it' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(requests).toHaveLength(3);
    client.destroy();
  });

  test('a 200 body the thin decoder cannot read is handed back to the SDK, which reports it', async () => {
    const { client } = scriptedClient([{ status: 200, body: '<html>proxy error</html>' }]);
    const error = (await client.send(new GetRecordsCommand({ ShardIterator: 'it' })).catch((e: unknown) => e)) as Error & {
      $response?: { body?: unknown };
    };
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/Deserialization error/);
    client.destroy();
  });

  test('a configured SDK logger never sees the records (payloads are PHI)', async () => {
    const logger = { debug: jest.fn(), info: jest.fn(), warn: jest.fn(), error: jest.fn() };
    const { client } = scriptedClient(
      [{ status: 200, body: wireBody([{ seq: '1', key: 'patient-1', data: Buffer.from('{"name":"Jane"}') }]) }],
      logger,
    );
    const out = await client.send(new GetRecordsCommand({ ShardIterator: 'it' }));
    expect(out.Records).toHaveLength(1);
    expect(logger.info).toHaveBeenCalledTimes(1);
    expect(logger.info.mock.calls[0][0]).toMatchObject({ commandName: 'GetRecordsCommand', output: {} });
    expect(logger.info.mock.calls[0][0].output.Records).toBeUndefined();
    expect(JSON.stringify(logger.info.mock.calls[0][0])).not.toContain('patient-1');
    client.destroy();
  });

  test('other operations keep the SDK decoder', async () => {
    const { client } = scriptedClient([
      {
        status: 200,
        body: JSON.stringify({
          Shards: [
            {
              ShardId: 'shardId-000000000000',
              HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
              SequenceNumberRange: { StartingSequenceNumber: '1' },
            },
          ],
        }),
      },
    ]);
    const out = await client.send(new ListShardsCommand({ StreamName: 's' }));
    expect(out.Shards![0].ShardId).toBe('shardId-000000000000');
    expect(out.$metadata.httpStatusCode).toBe(200);
    client.destroy();
  });
});

describe('ShardReader: the next batch is read while the current one is persisted', () => {
  const page = (seq: string, next: string | null = `after-${seq}`) => ({
    status: 200,
    body: wireBody([{ seq, key: 'k', data: Buffer.from(seq) }], { NextShardIterator: next }),
  });
  const iteratorOf = (r: { body: string }) => JSON.parse(r.body).ShardIterator as string;
  const immediately = () => Promise.resolve();

  test('readAhead() calls GetRecords before the caller asks, and read() of that iterator takes its result', async () => {
    const { client, requests, requestSeen } = scriptedClient([page('1'), page('2')]);
    const reader = new ShardReader(client, 500, 0, immediately);
    const first = await reader.read('start');
    reader.readAhead(first.NextShardIterator!);
    expect(reader.readingAhead).toBe(true);
    await requestSeen(2); // hangs (and the test fails) if nothing was read ahead
    const second = await reader.read('after-1');
    expect(second.Records!.map((r) => r.SequenceNumber)).toEqual(['2']);
    expect(requests.map(iteratorOf)).toEqual(['start', 'after-1']);
    expect(JSON.parse(requests[1].body).Limit).toBe(500);
    expect(reader.readingAhead).toBe(false);
    client.destroy();
  });

  test('a read-ahead for another iterator (expired, re-read from the checkpoint) is dropped, never returned', async () => {
    const { client, requests, requestSeen } = scriptedClient([page('ahead'), page('fresh')]);
    const reader = new ShardReader(client, 100, 0, immediately);
    reader.readAhead('stale-iterator');
    await requestSeen(1);
    const out = await reader.read('from-checkpoint');
    expect(out.Records!.map((r) => r.SequenceNumber)).toEqual(['fresh']);
    expect(requests.map(iteratorOf)).toEqual(['stale-iterator', 'from-checkpoint']);
    client.destroy();
  });

  test('an error of a read-ahead surfaces, typed, on read(); one nobody reads is not an unhandled rejection', async () => {
    const expired = { status: 400, body: JSON.stringify({ __type: 'ExpiredIteratorException', message: 'Iterator expired.' }) };
    const { client, requestSeen } = scriptedClient([expired, expired]);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const reader = new ShardReader(client, 100, 0, immediately);
      reader.readAhead('a');
      await expect(reader.read('a')).rejects.toBeInstanceOf(ExpiredIteratorException);
      const abandoned = new ShardReader(client, 100, 0, immediately);
      abandoned.readAhead('b');
      await requestSeen(2);
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      client.destroy();
    }
  });

  test('with a memory budget: each call reserves the worst case first, keeps what arrived, and gives it back on release, error or drop', async () => {
    const expired = { status: 400, body: JSON.stringify({ __type: 'ExpiredIteratorException', message: 'Iterator expired.' }) };
    const { client, requestSeen } = scriptedClient([page('1234'), expired, page('ahead'), page('fresh')]);
    const budget = new MemoryBudget(1_000_000);
    const reader = new ShardReader(client, 100, 0, immediately, { budget, worstCaseBytes: 500_000 });
    await reader.read('start');
    expect([reader.heldBytes, budget.used, budget.peak]).toEqual([4, 4, 500_000]); // reserved 500,000, kept the 4 bytes received
    reader.charge(4_000); // decoded, it holds more
    expect(budget.used).toBe(4_000);
    await expect(reader.read('x')).rejects.toBeInstanceOf(ExpiredIteratorException);
    expect(budget.used).toBe(0); // the previous batch released by the next read; the failed call's reservation released
    reader.readAhead('stale');
    await requestSeen(3);
    await reader.read('from-checkpoint'); // the read-ahead for another iterator is dropped: its bytes go back
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(budget.used).toBe('fresh'.length);
    reader.release();
    expect([reader.heldBytes, budget.used]).toEqual([0, 0]);
    reader.close();
    client.destroy();
  });

  test('calls stay pollIntervalMs apart: a read-ahead first waits out the rest of the interval', async () => {
    const { client } = scriptedClient([page('1'), page('2')]);
    const waits: number[] = [];
    const reader = new ShardReader(client, 100, 60_000, async (ms) => {
      waits.push(ms);
    });
    await reader.read('start');
    reader.readAhead('after-1');
    await reader.read('after-1');
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(0);
    expect(waits[0]).toBeLessThanOrEqual(60_000);
    client.destroy();
  });
});
