import { ListShardsCommand, ListShardsCommandOutput } from '@aws-sdk/client-kinesis';
import { fairShare, LeaseStore, liveWorkers, ShardInfo } from '../db/leases';
import { errorFields } from '../logger';
import { backoffDelay } from '../retry';
import { Sleeper } from '../sleeper';
import { ConsumerSettings, ShardWorker } from './shard-worker';

export type CoordinatorOptions = ConsumerSettings;

/**
 * Keeps this task's share of the stream's shards: discovers shards (and reshards), heartbeats,
 * renews its leases, takes expired or unowned ones up to a fair share, gives back extras when
 * other tasks join, and runs a ShardWorker per held shard.
 */
export class Coordinator {
  private readonly leases: LeaseStore;
  private readonly workers = new Map<string, ShardWorker>();
  private stopping = false;
  private loop: Promise<void> | undefined;
  /** The wait between cycles and the backoff: cut short by shutdown, or by a shard that ended. */
  private readonly sleeper = new Sleeper();
  /** Time of the last completed cycle; the health check reads it. */
  public lastCycleAt = 0;
  /** Renewal periods waited out in full (no join, leave or catch-up cut the wait short). */
  public renewalPeriods = 0;
  /** The live workers seen by the last cycle (sorted ids, joined) and this task's share then. */
  private membership = '';
  private target = 0;
  /** Until then, holding fewer shards than the share starts the next cycle at once. */
  private catchUpUntil = 0;

  constructor(private readonly o: CoordinatorOptions) {
    this.leases = new LeaseStore(o.pool, o.streamName, o.workerId, o.leaseTtlMs);
  }

  get heldShards(): string[] {
    return [...this.workers.keys()].sort();
  }

  /** Held shards whose worker cannot make progress (the health check turns unhealthy). */
  get stuckShards(): string[] {
    return [...this.workers.values()]
      .filter((w) => w.stuck)
      .map((w) => w.shardId)
      .sort();
  }

  get cycleIntervalMs(): number {
    return Math.max(100, Math.floor(this.o.leaseTtlMs / 4));
  }

  /** How often the wait between cycles looks for a task joining or leaving (one small read). */
  get watchIntervalMs(): number {
    return Math.min(500, Math.max(50, Math.floor(this.cycleIntervalMs / 8)));
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops the workers (each finishes its batch), releases the leases and leaves. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.sleeper.close();
    await this.loop;
    const shards = [...this.workers.keys()];
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    this.workers.clear();
    await this.leases
      .release(shards)
      .catch((error) => this.o.logger.warn(errorFields(error), 'could not release leases; they will expire'));
    await this.leases.leave().catch(() => undefined);
    this.o.logger.info({ released: shards }, 'leases released');
  }

  private async run(): Promise<void> {
    let attempt = 0;
    let cycle = 0;
    while (!this.stopping) {
      try {
        await this.cycle(cycle++ % 10 === 0);
        this.lastCycleAt = Date.now();
        attempt = 0;
        await this.untilNextCycle();
      } catch (error) {
        this.o.logger.warn({ attempt, ...errorFields(error) }, 'coordination cycle failed; retrying');
        await this.sleeper.sleep(backoffDelay(attempt++, 200, 5_000));
      }
    }
  }

  /**
   * Waits one renewal period, but starts the next cycle at once when the set of live workers
   * changes (the over-share task gives back leases as soon as a newcomer heartbeats), or, just
   * after such a change, while this task holds less than its share (the newcomer takes the
   * released leases right away). So a new task has its share within one renewal period.
   */
  private async untilNextCycle(): Promise<void> {
    const due = Date.now() + this.cycleIntervalMs;
    for (;;) {
      const left = due - Date.now();
      if (left <= 0) {
        this.renewalPeriods++;
        return;
      }
      // Woken: shutdown, or a shard ended (its children may be eligible now).
      if (await this.sleeper.sleep(Math.min(this.watchIntervalMs, left))) return;
      if (this.stopping) return;
      if (Date.now() < this.catchUpUntil && this.workers.size < this.target) return;
      try {
        if ((await liveWorkers(this.o.pool, this.o.streamName, this.o.leaseTtlMs)).join('\n') !== this.membership) return;
      } catch {
        return; // the cycle reports the database problem and backs off
      }
    }
  }

  private async listShards(): Promise<ShardInfo[]> {
    const shards: ShardInfo[] = [];
    let token: string | undefined;
    do {
      const page: ListShardsCommandOutput = await this.o.kinesis.send(
        new ListShardsCommand(token ? { NextToken: token } : { StreamName: this.o.streamName }),
      );
      for (const s of page.Shards ?? []) {
        shards.push({ shardId: s.ShardId!, parentShardIds: [s.ParentShardId, s.AdjacentParentShardId].filter((p): p is string => !!p) });
      }
      token = page.NextToken;
    } while (token);
    return shards;
  }

  private async cycle(discover: boolean): Promise<void> {
    if (discover) await this.leases.syncShards(await this.listShards());
    const live = await this.leases.heartbeat();
    const counters = await this.leases.renew();
    const held = new Set(counters.keys());

    // Workers whose lease is gone (expired during an outage, or taken over, even by this task under
    // a new counter) stop at once: their sleep is interrupted and we wait for them to exit.
    const lost = [...this.workers].filter(([shardId, worker]) => counters.get(shardId) !== worker.leaseCounter);
    for (const [shardId] of lost) this.workers.delete(shardId);
    await Promise.all(lost.map(([, worker]) => worker.stop()));

    const members = await liveWorkers(this.o.pool, this.o.streamName, this.o.leaseTtlMs);
    const rank = members.indexOf(this.o.workerId);
    const target = fairShare(
      await this.leases.eligibleCount(),
      rank < 0 ? members.length + 1 : members.length,
      rank < 0 ? members.length : rank,
    );
    if (members.join('\n') !== this.membership) {
      // A task joined or left: shares moved, so keep cycling quickly until this task holds its own.
      this.membership = members.join('\n');
      this.catchUpUntil = Date.now() + 2 * this.cycleIntervalMs;
    }
    this.target = target;
    if (held.size > target) {
      const extra = [...held].sort().slice(target);
      await Promise.all(extra.map((id) => this.workers.get(id)?.stop()));
      extra.forEach((id) => {
        this.workers.delete(id);
        held.delete(id);
      });
      await this.leases.release(extra);
      this.o.logger.info({ released: extra, target, live }, 'rebalanced: released leases');
    } else if (held.size < target) {
      const taken = await this.leases.acquire(target - held.size);
      taken.forEach((counter, id) => {
        held.add(id);
        counters.set(id, counter);
      });
      if (taken.size > 0) this.o.logger.info({ acquired: [...taken.keys()], target, live }, 'acquired leases');
    }

    for (const shardId of held) {
      if (!this.workers.has(shardId)) this.startWorker(shardId, counters.get(shardId)!);
    }
  }

  private startWorker(shardId: string, leaseCounter: string): void {
    const worker = new ShardWorker({ ...this.o, shardId, leaseCounter, checkpoint: () => this.leases.checkpoint(shardId) });
    this.workers.set(shardId, worker);
    void worker.done.then((exit) => {
      if (this.workers.get(shardId) === worker) this.workers.delete(shardId);
      // The lease is still this task's: the next cycle starts a new worker from the checkpoint.
      if (exit === 'crashed')
        this.o.logger.error({ shardId }, 'shard worker crashed; a new one starts from the checkpoint at the next cycle');
      if (exit === 'ended' && !this.stopping) this.sleeper.wake();
    });
  }
}
