import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHttp01Probes } from './http01-probe.ts';

describe('http-01 probe', () => {
  const key = randomBytes(32);

  it('http-01 probe - a minted probe is answered for its hostname, by any holder of the key', () => {
    const probes = createHttp01Probes(key);
    const { token, expectedBody } = probes.mint('Shop.Example.com');
    expect(token).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(expectedBody.startsWith(`${token}.`)).toBe(true);
    expect(probes.answer(token, 'shop.example.com')).toBe(expectedBody);
    expect(createHttp01Probes(Buffer.from(key)).answer(token, 'shop.example.com')).toBe(expectedBody);
    expect(probes.mint('shop.example.com').token).not.toBe(token);
  });

  it('http-01 probe - another host, another key, a changed byte or a CA token is no probe', () => {
    const probes = createHttp01Probes(key);
    const { token } = probes.mint('shop.example.com');
    expect(probes.answer(token, 'other.example.com')).toBeUndefined();
    expect(createHttp01Probes(randomBytes(32)).answer(token, 'shop.example.com')).toBeUndefined();
    for (const at of [0, 10, 30, 63]) {
      const changed = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
      expect(probes.answer(changed, 'shop.example.com'), `byte ${at}`).toBeUndefined();
    }
    // A CA token: random base64url of the usual 43 characters, or of the probe's own length.
    expect(probes.answer(randomBytes(32).toString('base64url'), 'shop.example.com')).toBeUndefined();
    expect(probes.answer(randomBytes(48).toString('base64url'), 'shop.example.com')).toBeUndefined();
  });

  it('http-01 probe - a probe is answered for minutes, not forever, and tolerates a little clock skew', () => {
    let clock = Date.parse('2026-12-04T12:00:00Z');
    const probes = createHttp01Probes(key, { now: () => clock, maxAgeMs: 60_000, clockSkewMs: 5_000 });
    const { token, expectedBody } = probes.mint('shop.example.com');
    clock += 59_000;
    expect(probes.answer(token, 'shop.example.com')).toBe(expectedBody);
    clock += 2_000;
    expect(probes.answer(token, 'shop.example.com')).toBeUndefined();

    // Minted on a replica whose clock runs ahead.
    const ahead = createHttp01Probes(key, { now: () => clock + 4_000 });
    expect(probes.answer(ahead.mint('a.example.com').token, 'a.example.com')).toBeDefined();
    const farAhead = createHttp01Probes(key, { now: () => clock + 10_000 });
    expect(probes.answer(farAhead.mint('a.example.com').token, 'a.example.com')).toBeUndefined();
  });

  it('http-01 probe - a short key is refused', () => {
    expect(() => createHttp01Probes(randomBytes(16))).toThrow(RangeError);
  });
});
