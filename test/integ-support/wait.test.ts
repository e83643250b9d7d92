import type { RunSummary } from '../../lib/processor/tasks/verify/main';
import { waitForRun } from '../integ/wait';

const summary = (history: number): RunSummary => ({
  runId: 'integ-abc',
  history,
  current: history,
  quarantined: {},
  audit: {},
  duplicates: 0,
});

/** A clock that moves only when the loop sleeps: no real time, no timing luck. */
function fakeClock() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
}

// Issue 8, defect 8: the first failed verify task used to fail the whole integration run.
describe("waitForRun (the integration suite's wait loop)", () => {
  test('a verify task that fails once (e.g. no ENI capacity) is retried, and the run still passes', async () => {
    const results: Array<RunSummary | Error> = [
      summary(10),
      new Error('verify task did not start: [{"reason":"RESOURCE:ENI"}]'),
      summary(200),
    ];
    const verify = jest.fn(async () => {
      const next = results.shift()!;
      if (next instanceof Error) throw next;
      return next;
    });
    const retried: number[] = [];
    const result = await waitForRun(verify, (s) => s.history >= 200, {
      timeoutMs: 600_000,
      intervalMs: 15_000,
      ...fakeClock(),
      onRetry: (_e, n) => retried.push(n),
    });
    expect(result.history).toBe(200);
    expect(verify).toHaveBeenCalledTimes(3);
    expect(retried).toEqual([1]);
  });

  test('failures in a row up to the limit end the wait with the last error', async () => {
    let calls = 0;
    const verify = async (): Promise<RunSummary> => {
      calls++;
      throw new Error(`verify task exited with 1 (${calls})`);
    };
    await expect(
      waitForRun(verify, () => true, { timeoutMs: 600_000, intervalMs: 15_000, maxConsecutiveFailures: 3, ...fakeClock() }),
    ).rejects.toThrow('verify task exited with 1 (3)');
    expect(calls).toBe(3);
  });

  test('a success resets the count: isolated failures never add up to the limit', async () => {
    const pattern = [new Error('a'), summary(1), new Error('b'), summary(2), new Error('c'), summary(3)];
    const verify = async () => {
      const next = pattern.shift()!;
      if (next instanceof Error) throw next;
      return next;
    };
    await expect(
      waitForRun(verify, (s) => s.history === 3, { timeoutMs: 600_000, intervalMs: 1, maxConsecutiveFailures: 2, ...fakeClock() }),
    ).resolves.toMatchObject({ history: 3 });
  });

  test('when time runs out, the last summary is returned for the assertions to report', async () => {
    const clock = fakeClock();
    const result = await waitForRun(
      async () => summary(5),
      (s) => s.history >= 200,
      { timeoutMs: 60_000, intervalMs: 15_000, ...clock },
    );
    expect(result.history).toBe(5);
    expect(clock.now()).toBe(60_000);
  });
});
