import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import type { Pool } from 'pg';
import { LeaseLostError } from '../../../../lib/processor/db/persist';
import { createLogger } from '../../../../lib/processor/logger';
import { NoMetrics } from '../../../../lib/processor/metrics';
import { BatchHandler, RecordsBatch, ShardStart } from '../../../../lib/processor/service/batch-handler';
import { ShardWorker } from '../../../../lib/processor/service/shard-worker';

/** A handler that records every call the worker makes, and fails or stops the worker when told to. */
class RecordingHandler implements BatchHandler {
  readonly calls: Array<[string, unknown?]> = [];
  readonly batches: RecordsBatch[] = [];
  /** Thrown by processRecords, one per call, before it commits. */
  readonly failures: unknown[] = [];
  onProcess?: (batch: RecordsBatch) => void;

  initialize(start: ShardStart): void {
    this.calls.push(['initialize', start]);
  }
  async processRecords(batch: RecordsBatch) {
    this.batches.push(batch);
    this.calls.push(['processRecords', batch.records.map((r) => r.SequenceNumber)]);
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.onProcess?.(batch);
    return { written: batch.records.length, duplicates: 0, stale: 0, quarantined: 0, quarantinedByReason: {}, transactions: 1 };
  }
  leaseLost(): void {
    this.calls.push(['leaseLost']);
  }
  shardEnded(): void {
    this.calls.push(['shardEnded']);
  }
  shutdownRequested(): void {
    this.calls.push(['shutdownRequested']);
  }
}

const record = (seq: string) => ({ SequenceNumber: seq, PartitionKey: 'p', Data: Buffer.from('{}') });

describe('ShardWorker and its BatchHandler (the seam of the KCL ShardRecordProcessor)', () => {
  const kinesis = mockClient(KinesisClient);
  beforeEach(() => kinesis.reset());

  function worker(handler: BatchHandler, checkpoint?: string): ShardWorker {
    return new ShardWorker({
      kinesis: new KinesisClient({ region: 'eu-west-2' }),
      // The handler is the only user of the database.
      pool: {} as Pool,
      streamName: 's',
      shardId: 'shard-1',
      workerId: 'w1',
      leaseTtlMs: 30_000,
      leaseCounter: '7',
      pollIntervalMs: 1,
      getRecordsLimit: 100,
      maxRecordBytes: 262_144,
      logger: createLogger('w1', 'silent'),
      metrics: new NoMetrics(),
      stuckAfterAttempts: 2,
      checkpoint: async () => checkpoint,
      batchHandler: () => handler,
    });
  }

  test('initialize with the lease and checkpoint, each batch once in order with its lag, then shardEnded when the last batch committed', async () => {
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    kinesis
      .on(GetRecordsCommand)
      .resolvesOnce({ Records: [record('11'), record('12')], NextShardIterator: 'it-1', MillisBehindLatest: 40 })
      .resolvesOnce({ Records: [], NextShardIterator: 'it-2', MillisBehindLatest: 0 })
      .resolvesOnce({ Records: [record('13')], NextShardIterator: undefined, MillisBehindLatest: 0 });
    const handler = new RecordingHandler();
    expect(await worker(handler, '10').done).toBe('ended');
    expect(handler.calls).toEqual([
      ['initialize', { shardId: 'shard-1', leaseCounter: '7', checkpoint: '10' }],
      ['processRecords', ['11', '12']],
      ['processRecords', ['13']],
      ['shardEnded'],
    ]);
    expect(handler.batches.map((b) => [b.shardEnded, b.millisBehindLatest])).toEqual([
      [false, 40],
      [true, 0],
    ]);
    expect(kinesis.commandCalls(GetShardIteratorCommand)[0].args[0].input).toMatchObject({
      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
      StartingSequenceNumber: '10',
    });
  });

  test('a failed batch is offered again as the same batch object until it commits; the shard counts as stuck meanwhile', async () => {
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    kinesis.on(GetRecordsCommand).resolvesOnce({ Records: [record('1')], NextShardIterator: undefined });
    const handler = new RecordingHandler();
    const down = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    handler.failures.push(down, down);
    const w = worker(handler);
    const stuckSeen: boolean[] = [];
    handler.onProcess = () => stuckSeen.push(w.stuck);
    expect(await w.done).toBe('ended');
    expect(handler.batches).toHaveLength(3);
    expect(new Set(handler.batches).size).toBe(1);
    // Two failures in a row with stuckAfterAttempts 2: stuck until the commit clears it.
    expect(stuckSeen).toEqual([true]);
    expect(w.stuck).toBe(false);
  });

  test('a lost lease ends the worker at once: leaseLost, no retry, no shardEnded', async () => {
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    kinesis.on(GetRecordsCommand).resolvesOnce({ Records: [record('1')], NextShardIterator: undefined });
    const handler = new RecordingHandler();
    handler.failures.push(new LeaseLostError('shard-1'));
    expect(await worker(handler).done).toBe('lease-lost');
    expect(handler.calls.map(([name]) => name)).toEqual(['initialize', 'processRecords', 'leaseLost']);
  });

  test('stop() between batches: shutdownRequested, and nothing more is processed', async () => {
    kinesis.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
    kinesis.on(GetRecordsCommand).resolves({ Records: [record('1')], NextShardIterator: 'it-next' });
    const handler = new RecordingHandler();
    const w = worker(handler);
    let stopped: Promise<unknown> | undefined;
    handler.onProcess = () => {
      stopped ??= w.stop();
    };
    expect(await w.done).toBe('stopped');
    await stopped;
    expect(handler.calls.map(([name]) => name)).toEqual(['initialize', 'processRecords', 'shutdownRequested']);
  });
});
