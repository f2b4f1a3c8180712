import { describe, expect, it } from 'vitest';
import { daysLeft, lifetimeUsed, relative, table } from './format.ts';

const now = Date.parse('2026-03-01T00:00:00Z');

describe('cli format', () => {
  it('cli format - relative times in the two largest units, both directions', () => {
    expect(relative('2026-03-04T05:06:00Z', now)).toBe('in 3d 5h');
    expect(relative('2026-02-28T23:55:00Z', now)).toBe('5m ago');
    expect(relative(null, now)).toBe('-');
  });

  it('cli format - lifetime used and days left', () => {
    expect(lifetimeUsed('2026-02-01T00:00:00Z', '2026-03-31T00:00:00Z', now)).toBeCloseTo(28 / 58, 5);
    expect(lifetimeUsed('2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', now)).toBe(1);
    expect(lifetimeUsed(null, '2026-02-01T00:00:00Z', now)).toBeNull();
    expect(daysLeft('2026-03-08T12:00:00Z', now)).toBe(7.5);
  });

  it('cli format - tables align every column but the last', () => {
    expect(
      table(
        ['ID', 'NAME'],
        [
          ['1', 'a'],
          ['22', 'bb'],
        ],
      ),
    ).toBe('ID  NAME\n1   a\n22  bb');
  });
});
