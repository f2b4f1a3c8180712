import { describe, expect, it } from 'vitest';
import { createHttp01TokenCache } from './http01-token-cache.ts';

describe('http-01 token cache', () => {
  it('http-01 cache - entries answer until their time is up or they are forgotten', () => {
    let clock = 1_000;
    const cache = createHttp01TokenCache({ now: () => clock });
    cache.remember('t1', { hostname: 'a.test', keyAuthorization: 't1.x' }, 100);
    expect(cache.find('t1')).toMatchObject({ hostname: 'a.test', keyAuthorization: 't1.x' });
    clock += 100;
    expect(cache.find('t1')).toBeUndefined();
    cache.remember('t2', { hostname: 'b.test', keyAuthorization: 't2.x' }, 1_000);
    cache.forget('t2');
    expect(cache.find('t2')).toBeUndefined();
  });

  it('http-01 cache - bounded: the oldest entry goes first, a remembered one becomes the newest', () => {
    const cache = createHttp01TokenCache({ size: 2 });
    cache.remember('a', { hostname: 'a.test', keyAuthorization: 'a' }, 60_000);
    cache.remember('b', { hostname: 'b.test', keyAuthorization: 'b' }, 60_000);
    cache.remember('a', { hostname: 'a.test', keyAuthorization: 'a2' }, 60_000);
    cache.remember('c', { hostname: 'c.test', keyAuthorization: 'c' }, 60_000);
    expect(cache.find('b')).toBeUndefined();
    expect(cache.find('a')?.keyAuthorization).toBe('a2');
    expect(cache.find('c')).toBeDefined();
  });
});
