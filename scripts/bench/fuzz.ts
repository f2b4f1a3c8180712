/**
 * Fuzz benchmark (issue 12): sends generated hostile requests — bodies, host names, headers, broken HTTP — to
 * a real api and cert-issuer (HTTP-01 responder) on a database and NATS of their own, one after another:
 *
 *   npm run bench:fuzz -- --count 2000 --seed 42
 *
 * Prints the answers by status, then one JSON line; exits 1 on any answer ≥ 500, a stack trace in an answer,
 * a crashed service or a refused request that changed a table. The test bed must be up (Postgres, NATS,
 * Pebble, challtestsrv). `test/fuzz.test.ts` runs the same generator at a small count in CI.
 */
import { parseArgs } from 'node:util';
import { startFuzzTargets } from '../../test/fuzz/fuzz-targets.ts';
import { runFuzz } from '../../test/fuzz/hostile-requests.ts';

const { values: flags } = parseArgs({
  options: {
    count: { type: 'string', default: '2000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
  },
});
const count = Number(flags.count);
const seed = Number(flags.seed);

const targets = await startFuzzTargets('bench_fuzz');
try {
  const report = await runFuzz(targets, { count, seed });
  console.log(
    `fuzz: ${report.requests} requests in ${(report.durationMs / 1000).toFixed(1)} s (seed ${seed})`,
  );
  for (const [status, n] of Object.entries(report.byStatus).sort())
    console.log(`  ${status.padStart(4)}  ${n}`);
  console.log(`  answers >= 500: ${report.serverErrors.length}`);
  console.log(`  stack traces: ${report.stackTraces.length}`);
  console.log(`  stored on refusal: ${report.storedOnRefusal.length}`);
  console.log(`  no HTTP answer (reset by the server or refused by the client): ${report.noAnswer}`);
  console.log(`  services alive afterwards: ${report.alive}`);
  for (const failure of [...report.serverErrors, ...report.stackTraces, ...report.storedOnRefusal].slice(
    0,
    10,
  ))
    console.log(`  ! ${JSON.stringify(failure).slice(0, 600)}`);
  console.log(
    JSON.stringify({
      bench: 'fuzz',
      seed,
      requests: report.requests,
      durationMs: report.durationMs,
      byStatus: report.byStatus,
      serverErrors: report.serverErrors.length,
      stackTraces: report.stackTraces.length,
      storedOnRefusal: report.storedOnRefusal.length,
      alive: report.alive,
    }),
  );
  process.exitCode =
    report.serverErrors.length + report.stackTraces.length + report.storedOnRefusal.length === 0 &&
    report.alive
      ? 0
      : 1;
} finally {
  await targets.stop();
}
