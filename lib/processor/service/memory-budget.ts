/**
 * The processor's bound on memory: one byte budget for every record batch in flight in the process
 * (all shards, the batch being written and the one read ahead). A GetRecords call first reserves
 * the most its response can carry; the reservation shrinks to the batch's real payload when the
 * response arrives, grows to what classification made of it (inflated payloads), and is released
 * when the batch has committed (or is dropped). So the payload bytes in memory never exceed the
 * budget, except for one batch alone, which is always let through so a shard can never deadlock.
 * docs/processor.md ("Memory") has the arithmetic from these bytes to the process's RSS.
 */

/**
 * The most record data one GetRecords response carries, and the most records it may be asked for:
 * "The maximum size of data that GetRecords can return is 10 MiB" and "The maximum number of
 * records to return ... Limit ... Maximum value of 10000".
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html
 */
export const GET_RECORDS_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
export const GET_RECORDS_MAX_LIMIT = 10_000;

/**
 * The most payload one GetRecords call can bring: the response cap, or fewer when `limit` records
 * of at most `maxRecordBytes` each cannot reach it. A record larger than MAX_RECORD_BYTES (a stream
 * that accepts more than the processor's limit) is charged at its real size when it arrives.
 */
export function getRecordsWorstCaseBytes(limit: number, maxRecordBytes: number): number {
  return Math.min(GET_RECORDS_MAX_RESPONSE_BYTES, limit * maxRecordBytes);
}

/** The payload bytes of a batch's records as received. */
export function payloadBytes(records: readonly { readonly Data?: Uint8Array }[] | undefined): number {
  let total = 0;
  for (const r of records ?? []) total += r.Data?.byteLength ?? 0;
  return total;
}

/** Thrown to a waiting reserve() when its signal aborts (the worker is stopping). */
export class ReservationAbortedError extends Error {
  constructor() {
    super('memory reservation abandoned: the shard worker is stopping');
    this.name = 'AbortError';
  }
}

/** Bytes held for one batch, from before its GetRecords call until it is released. */
export interface Reservation {
  /** The bytes held now. */
  readonly bytes: number;
  /**
   * Holds exactly `bytes` from now on. Never waits: the memory it describes already exists, so a
   * growth past the budget only makes later reservations wait until enough is released.
   */
  resize(bytes: number): void;
  /** Holds at least `bytes` (resize when more). */
  atLeast(bytes: number): void;
  /** Gives the bytes back (idempotent). */
  release(): void;
}

interface Waiter {
  readonly bytes: number;
  readonly grant: () => void;
}

/**
 * A counting semaphore on bytes. Reservations are granted in arrival order (a large one is not
 * starved by small ones), each when it fits under the capacity beside what is held, or, when it
 * is larger than the whole capacity, when nothing else is held: that batch is then processed alone.
 */
export class MemoryBudget {
  private held = 0;
  private readonly queue: Waiter[] = [];
  /** The most bytes ever held at once (reported by tests and the benchmark). */
  public peak = 0;

  constructor(public readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError(`memory budget must be a positive whole number of bytes, not ${capacity}`);
  }

  /** Bytes held by reservations now. */
  get used(): number {
    return this.held;
  }

  /** Reservations waiting for room. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves when `bytes` are held for the caller; rejects with ReservationAbortedError if `signal` aborts first. */
  reserve(bytes: number, signal?: AbortSignal): Promise<Reservation> {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`a reservation must be a whole number of bytes, not ${bytes}`);
    if (signal?.aborted) return Promise.reject(new ReservationAbortedError());
    if (this.queue.length === 0 && this.fits(bytes)) return Promise.resolve(this.hold(bytes));
    return new Promise<Reservation>((resolve, reject) => {
      const onAbort = () => {
        const at = this.queue.indexOf(waiter);
        if (at >= 0) this.queue.splice(at, 1);
        reject(new ReservationAbortedError());
        // The head may have been the one holding the others back.
        this.drain();
      };
      const waiter: Waiter = {
        bytes,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.hold(bytes));
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private fits(bytes: number): boolean {
    return this.held + bytes <= this.capacity || this.held === 0;
  }

  private hold(bytes: number): Reservation {
    let current = bytes;
    let released = false;
    this.add(bytes);
    const reservation: Reservation = {
      get bytes() {
        return released ? 0 : current;
      },
      resize: (next: number) => {
        if (released) return;
        this.add(next - current);
        current = next;
        this.drain();
      },
      atLeast: (next: number) => {
        if (next > reservation.bytes) reservation.resize(next);
      },
      release: () => {
        if (released) return;
        released = true;
        this.add(-current);
        this.drain();
      },
    };
    return reservation;
  }

  private add(delta: number): void {
    this.held += delta;
    if (this.held > this.peak) this.peak = this.held;
  }

  /** Grants waiting reservations, in order, while the head fits. */
  private drain(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0].bytes)) this.queue.shift()!.grant();
  }
}
