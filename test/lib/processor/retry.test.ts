import { backoffDelay, isDataError, isRetryableKinesisError, isTransientDbError, retryTransient } from '../../../lib/processor/retry';

describe('backoff with full jitter', () => {
  test('grows exponentially up to the cap, scaled by the random draw', () => {
    expect(backoffDelay(0, 100, 10_000, () => 0.999)).toBe(99);
    expect(backoffDelay(3, 100, 10_000, () => 0.5)).toBe(400);
    expect(backoffDelay(30, 100, 10_000, () => 0.999)).toBe(9_990);
    expect(backoffDelay(5, 100, 10_000, () => 0)).toBe(0);
  });
});

describe('error classification', () => {
  test.each([
    ['ProvisionedThroughputExceededException', true],
    ['ExpiredIteratorException', false],
    ['ResourceNotFoundException', false],
  ])('kinesis %s retryable: %s', (name, retryable) => {
    expect(isRetryableKinesisError(Object.assign(new Error('x'), { name }))).toBe(retryable);
  });
  test.each([
    ['57P01', true],
    ['08006', true],
    ['ECONNREFUSED', true],
    ['23505', false],
    ['22P02', false],
  ])('database %s transient: %s', (code, transient) => {
    expect(isTransientDbError(Object.assign(new Error('x'), { code }))).toBe(transient);
  });
  test.each([
    ['Connection terminated unexpectedly', true],
    // pg, on a client whose session the server ended inside a transaction (failover, pg_terminate_backend)
    ['Client has encountered a connection error and is not queryable', true],
    ['duplicate key value violates unique constraint', false],
  ])('database error "%s" (no code) transient: %s', (message, transient) => {
    expect(isTransientDbError(new Error(message))).toBe(transient);
  });
  test('data errors are the ones a record causes', () => {
    expect(isDataError({ code: '22P05' })).toBe(true);
    expect(isDataError({ code: '08006' })).toBe(false);
    expect(isDataError(new Error('x'))).toBe(false);
  });
});

describe('retryTransient', () => {
  const failing = (codes: string[]) => {
    let calls = 0;
    const work = async () => {
      const code = codes[calls++];
      if (code) throw Object.assign(new Error(`failed ${code}`), { code });
      return calls;
    };
    return { work, calls: () => calls };
  };

  test('repeats transient database errors, reporting each, until the work succeeds', async () => {
    const { work } = failing(['08006', '57P01']);
    const retried: number[] = [];
    await expect(retryTransient(work, { attempts: 3, baseMs: 0, capMs: 0, onRetry: (_e, attempt) => retried.push(attempt) })).resolves.toBe(
      3,
    );
    expect(retried).toEqual([0, 1]);
  });

  test('a data error at once, a transient one after the last attempt', async () => {
    const data = failing(['23514']);
    await expect(retryTransient(data.work, { attempts: 5, baseMs: 0, capMs: 0 })).rejects.toMatchObject({ code: '23514' });
    expect(data.calls()).toBe(1);
    const down = failing(['08006', '08006', '08006']);
    await expect(retryTransient(down.work, { attempts: 2, baseMs: 0, capMs: 0 })).rejects.toMatchObject({ code: '08006' });
    expect(down.calls()).toBe(2);
    const race = failing(['23505']);
    await expect(
      retryTransient(race.work, { attempts: 2, baseMs: 0, capMs: 0, retryable: (e) => (e as { code: string }).code === '23505' }),
    ).resolves.toBe(2);
  });
});
