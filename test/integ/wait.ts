import type { RunSummary } from '../../lib/processor/tasks/verify/main';

export interface WaitOptions {
  /** Give up (returning the last summary) after this long. */
  readonly timeoutMs: number;
  /** Pause between verifications. */
  readonly intervalMs: number;
  /**
   * Verify-task failures in a row that end the wait. A one-off ECS task can fail for reasons that
   * pass (no ENI capacity, image pull throttled, the database failing over): one failure must not
   * fail the run, a persistent one must. @default 3
   */
  readonly maxConsecutiveFailures?: number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Date.now */
  readonly now?: () => number;
  /** Told about each failure that will be retried (for the build log). */
  readonly onRetry?: (error: Error, failuresInARow: number) => void;
}

/**
 * Verifies until `done` holds or the time is up, retrying failed verifications (see
 * maxConsecutiveFailures). Returns the last summary; throws the last error when every attempt
 * failed or the failures in a row reached the limit.
 */
export async function waitForRun<T = RunSummary>(verify: () => Promise<T>, done: (s: T) => boolean, options: WaitOptions): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const maxFailures = options.maxConsecutiveFailures ?? 3;
  const deadline = now() + options.timeoutMs;
  let last: T | undefined;
  let lastError: Error | undefined;
  let failures = 0;
  do {
    try {
      last = await verify();
      failures = 0;
      if (done(last)) return last;
    } catch (error) {
      lastError = error instanceof Error ? error : new Error(String(error));
      failures++;
      if (failures >= maxFailures) throw lastError;
      options.onRetry?.(lastError, failures);
    }
    await sleep(options.intervalMs);
  } while (now() < deadline);
  if (last === undefined) throw lastError ?? new Error('no verification ran before the deadline');
  return last;
}
