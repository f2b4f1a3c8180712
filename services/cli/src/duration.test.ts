import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.ts';

describe('cli duration', () => {
  it('cli duration - 7d, 12h, 90m, 2w, 30s become milliseconds; anything else is refused', () => {
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration(' 90m ')).toBe(90 * 60_000);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
    expect(parseDuration('30s')).toBe(30_000);
    for (const bad of ['7', 'd', '7days', '-1d', '1.5h', '']) expect(parseDuration(bad), bad).toBeUndefined();
  });
});
