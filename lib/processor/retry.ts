/** Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2^attempt)). */
export function backoffDelay(attempt: number, baseMs = 100, capMs = 10_000, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20)));
}

/** Resolves after `ms`. A pause that stopping must cut short is a Sleeper's (sleeper.ts). */
export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/** Kinesis errors worth retrying after a pause. */
export function isRetryableKinesisError(error: unknown): boolean {
  const name = (error as { name?: string }).name ?? '';
  return (
    [
      'ProvisionedThroughputExceededException',
      'LimitExceededException',
      'ThrottlingException',
      'KMSThrottlingException',
      'InternalFailure',
      'ServiceUnavailable',
      'TimeoutError',
      'RequestTimeout',
    ].includes(name) ||
    (error as { $retryable?: unknown }).$retryable !== undefined ||
    isNetworkError(error)
  );
}

/** SQLSTATE classes that mean "this data cannot be stored", not "the database is unavailable". */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}

/**
 * The database or network is (briefly) unavailable: the same work will succeed later. This includes
 * pg's refusal to use a client whose connection already failed ("Client has encountered a connection
 * error and is not queryable": the server ended the session while it sat in a transaction, as in a
 * failover or an administrator's pg_terminate_backend).
 */
export function isTransientDbError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^(08|53|57P0[123]|40001|40P01|55P03)/.test(code)) return true;
  return (
    isNetworkError(error) ||
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|encountered a connection error and is not queryable/i.test(
      String((error as Error)?.message),
    )
  );
}

function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    typeof code === 'string' &&
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'].includes(code)
  );
}

export interface RetryOptions {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  readonly baseMs: number;
  readonly capMs: number;
  /** @default isTransientDbError */
  readonly retryable?: (error: unknown) => boolean;
  /** Before each pause, with the attempt that failed (0 for the first). */
  readonly onRetry?: (error: unknown, attempt: number) => void;
}

/** Runs `work` until it succeeds; a retryable error is retried after a backoff pause, up to `attempts` in all. */
export async function retryTransient<T>(work: () => Promise<T>, options: RetryOptions): Promise<T> {
  const retryable = options.retryable ?? isTransientDbError;
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!retryable(error) || attempt + 1 >= options.attempts) throw error;
      options.onRetry?.(error, attempt);
      await sleep(backoffDelay(attempt, options.baseMs, options.capMs));
    }
  }
}
