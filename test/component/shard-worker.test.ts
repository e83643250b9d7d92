import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { Client, Pool } from 'pg';
import { Coordinator } from '../../lib/processor/service/coordinator';
import { BatchMetrics, MetricsSink, NoMetrics } from '../../lib/processor/metrics';
import { patient, prng } from '../../scripts/shared/fhir-samples';
import { capturingLogger, shardWorker, startDatabase, TestDatabase, waitFor } from './harness';

jest.setTimeout(60_000);

const rand = prng(5);
const record = (seq: string, id: string, lastUpdated = '2026-11-01T10:00:00Z') => {
  const p = patient(id, 1, new Date('2026-11-01T10:00:00Z'), rand);
  p.meta.lastUpdated = lastUpdated;
  return { SequenceNumber: seq, PartitionKey: id, Data: Buffer.from(JSON.stringify(p)) };
};
const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
const expired = () => Object.assign(new Error('Iterator expired'), { name: 'ExpiredIteratorException' });

describe('ShardWorker (real PostgreSQL, mocked Kinesis)', () => {
  let database: TestDatabase;
  let pool: Pool;
  let db: Client;
  const kinesis = mockClient(KinesisClient);
  const { logger, lines: logs } = capturingLogger('w1');

  beforeAll(async () => {
    database = await startDatabase();
    ({ writer: pool, db } = database);
  });
  afterAll(() => database?.stop());
  beforeEach(() => kinesis.reset());

  async function lease(shardId: string, owner = 'w1', ttlSeconds = 30) {
    await db.query(
      `INSERT INTO shard_lease (stream_name, shard_id, owner, expires_at) VALUES ('s', $1, $2, now() + make_interval(secs => $3))
      ON CONFLICT (stream_name, shard_id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, completed = false`,
      [shardId, owner, ttlSeconds],
    );
  }

  const worker = (shardId: string) =>
    shardWorker(database, { kinesis: new KinesisClient({ region: 'eu-west-2' }), streamName: 's', shardId, logger });

  test('throttling is retried with backoff, an expired iterator is renewed from the checkpoint, and a shard end completes the lease', async () => {
    await lease('shard-a');
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    kinesis
      .on(GetRecordsCommand)
      .rejectsOnce(throttled())
      .resolvesOnce({ Records: [record('100', 'wa1')], NextShardIterator: 'it-1', MillisBehindLatest: 5 })
      .rejectsOnce(expired())
      .resolvesOnce({ Records: [record('200', 'wa2')], NextShardIterator: undefined });
    const exit = await worker('shard-a').done;
    expect(exit).toBe('ended');
    const iteratorCalls = kinesis.commandCalls(GetShardIteratorCommand).map((c) => c.args[0].input);
    expect(iteratorCalls).toEqual([
      expect.objectContaining({ ShardId: 'shard-a', ShardIteratorType: 'TRIM_HORIZON' }),
      expect.objectContaining({ ShardId: 'shard-a', ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: '100' }),
    ]);
    const rows = (await db.query("SELECT resource_id FROM fhir_resource_history WHERE shard_id = 'shard-a' ORDER BY 1")).rows.map(
      (r) => r.resource_id,
    );
    expect(rows).toEqual(['wa1', 'wa2']);
    expect((await db.query("SELECT completed FROM shard_lease WHERE shard_id = 'shard-a'")).rows[0].completed).toBe(true);
    expect(logs.join('')).toContain('kinesis read failed; retrying');
  });

  test('a record with an impossible date is quarantined alone (by the validator or the database); the rest of the batch is stored', async () => {
    await lease('shard-b');
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    kinesis
      .on(GetRecordsCommand)
      // 30 February passes the FHIR instant pattern but is not a date PostgreSQL will store.
      .resolvesOnce({
        Records: [record('1', 'wb1'), record('2', 'wb2', '2026-02-30T10:00:00Z'), record('3', 'wb3')],
        NextShardIterator: undefined,
      });
    expect(await worker('shard-b').done).toBe('ended');
    expect(
      (await db.query("SELECT resource_id FROM fhir_resource_history WHERE shard_id = 'shard-b' ORDER BY 1")).rows.map(
        (r) => r.resource_id,
      ),
    ).toEqual(['wb1', 'wb3']);
    const q = (await db.query("SELECT sequence_number, reason_code, detail FROM quarantined_record WHERE shard_id = 'shard-b'")).rows;
    expect(q).toEqual([
      { sequence_number: '2', reason_code: expect.stringMatching(/^(UNSTORABLE|INVALID_FHIR)$/), detail: expect.any(String) },
    ]);
    expect((await db.query("SELECT sequence_number FROM shard_checkpoint WHERE shard_id = 'shard-b'")).rows[0].sequence_number).toBe('3');
  });

  test('the quarantine counts per reason reach the metrics; a metrics failure after a commit never sends the batch again', async () => {
    await lease('shard-m');
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    const bad = (seq: string) => ({ SequenceNumber: seq, PartitionKey: 'm', Data: Buffer.from('not json') });
    kinesis
      .on(GetRecordsCommand)
      .resolvesOnce({ Records: [record('1', 'wm1'), bad('2'), bad('3')], NextShardIterator: 'it-1' })
      .resolvesOnce({ Records: [record('4', 'wm2')], NextShardIterator: undefined });
    const seen: BatchMetrics[] = [];
    let failures = 0;
    const metrics: MetricsSink = {
      // The first batch's metrics cannot be written (e.g. stdout closed): the commit stands.
      batch: async (m) => {
        seen.push(m);
        if (seen.length === 1) {
          failures++;
          throw new Error('EPIPE');
        }
      },
      shardStuck: async () => undefined,
    };
    expect(
      await shardWorker(database, {
        kinesis: new KinesisClient({ region: 'eu-west-2' }),
        streamName: 's',
        shardId: 'shard-m',
        logger,
        metrics,
      }).done,
    ).toBe('ended');
    expect(failures).toBe(1);
    expect(seen.map((m) => [m.records, m.quarantined, m.quarantinedByReason])).toEqual([
      [3, 2, { NOT_JSON: 2 }],
      [1, 0, {}],
    ]);
    // Each record stored or quarantined once, and audited once: the first batch was not sent again.
    expect((await db.query("SELECT count(*)::int AS n FROM audit_event WHERE shard_id = 'shard-m'")).rows[0].n).toBe(4);
    expect((await db.query("SELECT count(*)::int AS n FROM quarantined_record WHERE shard_id = 'shard-m'")).rows[0].n).toBe(2);
    expect(logs.join('')).toContain('batch committed, but its metrics could not be written');
  });

  test('a worker whose lease was taken writes nothing and stops', async () => {
    await lease('shard-c', 'someone-else');
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    kinesis.on(GetRecordsCommand).resolves({ Records: [record('9', 'wc1')], NextShardIterator: 'it-1' });
    expect(await worker('shard-c').done).toBe('lease-lost');
    expect((await db.query("SELECT count(*)::int AS n FROM fhir_resource_history WHERE shard_id = 'shard-c'")).rows[0].n).toBe(0);
    expect((await db.query("SELECT count(*)::int AS n FROM shard_checkpoint WHERE shard_id = 'shard-c'")).rows[0].n).toBe(0);
  });

  test('stop() lets the worker finish and exit between batches', async () => {
    await lease('shard-d');
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    kinesis.on(GetRecordsCommand).resolves({ Records: [], NextShardIterator: 'it-next' });
    const w = worker('shard-d');
    // Stopped once it has read (and polled past) at least one empty batch: between batches, as the test says.
    await waitFor('two polls', async () => (kinesis.commandCalls(GetRecordsCommand).length >= 2 ? true : undefined), 30_000, 10);
    expect(await w.stop()).toBe('stopped');
  });

  test('an unexpected Kinesis error stops the worker instead of spinning, and is reported as a crash, not a lost lease', async () => {
    await lease('shard-e');
    kinesis.on(GetShardIteratorCommand).rejects(Object.assign(new Error('no such stream'), { name: 'ResourceNotFoundException' }));
    expect(await worker('shard-e').done).toBe('crashed');
    expect(logs.join('')).toContain('shard worker failed');
    // The lease was not lost: this worker still holds it.
    expect((await db.query("SELECT owner FROM shard_lease WHERE shard_id = 'shard-e'")).rows[0].owner).toBe('w1');
  });

  test('the coordinator reports a crashed worker as a crash and starts a new one from the checkpoint at its next cycle', async () => {
    const stream = 'crash-restart';
    kinesis.on(ListShardsCommand).resolves({ Shards: [{ ShardId: 'shard-f', HashKeyRange: undefined, SequenceNumberRange: undefined }] });
    // The first worker's GetShardIterator fails in a way nobody expects; the next one's succeeds.
    kinesis
      .on(GetShardIteratorCommand)
      .rejectsOnce(Object.assign(new Error('something unexpected'), { name: 'InternalLogicError' }))
      .resolves({ ShardIterator: 'it-0' });
    kinesis.on(GetRecordsCommand).resolves({ Records: [record('300', 'wf1')], NextShardIterator: undefined });
    const coordinator = new Coordinator({
      kinesis: new KinesisClient({ region: 'eu-west-2' }),
      pool,
      streamName: stream,
      workerId: 'w1',
      leaseTtlMs: 1_000,
      pollIntervalMs: 1,
      getRecordsLimit: 100,
      maxRecordBytes: 262_144,
      logger,
      metrics: new NoMetrics(),
    });
    coordinator.start();
    try {
      await waitFor('the shard processed by the second worker', async () =>
        (await db.query('SELECT completed FROM shard_lease WHERE stream_name = $1 AND shard_id = $2', [stream, 'shard-f'])).rows[0]
          ?.completed
          ? true
          : undefined,
      );
    } finally {
      await coordinator.shutdown();
    }
    const lines = logs.filter((l) => l.includes('"shardId":"shard-f"')).map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['shard worker failed', 'shard worker crashed; a new one starts from the checkpoint at the next cycle']),
    );
    expect(lines.map((l) => l.msg)).not.toContain('lease lost; nothing written for this batch');
    expect(kinesis.commandCalls(GetShardIteratorCommand)).toHaveLength(2);
    expect(
      (await db.query("SELECT resource_id FROM fhir_resource_history WHERE shard_id = 'shard-f'")).rows.map((r) => r.resource_id),
    ).toEqual(['wf1']);
  });
});
