import { describe, expect, it } from 'vitest';
import { createOrderedBatches } from './ordered-batches.ts';

interface Item {
  key: string;
  n: number;
}

describe('ordered batches', () => {
  it('ordered batches - a burst becomes full batches, a key never runs twice at once, order per key kept', async () => {
    const batches: Item[][] = [];
    const running = new Set<string>();
    const seen: Item[] = [];
    const ordered = createOrderedBatches<Item>({
      concurrency: 3,
      maxBatch: 4,
      keyOf: (item) => item.key,
      async run(items) {
        for (const item of items)
          expect(running.has(item.key), `key ${item.key} already running`).toBe(false);
        for (const item of items) running.add(item.key);
        batches.push(items);
        await new Promise((resolve) => setTimeout(resolve, 5));
        seen.push(...items);
        for (const item of items) running.delete(item.key);
      },
    });
    for (let n = 0; n < 40; n++) ordered.add({ key: `k${n % 5}`, n });
    await ordered.idle();

    expect(seen).toHaveLength(40);
    expect(batches.every((batch) => batch.length <= 4)).toBe(true);
    expect(batches.length).toBeLessThanOrEqual(15); // 40 items in batches of up to 4, not 40 batches of 1
    for (let k = 0; k < 5; k++) {
      const order = seen.filter((item) => item.key === `k${k}`).map((item) => item.n);
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
  });

  it('ordered batches - a lone item starts without waiting for a batch to fill', async () => {
    let started = 0;
    const ordered = createOrderedBatches<Item>({
      concurrency: 2,
      maxBatch: 50,
      keyOf: (item) => item.key,
      async run() {
        started++;
      },
    });
    ordered.add({ key: 'a', n: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    await ordered.idle();
    expect(started).toBe(1);
  });

  it('ordered batches - hasRoom holds the producer back while a round of batches is waiting', async () => {
    let release: (() => void) | undefined;
    const ordered = createOrderedBatches<Item>({
      concurrency: 1,
      maxBatch: 2,
      keyOf: (item) => item.key,
      run: () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    });
    for (let n = 0; n < 4; n++) ordered.add({ key: `k${n}`, n });
    await new Promise((resolve) => setImmediate(resolve)); // first batch of 2 running, 2 waiting
    let room = false;
    void ordered.hasRoom().then(() => {
      room = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(room).toBe(false);
    release?.();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(room).toBe(true);
    release?.();
    await ordered.idle();
  });
});
