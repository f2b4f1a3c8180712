export interface OrderedBatchesOptions<T> {
  /** Batches run at once. */
  concurrency: number;
  /** Items per batch, at most. */
  maxBatch: number;
  keyOf(item: T): string;
  /** Runs one batch; MUST NOT throw (a rejection is a bug and only logged by the caller's process). */
  run(items: T[]): Promise<void>;
}

export interface OrderedBatches<T> {
  add(item: T): void;
  /** Resolves once fewer items wait than one round of batches can take (back-pressure for the puller). */
  hasRoom(): Promise<void>;
  /** Resolves when nothing waits and nothing runs. */
  idle(): Promise<void>;
}

/**
 * Groups items into batches that run `concurrency` at a time, keeping per-key order: items with the same key
 * run in arrival order and never in two batches at once (a key waits while a batch holding it runs). Items
 * added in one turn of the event loop are gathered before a batch starts, so a burst becomes a few large
 * batches while a lone item starts at once (one `setImmediate` later).
 */
export function createOrderedBatches<T>(options: OrderedBatchesOptions<T>): OrderedBatches<T> {
  const { concurrency, maxBatch, keyOf } = options;
  let waiting: T[] = [];
  const busyKeys = new Set<string>();
  let running = 0;
  let dispatchQueued = false;
  let changed: (() => void) | undefined;

  function notify(): void {
    const resolve = changed;
    changed = undefined;
    resolve?.();
  }

  function queueDispatch(): void {
    if (dispatchQueued) return;
    dispatchQueued = true;
    setImmediate(() => {
      dispatchQueued = false;
      dispatch();
    });
  }

  /** Takes up to maxBatch items whose keys are free; an item skipped for its key blocks its key's later ones. */
  function takeBatch(): T[] {
    const batch: T[] = [];
    const rest: T[] = [];
    const blocked = new Set<string>();
    const taken = new Set<string>();
    for (const item of waiting) {
      const key = keyOf(item);
      if (batch.length < maxBatch && !busyKeys.has(key) && !blocked.has(key)) {
        batch.push(item);
        taken.add(key);
      } else {
        // Later items of this key wait too (a key taken here is busy until this batch ends).
        rest.push(item);
        blocked.add(key);
      }
    }
    waiting = rest;
    for (const key of taken) busyKeys.add(key);
    return batch;
  }

  function dispatch(): void {
    while (running < concurrency && waiting.length > 0) {
      const batch = takeBatch();
      if (batch.length === 0) break; // Every waiting key is busy: a finishing batch dispatches again.
      running++;
      const keys = new Set(batch.map(keyOf));
      void options.run(batch).finally(() => {
        running--;
        for (const key of keys) busyKeys.delete(key);
        dispatch();
        notify();
      });
    }
    notify();
  }

  function waitForChange(): Promise<void> {
    return new Promise((resolve) => {
      const previous = changed;
      changed = () => {
        previous?.();
        resolve();
      };
    });
  }

  return {
    add(item) {
      waiting.push(item);
      queueDispatch();
    },
    async hasRoom() {
      while (waiting.length >= concurrency * maxBatch) await waitForChange();
    },
    async idle() {
      while (running > 0 || waiting.length > 0) await waitForChange();
    },
  };
}
