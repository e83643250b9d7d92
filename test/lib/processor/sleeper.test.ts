import { Sleeper } from '../../../lib/processor/sleeper';

/** Settles the promise's callbacks without letting any timer run: what has resolved by now. */
async function state<T>(p: Promise<T>): Promise<{ settled: boolean; value?: T }> {
  let out: { settled: boolean; value?: T } = { settled: false };
  void p.then((value) => {
    out = { settled: true, value };
  });
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return out;
}

describe('Sleeper', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('a sleep nobody interrupts ends after its time, reporting that it was not woken', async () => {
    const s = new Sleeper();
    const p = s.sleep(1_000);
    jest.advanceTimersByTime(999);
    expect(await state(p)).toEqual({ settled: false });
    jest.advanceTimersByTime(1);
    expect(await state(p)).toEqual({ settled: true, value: false });
    expect(jest.getTimerCount()).toBe(0);
  });

  test('wake() ends every sleep under way at once, reports it, and leaves no timer behind', async () => {
    const s = new Sleeper();
    const [a, b] = [s.sleep(60_000), s.sleep(5_000)];
    s.wake();
    expect(await state(a)).toEqual({ settled: true, value: true });
    expect(await state(b)).toEqual({ settled: true, value: true });
    expect(jest.getTimerCount()).toBe(0);
    // Later sleeps are ordinary again.
    const c = s.sleep(10);
    expect(await state(c)).toEqual({ settled: false });
    jest.advanceTimersByTime(10);
    expect(await state(c)).toEqual({ settled: true, value: false });
  });

  test('a wake with nobody asleep is kept for the next sleep only', async () => {
    const s = new Sleeper();
    s.wake();
    s.wake();
    expect(await state(s.sleep(60_000))).toEqual({ settled: true, value: true });
    const next = s.sleep(60_000);
    expect(await state(next)).toEqual({ settled: false });
    jest.advanceTimersByTime(60_000);
    expect(await state(next)).toEqual({ settled: true, value: false });
  });

  test('close() ends the sleeps under way and every later one at once', async () => {
    const s = new Sleeper();
    const asleep = s.sleep(60_000);
    expect(s.closed).toBe(false);
    s.close();
    expect(s.closed).toBe(true);
    expect(await state(asleep)).toEqual({ settled: true, value: true });
    expect(await state(s.sleep(60_000))).toEqual({ settled: true, value: true });
    expect(jest.getTimerCount()).toBe(0);
  });

  test('a sleep of zero or less ends at once without a timer', async () => {
    const s = new Sleeper();
    expect(await state(s.sleep(0))).toEqual({ settled: true, value: false });
    expect(await state(s.sleep(-5))).toEqual({ settled: true, value: false });
    expect(jest.getTimerCount()).toBe(0);
  });
});
