import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createKinesisClient } from '../../lib/processor/service/kinesis-client';
import { createStream, LocalKinesis, startKinesis } from './harness';

jest.setTimeout(60_000);

describe('the GetRecords decoder against kinesalite', () => {
  let kinesis: LocalKinesis;
  let plain: KinesisClient;
  const stream = 'decoder-test';
  const payloads = Array.from({ length: 50 }, (_, i) =>
    i % 5 === 0 ? Buffer.from([i, 0, 255, 254, 0x80]) : Buffer.from(JSON.stringify({ resourceType: 'Patient', id: `p${i}`, text: 'é😀' })),
  );

  beforeAll(async () => {
    kinesis = await startKinesis();
    await createStream(kinesis.client, stream, 1);
    await kinesis.client.send(
      new PutRecordsCommand({ StreamName: stream, Records: payloads.map((Data, i) => ({ PartitionKey: `patient-${i}`, Data })) }),
    );
    plain = new KinesisClient({
      region: 'eu-west-2',
      endpoint: kinesis.endpoint,
      requestHandler: new NodeHttpHandler(),
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });
  afterAll(async () => {
    plain?.destroy();
    await kinesis?.stop();
  });

  const iterator = async () =>
    (
      await plain.send(
        new GetShardIteratorCommand({ StreamName: stream, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }),
      )
    ).ShardIterator!;

  test('decodes exactly what the SDK decodes, binary payloads included', async () => {
    const it = await iterator();
    const fast = createKinesisClient({ region: 'eu-west-2', kinesisEndpoint: kinesis.endpoint });
    try {
      const [mine, sdk] = await Promise.all([
        fast.send(new GetRecordsCommand({ ShardIterator: it, Limit: 100 })),
        plain.send(new GetRecordsCommand({ ShardIterator: it, Limit: 100 })),
      ]);
      expect(mine.Records).toHaveLength(50);
      expect(Buffer.isBuffer(mine.Records![0].Data)).toBe(true);
      expect(Buffer.isBuffer(sdk.Records![0].Data)).toBe(false);
      const view = (o: typeof mine) => o.Records!.map((r) => ({ ...r, Data: Buffer.from(r.Data!).toString('hex') }));
      expect(view(mine)).toEqual(view(sdk));
      expect(mine.Records!.map((r) => Buffer.from(r.Data!))).toEqual(payloads);
      expect(typeof mine.NextShardIterator).toBe('string');
      expect(mine.MillisBehindLatest).toBe(sdk.MillisBehindLatest);
    } finally {
      fast.destroy();
    }
  });

  test("an emulator error arrives as the SDK's typed exception", async () => {
    const it = await iterator();
    const corrupt = `${it.slice(0, 20)}${it[20] === 'A' ? 'B' : 'A'}${it.slice(21)}`;
    const error = await kinesis.client.send(new GetRecordsCommand({ ShardIterator: corrupt })).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'InvalidArgumentException', $metadata: { httpStatusCode: 400 } });
  });
});
