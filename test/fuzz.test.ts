import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFuzzTargets } from './fuzz/fuzz-targets.ts';
import { type FuzzReport, runFuzz } from './fuzz/hostile-requests.ts';

/** CI size; `npm run bench:fuzz` sends 2,000 (and any count or seed). */
const count = Number(process.env.FUZZ_COUNT ?? 150);

describe('fuzz', { timeout: 300_000 }, () => {
  let targets: Awaited<ReturnType<typeof startFuzzTargets>>;
  beforeAll(async () => {
    targets = await startFuzzTargets('fuzz');
  });
  afterAll(async () => {
    await targets?.stop();
  });

  it('fuzz - generated hostile bodies, host names and headers: no 5xx, no stack trace, no crash, nothing stored on refusal', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
    const report: FuzzReport = await runFuzz(targets, { count, seed });
    const summary = `seed ${seed}: ${JSON.stringify(report.byStatus)}`;
    expect(report.requests, summary).toBe(count);
    expect(report.serverErrors, summary).toEqual([]);
    expect(report.stackTraces, summary).toEqual([]);
    expect(report.storedOnRefusal, summary).toEqual([]);
    expect(report.alive, summary).toBe(true);
    // The run reached both services and was mostly refused, as hostile input should be.
    const refused = Object.entries(report.byStatus)
      .filter(([status]) => Number(status) >= 400 && Number(status) < 500)
      .reduce((sum, [, n]) => sum + n, 0);
    expect(refused, summary).toBeGreaterThan(count / 2);
  });
});
