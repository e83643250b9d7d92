/**
 * Sleeps that can be cut short: the pauses and backoffs of the coordinator and the shard workers.
 * `wake()` ends the sleeps under way (a wake with nobody asleep ends the next sleep at once, so a
 * wake that lands while the owner is busy is not lost); `close()` ends them and every later one
 * (stopping must never wait out a backoff: a stale sleeper that wakes after its lease was taken is
 * what fencing guards against).
 */
export class Sleeper {
  private readonly sleepers = new Set<(woken: boolean) => void>();
  private pendingWake = false;
  private isClosed = false;

  /** True once close() was called: every sleep then returns at once. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Resolves with false after `ms`, or with true as soon as it is woken or closed. */
  sleep(ms: number): Promise<boolean> {
    if (this.isClosed) return Promise.resolve(true);
    if (this.pendingWake) {
      this.pendingWake = false;
      return Promise.resolve(true);
    }
    if (ms <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const end = (woken: boolean) => {
        clearTimeout(timer);
        this.sleepers.delete(end);
        resolve(woken);
      };
      const timer = setTimeout(() => end(false), ms);
      this.sleepers.add(end);
    });
  }

  /** Ends the sleeps under way; with none, the next sleep ends at once. */
  wake(): void {
    if (this.sleepers.size === 0) {
      this.pendingWake = true;
      return;
    }
    for (const end of [...this.sleepers]) end(true);
  }

  /** Ends the sleeps under way and makes every later sleep return at once. */
  close(): void {
    this.isClosed = true;
    for (const end of [...this.sleepers]) end(true);
  }
}
