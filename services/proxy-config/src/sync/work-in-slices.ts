/** Helpers for long bursts of file work: bounded concurrency, and yields so the event loop stays responsive. */

/** Files written at once in a burst: enough to hide fsync latency, few enough not to starve the event loop. */
const WRITE_CONCURRENCY = 32;

/** Items handled between two yields to the event loop in a long burst (a few milliseconds of work). */
const YIELD_EVERY = 64;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs `work` over `items` with at most WRITE_CONCURRENCY in flight; results keep the items' order. Yields
 * to the event loop every YIELD_EVERY items: a full pass stages its files with blocking calls, and health
 * checks and consumers must still be answered meanwhile.
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      if (index > 0 && index % YIELD_EVERY === 0) await yieldToEventLoop();
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, items.length) }, worker));
  return results;
}

/** Runs blocking `work` over `items` in order, yielding to the event loop every YIELD_EVERY items. */
export async function inBatches<T>(items: readonly T[], work: (item: T) => void): Promise<void> {
  for (let index = 0; index < items.length; index++) {
    if (index > 0 && index % YIELD_EVERY === 0) await yieldToEventLoop();
    work(items[index]!);
  }
}
