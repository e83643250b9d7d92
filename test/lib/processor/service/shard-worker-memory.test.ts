import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import type { Pool } from 'pg';
import { gzipSync } from 'zlib';
import { createLogger } from '../../../../lib/processor/logger';
import { NoMetrics } from '../../../../lib/processor/metrics';
import { classify } from '../../../../lib/processor/records';
import { BatchHandler, classifiedBytes, RecordsBatch } from '../../../../lib/processor/service/batch-handler';
import { MemoryBudget } from '../../../../lib/processor/service/memory-budget';
import { ShardWorker } from '../../../../lib/processor/service/shard-worker';

/** Each record carries 1,000 bytes; GetRecords limit 2 and MAX_RECORD_BYTES 1,024: a worst case of 2,048 bytes per call. */
const RECORD_BYTES = 1_000;
const record = (seq: string) => ({ SequenceNumber: seq, PartitionKey: 'p', Data: Buffer.alloc(RECORD_BYTES, seq) });

/** Waits for observed progress (never for time): fails if `cond` is still false after every queued callback ran many times. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 20_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

/** A handler whose commits wait until the test opens them, one at a time; it keeps what it committed. */
class GatedHandler implements BatchHandler {
  readonly committed: string[] = [];
  readonly waiting: Array<{ batch: RecordsBatch; open: () => void }> = [];
  /** Charged to the batch's reservation when it arrives (what classification would make of it). */
  charge = 0;

  constructor(private readonly shard: string) {}

  initialize(): void {}
  async processRecords(batch: RecordsBatch) {
    if (this.charge) batch.memory?.charge(this.charge);
    await new Promise<void>((open) => this.waiting.push({ batch, open }));
    this.committed.push(...batch.records.map((r) => `${this.shard}:${r.SequenceNumber}`));
    return { written: batch.records.length, duplicates: 0, stale: 0, quarantined: 0, quarantinedByReason: {}, transactions: 1 };
  }
  /** Commits the batch waiting now. */
  open(): void {
    this.waiting.shift()!.open();
  }
  leaseLost(): void {}
  shardEnded(): void {}
  shutdownRequested(): void {}
}

