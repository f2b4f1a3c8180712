/**
 * Recorded baselines and targets of the benchmarks, so every run prints one line per measure saying how it
 * compares (a regression shows as a ratio below 1). Baselines are what the code did before issue #14's work,
 * measured on the 2-core development machine with other work running; they are noisy, so re-measure the
 * baseline commit side by side before drawing conclusions from a small difference.
 */
export interface Measure {
  /** What is measured, with its unit ("1 app p50 ms"). */
  name: string;
  higherIsBetter: boolean;
  baseline: number;
  target?: number;
}

export const baselines = {
  /** Before: commit 901efb6, `npm run bench:e2e -- --apps 1,100` (988 ms; 3.4 apps/s; issue #14 quotes 1.0 s, 3.1). */
  e2eOneAppP50Ms: { name: '1 app p50 ms', higherIsBetter: false, baseline: 988, target: 500 },
  e2eHundredAppsPerSecond: { name: '100 apps, apps/s', higherIsBetter: true, baseline: 3.4, target: 10 },
  /** Before: commit 901efb6, `npm run bench:outbox` defaults (10,000 events, 100 subjects, concurrency 8). */
  outboxEndToEndEps: {
    name: 'outbox end to end events/s',
    higherIsBetter: true,
    baseline: 1013,
    target: 2000,
  },
} satisfies Record<string, Measure>;

/**
 * One line: the measured value, its ratio to the baseline (> 1 is better, whichever way the measure goes)
 * and whether the target is met.
 */
export function ratioLine(measure: Measure, measured: number): string {
  const ratio = measure.higherIsBetter ? measured / measure.baseline : measure.baseline / measured;
  const target =
    measure.target === undefined
      ? ''
      : `; target ${measure.higherIsBetter ? '≥' : '≤'} ${measure.target}: ${
          (measure.higherIsBetter ? measured >= measure.target : measured <= measure.target)
            ? 'met'
            : 'NOT met'
        }`;
  return `ratio ${measure.name}: ${measured} vs baseline ${measure.baseline} = ${ratio.toFixed(2)}× better${target}`;
}
