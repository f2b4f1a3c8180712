import { describe, expect, it } from 'vitest';
import { createNameGate } from './name-gate.ts';

describe('on-demand name gate', () => {
  const limits = { denyTtlMs: 600_000, askIntervalMs: 60_000, maxNewPerHour: 20 };

  it('on-demand - a denied name is refused without asking until the deny TTL has passed', () => {
    let now = 0;
    const gate = createNameGate(limits, () => now);
    expect(gate.beforeAsk('a.example.com')).toEqual({ ask: true });
    gate.deny('a.example.com');
    now = 599_999;
    expect(gate.beforeAsk('a.example.com')).toEqual({ ask: false, reason: 'denied-cached' });
    now = 600_000;
    expect(gate.beforeAsk('a.example.com')).toEqual({ ask: true });
  });

  it('on-demand - one ask per name per interval; other names are not held back', () => {
    let now = 0;
    const gate = createNameGate(limits, () => now);
    expect(gate.beforeAsk('a.example.com')).toEqual({ ask: true });
    expect(gate.beforeAsk('a.example.com')).toEqual({ ask: false, reason: 'ask-rate-limited' });
    expect(gate.beforeAsk('b.example.com')).toEqual({ ask: true });
    now = 60_000;
    expect(gate.beforeAsk('a.example.com')).toEqual({ ask: true });
  });
});
