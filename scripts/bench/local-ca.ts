/**
 * Local CA signing benchmark (issue 15): N leaves (default 200) for one name signed by a fresh intermediate, in
 * batches of `concurrency` (default 8), as cert-issuer's slots would. Prints the root and intermediate creation
 * time, p50 / p95 / max milliseconds per leaf (new key + signature), leaves per second, and the longest
 * event-loop stall while signing (perf_hooks' monitorEventLoopDelay): key generation and signing run on libuv's
 * thread pool, so the stall should stay near the timer resolution. Last, one JSON line. No targets asserted.
 *
 *   node scripts/bench/local-ca.ts [leaves] [--concurrency 8] [--key-type ecdsa-p256|rsa-2048]
 */
import { X509Certificate } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { keyTypeSchema } from '@gatehouse/events';
import { createLocalCaIntermediate, createLocalCaRoot, signLocalCaLeaf } from '@gatehouse/pki';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    concurrency: { type: 'string', default: '8' },
    'key-type': { type: 'string', default: 'ecdsa-p256' },
  },
});
const total = Number(positionals[0] ?? 200);
const concurrency = Number(flags.concurrency);
const parsedKeyType = keyTypeSchema.safeParse(flags['key-type']);
if (
  !Number.isInteger(total) ||
  total < 1 ||
  !Number.isInteger(concurrency) ||
  concurrency < 1 ||
  !parsedKeyType.success
) {
  console.error(
    `usage: npm run bench:local-ca -- [leaves] [--concurrency n] [--key-type ${keyTypeSchema.options.join('|')}]`,
  );
  process.exit(2);
}
const keyType = parsedKeyType.data;

const withEnd = (pair: { certPem: string; keyPem: string }) => ({
  ...pair,
  notAfter: new Date(new X509Certificate(pair.certPem).validTo),
});
let started = performance.now();
const root = withEnd(await createLocalCaRoot());
const rootMs = performance.now() - started;
started = performance.now();
const intermediate = withEnd(await createLocalCaIntermediate(root));
const intermediateMs = performance.now() - started;

const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
const durations: number[] = [];
const wall = performance.now();
for (let done = 0; done < total; done += concurrency) {
  const batch = Math.min(concurrency, total - done);
  await Promise.all(
    Array.from({ length: batch }, async () => {
      const at = performance.now();
      await signLocalCaLeaf({ names: ['app.internal'], keyType, intermediate });
      durations.push(performance.now() - at);
    }),
  );
}
const wallMs = performance.now() - wall;
delay.disable();

durations.sort((a, b) => a - b);
const pick = (q: number) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))]!;
const result = {
  leaves: total,
  concurrency,
  keyType,
  rootMs: Math.round(rootMs),
  intermediateMs: Math.round(intermediateMs),
  p50Ms: Number(pick(0.5).toFixed(1)),
  p95Ms: Number(pick(0.95).toFixed(1)),
  maxMs: Number(durations.at(-1)!.toFixed(1)),
  leavesPerSecond: Math.round((total / wallMs) * 1000),
  p99EventLoopDelayMs: Number((delay.percentile(99) / 1e6).toFixed(1)),
  maxEventLoopStallMs: Number((delay.max / 1e6).toFixed(1)),
};
console.log(
  `root ${result.rootMs} ms, intermediate ${result.intermediateMs} ms; ${total} ${keyType} leaves at ${concurrency} at once: ` +
    `p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms, max ${result.maxMs} ms, ${result.leavesPerSecond}/s; ` +
    `event-loop delay p99 ${result.p99EventLoopDelayMs} ms, longest stall ${result.maxEventLoopStallMs} ms`,
);
console.log(JSON.stringify(result));