describe('shard workers share one memory budget: fetches wait while it is used, and resume after commits', () => {
  const kinesis = mockClient(KinesisClient);
  beforeEach(() => {
    kinesis.reset();
    kinesis.on(GetShardIteratorCommand, { ShardId: 'A' }).resolves({ ShardIterator: 'A-0' });
    kinesis.on(GetShardIteratorCommand, { ShardId: 'B' }).resolves({ ShardIterator: 'B-0' });
    // Each shard: two full batches, then the shard ends.
    for (const shard of ['A', 'B']) {
      kinesis
        .on(GetRecordsCommand, { ShardIterator: `${shard}-0` })
        .resolves({ Records: [record('1'), record('2')], NextShardIterator: `${shard}-1` });
      kinesis
        .on(GetRecordsCommand, { ShardIterator: `${shard}-1` })
        .resolves({ Records: [record('3'), record('4')], NextShardIterator: undefined });
    }
  });
  const getRecordsCalls = () => kinesis.commandCalls(GetRecordsCommand).map((c) => c.args[0].input.ShardIterator);

  function worker(shardId: string, handler: BatchHandler, budget: MemoryBudget): ShardWorker {
    return new ShardWorker({
      kinesis: new KinesisClient({ region: 'eu-west-2' }),
      pool: {} as Pool,
      streamName: 's',
      shardId,
      workerId: 'w1',
      leaseTtlMs: 30_000,
      leaseCounter: '1',
      pollIntervalMs: 0,
      getRecordsLimit: 2,
      maxRecordBytes: 1_024,
      memoryBudget: budget,
      logger: createLogger('w1', 'silent'),
      metrics: new NoMetrics(),
      checkpoint: async () => undefined,
      batchHandler: () => handler,
    });
  }

  /** Starts A, then B once A's first batch is in its handler; resolves when B's first fetch and A's read-ahead wait in the budget. */
  async function aHoldsABatch(budget: MemoryBudget, charge = 0) {
    const [a, b] = [new GatedHandler('A'), new GatedHandler('B')];
    a.charge = charge;
    const wa = worker('A', a, budget);
    await until(() => a.waiting.length === 1);
    const wb = worker('B', b, budget);
    await until(() => budget.waiting === 2);
    expect(getRecordsCalls()).toEqual(['A-0']);
    return { a, b, wa, wb };
  }

  test('with room for one batch, every other fetch (the other shard, the read-ahead) waits for a commit; nothing is lost or repeated', async () => {
    // 2,048 bytes: one worst-case reservation; once it shrinks to the 2,000 bytes received, no second one fits.
    const budget = new MemoryBudget(2_048);
    // A's batch holds its 2,000 bytes; B's first fetch and A's read-ahead wait in the budget, unsent.
    const { a, b, wa, wb } = await aHoldsABatch(budget);
    expect(budget.used).toBe(2 * RECORD_BYTES);

    // Granted in arrival order: A's read-ahead asked before B's first fetch.
    a.open();
    await until(() => a.waiting.length === 1);
    expect(getRecordsCalls()).toEqual(['A-0', 'A-1']);
    expect(budget.waiting).toBe(1); // B's first fetch, still unsent
    a.open(); // A's shard ends: B's fetch goes out
    expect(await wa.done).toBe('ended');
    await until(() => b.waiting.length === 1);
    expect(getRecordsCalls()).toEqual(['A-0', 'A-1', 'B-0']);
    b.open();
    await until(() => b.waiting.length === 1);
    b.open();
    expect(await wb.done).toBe('ended');

    expect(a.committed).toEqual(['A:1', 'A:2', 'A:3', 'A:4']);
    expect(b.committed).toEqual(['B:1', 'B:2', 'B:3', 'B:4']);
    expect(getRecordsCalls()).toEqual(['A-0', 'A-1', 'B-0', 'B-1']);
    expect([budget.used, budget.waiting, budget.peak]).toEqual([0, 0, 2_048]);
  });

  test('a batch larger than the whole budget is still fetched and committed, alone; the other shard waits, then gets its turn', async () => {
    const budget = new MemoryBudget(1_500); // less than one batch (2,000 bytes) and than the worst case (2,048)
    const [a, b] = [new GatedHandler('A'), new GatedHandler('B')];
    const wa = worker('A', a, budget);
    const wb = worker('B', b, budget);
    const handlers = [a, b];
    // Whichever batch is in the handler is the only one held: every other fetch waits.
    for (let committed = 0; committed < 4; committed++) {
      await until(() => handlers.some((h) => h.waiting.length === 1));
      expect(handlers.filter((h) => h.waiting.length === 1)).toHaveLength(1);
      expect(budget.used).toBe(2 * RECORD_BYTES);
      handlers.find((h) => h.waiting.length === 1)!.open();
    }
    expect(await Promise.all([wa.done, wb.done])).toEqual(['ended', 'ended']);
    expect(a.committed).toEqual(['A:1', 'A:2', 'A:3', 'A:4']);
    expect(b.committed).toEqual(['B:1', 'B:2', 'B:3', 'B:4']);
    expect([budget.used, budget.waiting]).toEqual([0, 0]);
    expect(budget.peak).toBe(2_048);
  });

  test('what a batch grows to once decoded (inflated payloads) is charged until it commits: nothing else is fetched meanwhile', async () => {
    const budget = new MemoryBudget(10_000);
    const { a, b, wa, wb } = await aHoldsABatch(budget, 9_000); // 2,000 bytes received, 9,000 once inflated
    expect(budget.used).toBe(9_000);
    a.charge = 0;
    a.open();
    // Its bytes are back: the rest flows (several batches at once now: they fit).
    const done = Promise.all([wa.done, wb.done]);
    let ended = false;
    void done.then(() => (ended = true));
    while (!ended) {
      await until(() => ended || a.waiting.length + b.waiting.length > 0);
      for (const h of [a, b]) while (h.waiting.length) h.open();
    }
    expect(await done).toEqual(['ended', 'ended']);
    expect([...a.committed, ...b.committed]).toHaveLength(8);
    expect(budget.used).toBe(0);
  });

  test('a worker stopped while its fetch waits for the budget exits at once and leaves nothing held or queued', async () => {
    const budget = new MemoryBudget(2_048);
    const { a, b, wa, wb } = await aHoldsABatch(budget);
    expect(await wb.stop()).toBe('stopped');
    expect(budget.waiting).toBe(1); // A's read-ahead only
    expect(getRecordsCalls()).toEqual(['A-0']);
    a.open();
    await until(() => a.waiting.length === 1);
    a.open();
    expect(await wa.done).toBe('ended');
    expect(a.committed).toEqual(['A:1', 'A:2', 'A:3', 'A:4']);
    expect(b.committed).toEqual([]);
    expect([budget.used, budget.waiting]).toEqual([0, 0]);
  });

  test('a worker stopped with a batch in hand and its read-ahead fetched gives all their bytes back', async () => {
    const budget = new MemoryBudget(100_000);
    const a = new GatedHandler('A');
    const wa = worker('A', a, budget);
    await until(() => a.waiting.length === 1 && getRecordsCalls().length === 2);
    await until(() => budget.used === 4 * RECORD_BYTES); // the batch in hand and the read-ahead, both received
    const stopped = wa.stop();
    a.open(); // the batch in hand commits (a statement already sent finishes), then the worker exits
    expect(await stopped).toBe('stopped');
    await until(() => budget.used === 0);
  });
});

describe('classifiedBytes: what a decoded batch holds until it commits', () => {
  test('a compressed record counts at its inflated size; a quarantined one at its payload', () => {
    const json = JSON.stringify({ resourceType: 'Patient', id: 'p1', name: [{ family: 'x'.repeat(5_000) }] });
    const gz = gzipSync(json);
    const batch = classify(
      [
        { SequenceNumber: '1', PartitionKey: 'p1', Data: gz },
        { SequenceNumber: '2', PartitionKey: 'p1', Data: Buffer.from('not json') },
      ],
      262_144,
    );
    expect(batch.valid).toHaveLength(1);
    expect(batch.quarantined).toHaveLength(1);
    expect(gz.byteLength).toBeLessThan(200);
    expect(classifiedBytes(batch)).toBe(batch.valid[0].json.length + 'not json'.length);
    expect(classifiedBytes(batch)).toBeGreaterThan(5_000);
  });
});
