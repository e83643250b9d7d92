import {
  GET_RECORDS_MAX_LIMIT,
  GET_RECORDS_MAX_RESPONSE_BYTES,
  getRecordsWorstCaseBytes,
  MemoryBudget,
  payloadBytes,
  Reservation,
  ReservationAbortedError,
} from '../../../../lib/processor/service/memory-budget';

/** Settles every promise callback queued so far (no timers). */
const settled = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** A reservation request and whether it has been granted yet. */
function track(p: Promise<Reservation>) {
  const t: { granted?: Reservation; error?: unknown } = {};
  p.then(
    (r) => (t.granted = r),
    (e) => (t.error = e),
  );
  return t;
}

describe('MemoryBudget: one byte budget for every batch in flight', () => {
  test("the worst case of a GetRecords call is AWS's 10 MiB response cap, or limit x record size when that is smaller", () => {
    expect(GET_RECORDS_MAX_RESPONSE_BYTES).toBe(10_485_760);
    expect(GET_RECORDS_MAX_LIMIT).toBe(10_000);
    expect(getRecordsWorstCaseBytes(2_000, 1_048_576)).toBe(10_485_760);
    expect(getRecordsWorstCaseBytes(4, 1_048_576)).toBe(4_194_304);
    expect(payloadBytes([{ Data: Buffer.alloc(3) }, {}, { Data: new Uint8Array(5) }])).toBe(8);
    expect(payloadBytes(undefined)).toBe(0);
  });

  test('a reservation that fits is granted at once; one that does not waits until enough is released', async () => {
    const budget = new MemoryBudget(100);
    const a = await budget.reserve(60);
    const b = track(budget.reserve(50));
    await settled();
    expect(b.granted).toBeUndefined();
    expect([budget.used, budget.waiting]).toEqual([60, 1]);
    a.release();
    await settled();
    expect(b.granted?.bytes).toBe(50);
    expect([budget.used, budget.waiting, budget.peak]).toEqual([50, 0, 60]);
    a.release(); // idempotent: the 60 bytes are not given back twice
    expect(budget.used).toBe(50);
    expect(a.bytes).toBe(0);
  });

  test('a reservation larger than the whole budget is granted alone, once nothing else is held (no deadlock)', async () => {
    const budget = new MemoryBudget(100);
    const small = await budget.reserve(10);
    const huge = track(budget.reserve(250));
    await settled();
    expect(huge.granted).toBeUndefined();
    small.release();
    await settled();
    expect(huge.granted?.bytes).toBe(250);
    // While it is held nothing else is granted, however small.
    const next = track(budget.reserve(1));
    await settled();
    expect(next.granted).toBeUndefined();
    huge.granted!.release();
    await settled();
    expect(next.granted?.bytes).toBe(1);
  });

  test('granted in arrival order: a waiting large reservation is not starved by later small ones', async () => {
    const budget = new MemoryBudget(100);
    const held = await budget.reserve(50);
    const large = track(budget.reserve(80));
    const small = track(budget.reserve(10)); // would fit now, but waits behind the large one
    await settled();
    expect([large.granted, small.granted]).toEqual([undefined, undefined]);
    held.release();
    await settled();
    expect(large.granted?.bytes).toBe(80);
    expect(small.granted?.bytes).toBe(10);
    expect(budget.used).toBe(90);
  });

  test('resize shrinks to the real payload (letting waiters in) and grows without waiting past the budget', async () => {
    const budget = new MemoryBudget(100);
    const r = await budget.reserve(90);
    const waiter = track(budget.reserve(40));
    await settled();
    expect(waiter.granted).toBeUndefined();
    r.resize(30); // the response carried 30 bytes
    await settled();
    expect(waiter.granted?.bytes).toBe(40);
    r.atLeast(20); // less than held: no change
    expect(r.bytes).toBe(30);
    r.atLeast(200); // inflated past the budget: counted at once, never waits
    expect([r.bytes, budget.used, budget.peak]).toEqual([200, 240, 240]);
    const later = track(budget.reserve(1));
    await settled();
    expect(later.granted).toBeUndefined();
    r.release();
    waiter.granted!.release();
    await settled();
    expect(later.granted?.bytes).toBe(1);
    r.resize(5); // after release: nothing changes
    expect(budget.used).toBe(1);
  });

  test('an aborted wait is rejected and leaves the queue; the ones behind it move up', async () => {
    const budget = new MemoryBudget(100);
    const held = await budget.reserve(70);
    const stopping = new AbortController();
    const blocked = track(budget.reserve(80, stopping.signal));
    const behind = track(budget.reserve(20));
    await settled();
    expect([blocked.granted, behind.granted]).toEqual([undefined, undefined]);
    stopping.abort();
    await settled();
    expect(blocked.error).toBeInstanceOf(ReservationAbortedError);
    expect((blocked.error as Error).name).toBe('AbortError');
    expect(behind.granted?.bytes).toBe(20);
    expect([budget.used, budget.waiting]).toEqual([90, 0]);
    held.release();
    // A signal already aborted never waits, and an abort after the grant changes nothing.
    await expect(budget.reserve(1, stopping.signal)).rejects.toBeInstanceOf(ReservationAbortedError);
    const late = new AbortController();
    const r = await budget.reserve(5, late.signal);
    late.abort();
    expect(r.bytes).toBe(5);
  });

  test('bad sizes are refused with a message naming them', () => {
    expect(() => new MemoryBudget(0)).toThrow('memory budget must be a positive whole number of bytes, not 0');
    expect(() => new MemoryBudget(1.5)).toThrow(RangeError);
    const budget = new MemoryBudget(10);
    expect(() => budget.reserve(-1)).toThrow('a reservation must be a whole number of bytes, not -1');
  });
});
