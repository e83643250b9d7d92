/**
 * The seam between a shard worker's lease machinery and what a batch means, in the shape of the
 * Kinesis Client Library's ShardRecordProcessor (initialize, processRecords, leaseLost, shardEnded,
 * shutdownRequested). The worker reads the shard, keeps the iterator, retries, detects a stuck shard
 * and stops; the handler turns a batch into committed rows.
 */
import type { Pool } from 'pg';
import { BatchContext, BatchProgress, persistBatch, PersistResult } from '../db/persist';
import { errorFields, Logger } from '../logger';
import type { MetricsSink } from '../metrics';
import { BatchRows, ClassifiedBatch, classify, StreamRecord } from '../records';

/** Where a handler's shard starts (the KCL's InitializationInput). */
export interface ShardStart {
  readonly shardId: string;
  /** The fencing token of every commit for this shard. */
  readonly leaseCounter: string;
  /** The committed checkpoint; undefined when the shard is read from its trim horizon. */
  readonly checkpoint?: string;
}

/** One GetRecords batch. The worker passes the same object again to retry it. */
export interface RecordsBatch {
  readonly records: readonly StreamRecord[];
  /** The shard has ended (no next iterator): committing this batch completes the lease. */
  readonly shardEnded: boolean;
  readonly millisBehindLatest?: number;
  /** The batch's share of the process's memory budget, when it has one. @default none */
  readonly memory?: BatchMemory;
}

/** The memory budget as a batch sees it (memory-budget.ts). */
export interface BatchMemory {
  /**
   * What the batch holds now that it is decoded (inflated payloads are larger than received): the
   * reservation grows to at least `bytes` without waiting, and further fetches wait until it is released.
   */
  charge(bytes: number): void;
}

/** The bytes a classified batch keeps until it commits: the stored texts and the quarantined payloads. */
export function classifiedBytes(batch: BatchRows): number {
  let total = 0;
  for (const e of batch.valid) total += e.json.length;
  for (const q of batch.quarantined) total += q.payload.byteLength;
  return total;
}

/** A committed batch's counts (transactions across every attempt at it). */
export type BatchResult = PersistResult;

/**
 * What a shard worker asks of the application. Unlike the KCL there is no separate checkpointer:
 * this project commits a batch's rows and the shard's checkpoint in one transaction, fenced by the
 * lease counter, so processRecords resolving IS the checkpoint.
 */
export interface BatchHandler {
  /** Before the first batch. */
  initialize(start: ShardStart): void;
  /**
   * Commits the batch (rows, quarantine, audit events and checkpoint; the lease completed when the
   * shard ended) in one transaction, or throws: LeaseLostError when the lease is gone (nothing was
   * written); anything else and the worker retries the same batch, unless it is stopping.
   */
  processRecords(batch: RecordsBatch): Promise<BatchResult>;
  /** Another worker holds the shard now (or committed this batch): nothing more is sent. */
  leaseLost(): void;
  /** The batch that ended the shard committed; the lease is completed. */
  shardEnded(): void;
  /** The worker was told to stop; nothing more is sent. */
  shutdownRequested(): void;
}

/** What the persisting handler needs of the consumer's settings. */
export interface PersistingHandlerSettings {
  readonly pool: Pool;
  readonly streamName: string;
  readonly workerId: string;
  readonly leaseTtlMs: number;
  readonly maxRecordBytes: number;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  /** Called after each committed batch. */
  readonly onBatch?: (result: BatchResult & { records: number }) => void;
}

/**
 * The processor's handler: classify (the batch's complete plan), then persistBatch (one transaction,
 * bisected when the database refuses a record), then the batch's metrics.
 */
export class PersistingBatchHandler implements BatchHandler {
  private shard: ShardStart | undefined;
  /** The batch being tried: its plan, and how far bisection already committed (a retry sends only the rest). */
  private pending: { batch: RecordsBatch; classified: ClassifiedBatch; progress: BatchProgress; started: number } | undefined;

  constructor(private readonly o: PersistingHandlerSettings) {}

  initialize(start: ShardStart): void {
    this.shard = start;
  }

  async processRecords(batch: RecordsBatch): Promise<BatchResult> {
    const shard = this.shard;
    if (!shard) throw new Error('processRecords before initialize: the shard worker must initialize its handler first');
    if (this.pending?.batch !== batch) {
      this.pending = {
        batch,
        classified: classify(batch.records, this.o.maxRecordBytes),
        progress: { transactions: 0 },
        started: Date.now(),
      };
      batch.memory?.charge(classifiedBytes(this.pending.classified));
    }
    const { classified, progress, started } = this.pending;
    const { logger, metrics } = this.o;
    const { shardId } = shard;
    const ctx: BatchContext = {
      streamName: this.o.streamName,
      shardId,
      workerId: this.o.workerId,
      leaseTtlMs: this.o.leaseTtlMs,
      leaseCounter: shard.leaseCounter,
      shardEnded: batch.shardEnded,
    };
    const result = await persistBatch(this.o.pool, classified, ctx, progress);
    this.pending = undefined;
    const records = batch.records.length;
    const latency = Date.now() - started;
    const committed = { ...result, transactions: progress.transactions };
    // The batch is committed: nothing after this point may send it again.
    try {
      this.o.onBatch?.({ ...committed, records });
      await metrics.batch({ shardId, records, ...committed, batchLatencyMs: latency, millisBehindLatest: batch.millisBehindLatest });
    } catch (error) {
      logger.warn({ shardId, ...errorFields(error) }, 'batch committed, but its metrics could not be written');
    }
    if (progress.transactions > 1)
      logger.warn(
        { shardId, records, transactions: progress.transactions, quarantined: result.quarantined },
        'batch rejected by the database; bisected and committed',
      );
    logger.debug({ shardId, records, ...committed, latencyMs: latency }, 'batch committed');
    return committed;
  }

  leaseLost(): void {
    this.pending = undefined;
  }

  shardEnded(): void {
    this.pending = undefined;
  }

  shutdownRequested(): void {
    this.pending = undefined;
  }
}
