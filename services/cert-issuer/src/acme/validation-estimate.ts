/**
 * How long this CA takes from a challenge's submission to its outcome, learned from the last few (an
 * exponentially weighted mean). The first poll waits half of it instead of asking at once: a poll that can
 * only answer "pending" costs a signed request at both ends (on Pebble that was 3.5–3.9 challenge requests per
 * order, now about 2.2). Half, not more: the observed time includes that wait, so a larger share would drift
 * upwards and add latency. Starts at 0 (ask at once) and never waits longer than `maxWaitMs`.
 */
export function createValidationEstimate({ maxWaitMs = 1_000, weight = 0.2 } = {}) {
  let meanMs = 0;
  return {
    /** How long to wait before the first poll: half the mean, at most `maxWaitMs`. */
    firstPollDelayMs(): number {
      return Math.min(Math.round(meanMs / 2), maxWaitMs);
    },
    /** One observed validation time (submission → valid). */
    observe(ms: number): void {
      meanMs = meanMs === 0 ? ms : meanMs + weight * (ms - meanMs);
    },
  };
}
