import { GetRecordsCommand, GetRecordsCommandOutput, GetShardIteratorCommand, KinesisClient, ShardIteratorType } from '@aws-sdk/client-kinesis';
import type { Pool } from 'pg';
import { isDataError, LeaseLostError, persistBatch, persistIsolating, PersistResult } from '../db/persist';
import { errorFields, Logger } from '../logger';
import type { MetricsSink } from '../metrics';
import { classify, StreamRecord } from '../records';
import { backoffDelay, isRetryableKinesisError, isTransientDbError, sleep } from '../retry';

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
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  /** Called after each committed batch. */
  readonly onBatch?: (result: PersistResult & { records: number }) => void;
}

export interface ShardWorkerOptions extends ConsumerSettings {
  readonly shardId: string;
  /** Reads the committed checkpoint of the shard. */
  readonly checkpoint: () => Promise<string | undefined>;
}

export type ShardWorkerExit = 'stopped' | 'ended' | 'lease-lost';

/**
 * Reads one shard from its checkpoint and persists each GetRecords batch in one transaction.
 * A batch is retried (same records, same position) until it commits, the lease is lost, or the
 * worker is stopped; the iterator only moves after a commit.
 */
export class ShardWorker {
  private stopping = false;
  private wake: (() => void) | undefined;
  public readonly done: Promise<ShardWorkerExit>;

  constructor(private readonly o: ShardWorkerOptions) {
    this.done = this.run().catch((error) => {
      o.logger.error({ shardId: o.shardId, ...errorFields(error) }, 'shard worker failed');
      return 'lease-lost' as ShardWorkerExit;
    });
  }

  /** Finish the batch in hand, then exit. */
  stop(): Promise<ShardWorkerExit> {
    this.stopping = true;
    this.wake?.();
    return this.done;
  }

  private async pause(ms: number): Promise<void> {
    if (this.stopping || ms <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => { clearTimeout(timer); resolve(); };
    });
    this.wake = undefined;
  }

  private async iterator(): Promise<string> {
    const after = await this.o.checkpoint();
    const out = await this.o.kinesis.send(new GetShardIteratorCommand({
      StreamName: this.o.streamName,
      ShardId: this.o.shardId,
      ShardIteratorType: after ? ShardIteratorType.AFTER_SEQUENCE_NUMBER : ShardIteratorType.TRIM_HORIZON,
      StartingSequenceNumber: after,
    }));
    return out.ShardIterator!;
  }

  private async run(): Promise<ShardWorkerExit> {
    const { logger, shardId } = this.o;
    let iterator: string | undefined;
    let attempt = 0;
    while (!this.stopping) {
      let response: GetRecordsCommandOutput;
      try {
        iterator ??= await this.iterator();
        response = await this.o.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: this.o.getRecordsLimit }));
        attempt = 0;
      } catch (error) {
        if ((error as Error).name === 'ExpiredIteratorException') { iterator = undefined; continue; }
        if (isRetryableKinesisError(error) || isTransientDbError(error)) {
          logger.warn({ shardId, attempt, ...errorFields(error) }, 'kinesis read failed; retrying');
          await this.pause(backoffDelay(attempt++, 200, 10_000));
          continue;
        }
        throw error;
      }
      const records = (response.Records ?? []) as StreamRecord[];
      const ended = !response.NextShardIterator;
      if (records.length > 0 || ended) {
        const outcome = await this.persist(records, ended, response.MillisBehindLatest);
        if (outcome !== 'committed') return outcome;
      }
      if (ended) {
        logger.info({ shardId }, 'shard ended; lease completed');
        return 'ended';
      }
      iterator = response.NextShardIterator;
      await this.pause(this.o.pollIntervalMs);
    }
    return 'stopped';
  }

  private async persist(records: StreamRecord[], ended: boolean, millisBehindLatest?: number): Promise<'committed' | 'lease-lost' | 'stopped'> {
    const { logger, shardId } = this.o;
    const batch = classify(records, this.o.maxRecordBytes);
    const ctx = { streamName: this.o.streamName, shardId, workerId: this.o.workerId, leaseTtlMs: this.o.leaseTtlMs, shardEnded: ended };
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        let result: PersistResult;
        try {
          result = await persistBatch(this.o.pool, batch, ctx);
        } catch (error) {
          if (!isDataError(error)) throw error;
          logger.warn({ shardId, errorCode: (error as { code?: string }).code }, 'batch rejected by the database; isolating the record');
          const payloads = new Map(records.map((r) => [r.SequenceNumber!, Buffer.from(r.Data ?? new Uint8Array())]));
          result = await persistIsolating(this.o.pool, batch, ctx, (seq) => payloads.get(seq)!);
        }
        const latency = Date.now() - started;
        this.o.onBatch?.({ ...result, records: records.length });
        await this.o.metrics.batch({ shardId, records: records.length, ...result, batchLatencyMs: latency, millisBehindLatest });
        logger.debug({ shardId, records: records.length, ...result, latencyMs: latency }, 'batch committed');
        return 'committed';
      } catch (error) {
        if (error instanceof LeaseLostError) {
          logger.warn({ shardId }, 'lease lost; nothing written for this batch');
          return 'lease-lost';
        }
        if (!isTransientDbError(error)) throw error;
        // The database is unavailable: keep the records and the position, and try again.
        if (this.stopping && attempt > 3) return 'stopped';
        logger.warn({ shardId, attempt, ...errorFields(error) }, 'database unavailable; retrying batch');
        await sleep(backoffDelay(attempt, 200, 5_000));
      }
    }
  }
}
