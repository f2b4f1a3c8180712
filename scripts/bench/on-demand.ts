/**
 * On-demand TLS benchmark: how long a first handshake for a new name is held (ask → certificate row and job →
 * the ordinary issuance against Pebble → served), and what a later handshake for the same name costs (served
 * from the terminator's memory). Run on demand, never in tests:
 *
 *   npm run bench:on-demand -- --names 10 --repeat 50
 *
 * Needs the test bed (`npm run testbed`): Postgres (TESTBED_PG_URL), `nats-server` and `pebble` on PATH, and
 * pebble-challtestsrv for Pebble's lookups. Starts a database, a nats-server, a Pebble, one real cert-issuer
 * with its terminator, an ask server that allows every name and an upstream that answers one byte. First
 * handshakes run one name at a time (each its own registered domain); then `--repeat` handshakes per name.
 * Prints a table and one JSON line; exits 1 when a handshake fails. Everything it starts is stopped at the end.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect } from 'node:tls';
import { parseArgs } from 'node:util';
import { startCertIssuer } from '@gatehouse/service-harness';
import { createTestDatabase, freePort, startNatsServer, startPebble } from '@gatehouse/testing';

const { values: flags } = parseArgs({
  options: { names: { type: 'string', default: '10' }, repeat: { type: 'string', default: '50' } },
});
const names = Number(flags.names);
const repeat = Number(flags.repeat);
if (!Number.isInteger(names) || names < 1 || !Number.isInteger(repeat) || repeat < 1) {
  console.error('--names and --repeat must be integers >= 1');
  process.exit(2);
}

function handshake(port: number, servername: string, ca: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca }, () => {
      resolve(performance.now() - started);
      socket.end();
    });
    socket.on('error', reject);
  });
}

function percentiles(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  const round = (value: number) => Math.round(value * 10) / 10;
  return { p50: round(rank(50)), p95: round(rank(95)), max: round(rank(100)) };
}

const run = randomBytes(3).toString('hex');
const stops: Array<() => Promise<unknown>> = [];
let exitCode = 0;
try {
  const http01Port = await freePort();
  const [database, nats, pebble] = await Promise.all([
    createTestDatabase('bench_on_demand'),
    startNatsServer(),
    startPebble({ httpPort: http01Port, nonceRejectPercent: 0 }),
  ]);
  stops.push(
    () => database.drop(),
    () => nats.stop(),
    () => pebble.stop(),
  );
  const ask = createHttpServer((_request, response) => response.end());
  const upstream = createTcpServer((socket) => socket.end('x'));
  await Promise.all([
    new Promise<void>((resolve) => ask.listen(0, '127.0.0.1', resolve)),
    new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve)),
  ]);
  stops.push(
    async () => ask.close(),
    async () => upstream.close(),
  );
  const port = await freePort();
  const issuer = await startCertIssuer({
    database,
    nats,
    pebbles: [pebble],
    http01Port,
    env: {
      LOG_LEVEL: 'warn',
      ON_DEMAND_TLS_LISTEN: `127.0.0.1:${port}`,
      ON_DEMAND_ASK_URL: `http://127.0.0.1:${(ask.address() as { port: number }).port}/ask`,
      ON_DEMAND_UPSTREAM: `127.0.0.1:${(upstream.address() as { port: number }).port}`,
      ON_DEMAND_HANDSHAKE_TIMEOUT: '120s',
      ON_DEMAND_MAX_PER_HOUR: String(names + 1),
    },
  });
  stops.push(() => issuer.stop());
  const root = await pebble.rootPem();
  // Warm-up: registers the ACME account; not counted.
  await handshake(port, `warmup-${run}.test`, root);
  const first: number[] = [];
  for (let index = 0; index < names; index++)
    first.push(await handshake(port, `n${index}-${run}.test`, root));
  const later: number[] = [];
  for (let round = 0; round < repeat; round++) {
    for (let index = 0; index < names; index++)
      later.push(await handshake(port, `n${index}-${run}.test`, root));
  }
  const result = {
    names,
    repeat,
    firstHandshakeMs: percentiles(first),
    laterHandshakeMs: percentiles(later),
  };
  console.log('handshake            p50 ms   p95 ms   max ms');
  for (const [label, value] of [
    ['first (ask + issue)', result.firstHandshakeMs],
    ['later (cached)', result.laterHandshakeMs],
  ] as const) {
    console.log(
      `${label.padEnd(20)} ${String(value.p50).padStart(7)}  ${String(value.p95).padStart(7)}  ${String(value.max).padStart(7)}`,
    );
  }
  console.log(JSON.stringify(result));
} catch (error) {
  console.error('bench:', error);
  exitCode = 1;
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
}
process.exit(exitCode);
