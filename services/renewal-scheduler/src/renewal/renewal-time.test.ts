import { lifetimeRenewAt } from '@gatehouse/pki';
import { describe, expect, it } from 'vitest';
import { nextAriPollAt, spreadRenewAt, timeInWindow } from './renewal-time.ts';

const at = (iso: string) => new Date(iso);
const DAY = 86_400_000;

describe('renewal time', () => {
  it('renewal time - 1/3 of the lifetime left, or 1/2 below 10 days', () => {
    const start = at('2026-01-01T00:00:00Z');
    expect(lifetimeRenewAt(start, new Date(start.getTime() + 90 * DAY))).toEqual(
      new Date(start.getTime() + 60 * DAY),
    );
    expect(lifetimeRenewAt(start, new Date(start.getTime() + 6 * DAY))).toEqual(
      new Date(start.getTime() + 3 * DAY),
    );
    expect(lifetimeRenewAt(start, new Date(start.getTime() + 120_000))).toEqual(
      new Date(start.getTime() + 60_000),
    );
  });

  it('renewal time - the spread only moves earlier, by at most a twentieth of the lifetime or a day', () => {
    const start = at('2026-01-01T00:00:00Z');
    const end90 = new Date(start.getTime() + 90 * DAY);
    expect(spreadRenewAt(start, end90, () => 0)).toEqual(lifetimeRenewAt(start, end90));
    expect(
      lifetimeRenewAt(start, end90).getTime() - spreadRenewAt(start, end90, () => 0.999999).getTime(),
    ).toBeLessThanOrEqual(DAY);
    const end6 = new Date(start.getTime() + 6 * DAY);
    const earliest6 = spreadRenewAt(start, end6, () => 0.999999).getTime();
    expect(lifetimeRenewAt(start, end6).getTime() - earliest6).toBeCloseTo((6 * DAY) / 20, -3);
  });

  it('renewal time - a fleet issued at once spreads over the window instead of one instant', () => {
    const start = at('2026-01-01T00:00:00Z');
    const end = new Date(start.getTime() + 90 * DAY);
    const times = new Set(
      Array.from({ length: 1000 }, () => Math.floor(spreadRenewAt(start, end).getTime() / 60_000)),
    );
    expect(times.size).toBeGreaterThan(500); // distinct minutes out of 1440 in the day-long window
  });

  it('renewal time - a time inside the ARI window; a window in the past means now', () => {
    const now = at('2026-01-10T00:00:00Z');
    const window = { start: at('2026-01-11T00:00:00Z'), end: at('2026-01-12T00:00:00Z') };
    for (const r of [0, 0.5, 0.999]) {
      const t = timeInWindow(window, now, () => r).getTime();
      expect(t).toBeGreaterThanOrEqual(window.start.getTime());
      expect(t).toBeLessThan(window.end.getTime());
    }
    expect(timeInWindow({ start: at('2026-01-01T00:00:00Z'), end: at('2026-01-02T00:00:00Z') }, now)).toEqual(
      now,
    );
    const started = timeInWindow(
      { start: at('2026-01-09T00:00:00Z'), end: at('2026-01-11T00:00:00Z') },
      now,
      () => 0,
    );
    expect(started).toEqual(now);
  });

  it('renewal time - Retry-After in seconds or as a date, clamped between a minute and twelve hours', () => {
    const now = at('2026-01-10T00:00:00Z');
    expect(nextAriPollAt('3600', now).getTime() - now.getTime()).toBe(3_600_000);
    expect(nextAriPollAt('1', now).getTime() - now.getTime()).toBe(60_000);
    expect(nextAriPollAt('999999', now).getTime() - now.getTime()).toBe(12 * 3_600_000);
    expect(nextAriPollAt('Sat, 10 Jan 2026 02:00:00 GMT', now).getTime() - now.getTime()).toBe(2 * 3_600_000);
    expect(nextAriPollAt(null, now).getTime() - now.getTime()).toBe(6 * 3_600_000);
    expect(nextAriPollAt('soon', now).getTime() - now.getTime()).toBe(6 * 3_600_000);
  });
});
