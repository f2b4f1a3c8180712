import { describe, expect, it } from 'vitest';
import { lifetimeRenewAt, spreadRenewAt } from './renewal-time.ts';

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
});
