import { describe, expect, it } from 'vitest';
import { nextAriPollAt, timeInWindow } from './renewal-time.ts';

const at = (iso: string) => new Date(iso);
const _DAY = 86_400_000;

describe('renewal time', () => {
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
