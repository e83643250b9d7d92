import { GetRecordsCommandOutput, GetShardIteratorCommand, KinesisClient, ShardIteratorType } from '@aws-sdk/client-kinesis';
import type { Pool } from 'pg';
import { LeaseLostError, UnstorableRecordError } from '../db/persist';
import { errorFields, Logger } from '../logger';
import type { MetricsSink } from '../metrics';
import type { StreamRecord } from '../records';
import { backoffDelay, isRetryableKinesisError, isTransientDbError } from '../retry';
import { Sleeper } from '../sleeper';
import { BatchHandler, BatchResult, PersistingBatchHandler, RecordsBatch } from './batch-handler';
import { ShardReader } from './kinesis-client';
import { getRecordsWorstCaseBytes, MemoryBudget, ReservationAbortedError } from './memory-budget';

/** What every consumer of the stream in this task shares (the coordinator and its shard workers). */
export interface ConsumerSettings {
  readonly kinesis: KinesisClient;
  readonly pool: Pool;
  readonly streamName: string;
  readonly workerId: string;
  readonly leaseTtlMs: number;
  readonly pollIntervalMs: number;
  readonly getRecordsLimit: number;
  readonly maxRecordBytes: number;
  /**
   * The process-wide budget of record bytes in flight (MAX_IN_FLIGHT_BYTES): every GetRecords call of
   * every shard reserves from it first. @default no budget (tests that measure nothing else)
   */
  readonly memoryBudget?: MemoryBudget;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  /** Called after each committed batch (by the default handler). */
  readonly onBatch?: (result: BatchResult & { records: number }) => void;
  /**
   * A new handler for each shard a worker takes.
   * @default a PersistingBatchHandler over these settings (classify, one transaction per batch, metrics)
   */
  readonly batchHandler?: () => BatchHandler;
}

export interface ShardWorkerOptions extends ConsumerSettings {
  readonly shardId: string;
  /** The lease counter given when this task took the shard: the fencing token of every commit. */
  readonly leaseCounter: string;
  /** Consecutive failed attempts at one batch after which the shard counts as stuck. @default 3 */
  readonly stuckAfterAttempts?: number;
  /** Reads the committed checkpoint of the shard. */
  readonly checkpoint: () => Promise<string | undefined>;
}

/**
 * Why a worker exited: `stopped` (told to), `ended` (the shard ended; its lease is completed),
 * `lease-lost` (another worker holds the shard now, or has committed this batch already),
 * `crashed` (an unexpected error: the lease is not released, and nothing past the checkpoint is committed).
 */
export type ShardWorkerExit = 'stopped' | 'ended' | 'lease-lost' | 'crashed';

/**
 * Reads one shard from its checkpoint and hands each GetRecords batch to its BatchHandler, which
 * commits it in one transaction with the checkpoint. A batch is retried (same records, same
 * position) until it commits, the lease is lost (fencing token), or the worker is stopped; the
 * iterator only moves after a commit.
 */
export class ShardWorker {
  private readonly handler: BatchHandler;
  private initialized = false;
  private stopping = false;
  /** Closed by stop(): every pause and backoff sleep ends at once. */
  private readonly sleeper = new Sleeper();
  /** Aborted by stop(): a read waiting for room in the memory budget gives up at once. */
  private readonly aborted = new AbortController();
  private failedAttempts = 0;
  private unstorable = false;
  public readonly done: Promise<ShardWorkerExit>;

  constructor(private readonly o: ShardWorkerOptions) {
    this.handler = o.batchHandler?.() ?? new PersistingBatchHandler(o);
    this.done = this.run().catch((error): ShardWorkerExit => {
      o.logger.error({ shardId: o.shardId, ...errorFields(error) }, 'shard worker failed');
      return 'crashed';
    });
  }

  /**
   * The shard cannot make progress: its current batch failed `stuckAfterAttempts` times in a row,
   * or a record could not be stored in any form. Cleared by the next commit.
   */
  get stuck(): boolean {
    return this.unstorable || this.failedAttempts >= (this.o.stuckAfterAttempts ?? 3);
  }

  get shardId(): string {
    return this.o.shardId;
  }

  get leaseCounter(): string {
    return this.o.leaseCounter;
  }

  /**
   * Interrupts any pause or backoff sleep and exits without committing again; resolves when the
   * worker has exited. A statement already sent finishes first (its commit is fenced anyway).
   */
  stop(): Promise<ShardWorkerExit> {
    this.stopping = true;
    this.sleeper.close();
    this.aborted.abort();
    return this.done;
  }

