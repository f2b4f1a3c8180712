import { describe, expect, it } from 'vitest';
import { daysLeft, lifetimeUsed, parseTcpPortOption, relative, table, tcpPortLabel } from './format.ts';

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

  it('cli format - a TCP port reads as public:target[/tls], the form --tcp takes', () => {
    expect(tcpPortLabel({ publicPort: 5433, targetPort: null, tls: true }, 5432)).toBe('5433:5432/tls');
    expect(tcpPortLabel({ publicPort: 6380, targetPort: 6379, tls: false }, 80)).toBe('6380:6379');
    expect(parseTcpPortOption('5433:5432/tls')).toEqual({ publicPort: 5433, targetPort: 5432, tls: true });
    expect(parseTcpPortOption('6380')).toEqual({ publicPort: 6380 });
    expect(parseTcpPortOption('5433/TLS')).toEqual({ publicPort: 5433, tls: true });
    expect(parseTcpPortOption('5433:')).toBeUndefined();
    expect(parseTcpPortOption('tls')).toBeUndefined();
  });
});
