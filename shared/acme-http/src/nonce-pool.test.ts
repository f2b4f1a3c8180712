import { describe, expect, it } from 'vitest';
import { createNoncePool } from './nonce-pool.ts';

describe('nonce pool', () => {
  it('nonce pool - hands out each nonce once, newest first, then nothing', () => {
    const pool = createNoncePool();
    pool.add('a');
    pool.add('b');
    expect(pool.take()).toBe('b');
    expect(pool.take()).toBe('a');
    expect(pool.take()).toBeUndefined();
  });

  it('nonce pool - skips nonces older than maxAgeMs (the CA may have forgotten them)', () => {
    let now = 0;
    const pool = createNoncePool({ maxAgeMs: 1_000, now: () => now });
    pool.add('old');
    now = 900;
    pool.add('fresh');
    now = 1_500;
    expect(pool.take()).toBe('fresh');
    expect(pool.take()).toBeUndefined();
    expect(pool.size).toBe(0);
  });

  it('nonce pool - keeps at most maxSize, dropping the oldest', () => {
    const pool = createNoncePool({ maxSize: 2 });
    for (const nonce of ['1', '2', '3']) pool.add(nonce);
    expect(pool.size).toBe(2);
    expect([pool.take(), pool.take(), pool.take()]).toEqual(['3', '2', undefined]);
  });
});
