import { describe, expect, it } from 'vitest';
import { evaluateBudget } from './budget.ts';

const now = new Date('2026-03-01T12:00:00.000Z');
const at = (msBeforeNow: number) => new Date(now.getTime() - msBeforeNow);
const rule = { max: 3, windowMs: 60_000 };

describe('rate-limit budget', () => {
  it('budget - allows while fewer than max events are in the window', () => {
    expect(evaluateBudget(rule, [], now)).toEqual({ allowed: true, used: 0, remaining: 3 });
    expect(evaluateBudget(rule, [at(1_000), at(2_000)], now)).toEqual({
      allowed: true,
      used: 2,
      remaining: 1,
    });
  });

  it('budget - refuses at max with retryAt exactly when the oldest event leaves the window', () => {
    const verdict = evaluateBudget(rule, [at(10_000), at(40_000), at(25_000)], now);
    expect(verdict).toEqual({ allowed: false, used: 3, retryAt: new Date(now.getTime() - 40_000 + 60_000) });
  });

  it('budget - an event exactly one window old has left; one a millisecond younger still counts', () => {
    expect(evaluateBudget(rule, [at(60_000), at(1), at(2)], now)).toEqual({
      allowed: true,
      used: 2,
      remaining: 1,
    });
    const verdict = evaluateBudget(rule, [at(59_999), at(1), at(2)], now);
    expect(verdict).toEqual({ allowed: false, used: 3, retryAt: new Date(now.getTime() + 1) });
  });

  it('budget - the retryAt it gives is the first instant the budget allows again', () => {
    const events = [at(50_000), at(30_000), at(5_000)];
    const verdict = evaluateBudget(rule, events, now);
    if (verdict.allowed) throw new Error('expected a refusal');
    expect(evaluateBudget(rule, events, new Date(verdict.retryAt.getTime() - 1)).allowed).toBe(false);
    expect(evaluateBudget(rule, events, verdict.retryAt)).toEqual({ allowed: true, used: 2, remaining: 1 });
  });

  it('budget - over the limit (max lowered since), retryAt waits for enough events to leave', () => {
    const events = [at(50_000), at(40_000), at(30_000), at(20_000), at(10_000)];
    const verdict = evaluateBudget(rule, events, now);
    // 5 used, max 3: the three oldest must leave; the third oldest (30 s ago) leaves in 30 s.
    expect(verdict).toEqual({ allowed: false, used: 5, retryAt: new Date(now.getTime() + 30_000) });
  });

  it('budget - ignores events older than the window and counts events stamped after now', () => {
    const events = [at(3_600_000), at(120_000), new Date(now.getTime() + 5_000)];
    expect(evaluateBudget(rule, events, now)).toEqual({ allowed: true, used: 1, remaining: 2 });
  });

  it('budget - max 0 is always refused, retrying one window later', () => {
    expect(evaluateBudget({ max: 0, windowMs: 60_000 }, [], now)).toEqual({
      allowed: false,
      used: 0,
      retryAt: new Date(now.getTime() + 60_000),
    });
    expect(evaluateBudget({ max: 0, windowMs: 60_000 }, [at(1_000)], now)).toMatchObject({
      allowed: false,
      used: 1,
    });
  });

  it('budget - does not depend on the order events are given in', () => {
    const events = [at(5_000), at(50_000), at(30_000)];
    expect(evaluateBudget(rule, events, now)).toEqual(evaluateBudget(rule, [...events].reverse(), now));
  });
});