  private async pause(ms: number): Promise<void> {
    await this.sleeper.sleep(ms);
  }

  private async iterator(): Promise<string> {
    const after = await this.o.checkpoint();
    if (!this.initialized) {
      this.handler.initialize({ shardId: this.o.shardId, leaseCounter: this.o.leaseCounter, checkpoint: after });
      this.initialized = true;
    }
    const out = await this.o.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: this.o.streamName,
        ShardId: this.o.shardId,
        ShardIteratorType: after ? ShardIteratorType.AFTER_SEQUENCE_NUMBER : ShardIteratorType.TRIM_HORIZON,
        StartingSequenceNumber: after,
      }),
    );
    return out.ShardIterator!;
  }

  private async run(): Promise<ShardWorkerExit> {
    const { memoryBudget: budget } = this.o;
    const memory = budget && {
      budget,
      worstCaseBytes: getRecordsWorstCaseBytes(this.o.getRecordsLimit, this.o.maxRecordBytes),
      signal: this.aborted.signal,
    };
    const reader = new ShardReader(this.o.kinesis, this.o.getRecordsLimit, this.o.pollIntervalMs, (ms) => this.pause(ms), memory);
    try {
      return await this.consume(reader);
    } finally {
      // Whatever the exit, this shard's batches give their bytes back to the other shards.
      reader.close();
    }
  }

  private async consume(reader: ShardReader): Promise<ShardWorkerExit> {
    const { logger, shardId } = this.o;
    let iterator: string | undefined;
    let attempt = 0;
    while (!this.stopping) {
      let response: GetRecordsCommandOutput;
      try {
        iterator ??= await this.iterator();
        response = await reader.read(iterator);
        attempt = 0;
      } catch (error) {
        if (error instanceof ReservationAbortedError) break; // a read waiting for the memory budget, given up by stop()
        if ((error as Error).name === 'ExpiredIteratorException') {
          iterator = undefined;
          continue;
        }
        if (isRetryableKinesisError(error) || isTransientDbError(error)) {
          logger.warn({ shardId, attempt, ...errorFields(error) }, 'kinesis read failed; retrying');
          await this.pause(backoffDelay(attempt++, 200, 10_000));
          continue;
        }
        throw error;
      }
      const records = (response.Records ?? []) as StreamRecord[];
      const ended = !response.NextShardIterator;
      // The next batch is read while this one is persisted.
      if (records.length > 0 && !ended) reader.readAhead(response.NextShardIterator!);
      if (records.length > 0 || ended) {
        const outcome = await this.process({
          records,
          shardEnded: ended,
          millisBehindLatest: response.MillisBehindLatest,
          memory: { charge: (bytes) => reader.charge(bytes) },
        });
        if (outcome !== 'committed') return outcome;
      }
      // Committed: its bytes go back now, not after the poll pause, so other shards can fetch.
      reader.release();
      if (ended) {
        this.handler.shardEnded();
        logger.info({ shardId }, 'shard ended; lease completed');
        return 'ended';
      }
      iterator = response.NextShardIterator;
      if (!reader.readingAhead) await this.pause(this.o.pollIntervalMs);
    }
    this.handler.shutdownRequested();
    return 'stopped';
  }

  private async process(batch: RecordsBatch): Promise<'committed' | 'lease-lost' | 'stopped'> {
    const { logger, shardId } = this.o;
    for (let attempt = 0; ; attempt++) {
      if (this.stopping) {
        this.handler.shutdownRequested();
        return 'stopped';
      }
      try {
        await this.handler.processRecords(batch);
        this.failedAttempts = 0;
        this.unstorable = false;
        return 'committed';
      } catch (error) {
        if (error instanceof LeaseLostError) {
          logger.warn({ shardId, ...errorFields(error) }, 'lease lost; nothing written for this batch');
          this.handler.leaseLost();
          return 'lease-lost';
        }
        // Never skip a record: keep the records and the position, and try again with backoff.
        this.failedAttempts++;
        if (error instanceof UnstorableRecordError) this.unstorable = true;
        const transient = isTransientDbError(error);
        const fields = { shardId, attempt, stuck: this.stuck, ...errorFields(error) };
        if (transient) logger.warn(fields, 'database unavailable; retrying batch');
        else logger.error(fields, 'batch failed; retrying');
        if (this.stuck) await this.o.metrics.shardStuck({ shardId, attempts: this.failedAttempts }).catch(() => undefined);
        await this.pause(backoffDelay(attempt, 200, 5_000));
      }
    }
  }
}
