import { describe, expect, it } from 'vitest';
import { createValidationEstimate } from './validation-estimate.ts';

describe('validation estimate', () => {
  it('validation estimate - polls at once until it has learned, then waits half the mean', () => {
    const estimate = createValidationEstimate();
    expect(estimate.firstPollDelayMs()).toBe(0);
    estimate.observe(80);
    expect(estimate.firstPollDelayMs()).toBe(40);
    estimate.observe(180); // mean 80 + 0.2 × 100 = 100
    expect(estimate.firstPollDelayMs()).toBe(50);
  });

  it('validation estimate - never waits longer than maxWaitMs (a slow CA is still asked within a second)', () => {
    const estimate = createValidationEstimate({ maxWaitMs: 1_000 });
    estimate.observe(30_000);
    expect(estimate.firstPollDelayMs()).toBe(1_000);
  });
});
