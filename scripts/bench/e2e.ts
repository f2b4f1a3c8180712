/**
 * End-to-end benchmark: the time from `POST /v1/apps` to a servable certificate file, the product's main
 * path (api → outbox → cert-issuer → Pebble → proxy-config), for rounds of 1, 20 and 100 apps posted at once.
 * Run on demand, never in tests:
 *
 *   npm run bench:e2e -- --apps 1,20,100
 *
 * Needs the test bed (`npm run testbed`): Postgres (TESTBED_PG_URL), `nats-server` and `pebble` on PATH,
 * pebble-challtestsrv for Pebble's lookups, and a Docker engine with the test image
 * (`gatehouse-test/busybox:1`, made by `scripts/testbed up`).
 *
 * It starts a database, a nats-server and a Pebble of its own and one real process of api, deployer,
 * cert-issuer and proxy-config, configured as in the e2e test (host networking, preflight enforced).
 * Each app has one `https://` domain of its own registered domain (so CA rate limits do not queue them) and a
 * busybox httpd container. An app's latency runs from just before its POST to the moment its YAML file lists
 * a certificate whose PEM files exist (checked every 20 ms); a round's throughput is apps / (last servable −
 * first POST). Prints a table, a ratio line against the recorded baseline (scripts/bench/baselines.ts) for
 * the 1- and 100-app rounds, then one JSON line. `--profile` adds, per round, when each hop was reached. Exits 1
 * when an app is not servable within the timeout.
 * Everything it starts is stopped, containers removed and the database dropped, on failure and Ctrl-C too.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { freePort } from '@gatehouse/testing';
import { sql } from 'kysely';
import { parse } from 'yaml';
import { startStack, type TestStack } from '../../test/stack.ts';
import { baselines, ratioLine } from './baselines.ts';

const { values: flags } = parseArgs({
  options: {
    apps: { type: 'string', default: '1,20,100' },
    /** Per app: how long to wait for a servable certificate before the round fails. */
    'timeout-s': { type: 'string', default: '300' },
    image: { type: 'string', default: process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1' },
    /** cert-issuer's ISSUANCE_CONCURRENCY; unset, its default. Issuance bounds the 100-app round. */
    'issuance-concurrency': { type: 'string' },
    /** deployer's DEPLOY_CONCURRENCY; unset, its default. */
    'deploy-concurrency': { type: 'string' },
    /** Also print, per round, the median time at which each hop of the path was reached (see hopTimes). */
    profile: { type: 'boolean', default: false },
  },
});

const rounds = flags.apps.split(',').map((entry) => {
  const count = Number(entry.trim());
  if (!Number.isInteger(count) || count < 1) {
    console.error(`--apps: "${entry}" is not a positive whole number (example: --apps 1,20,100)`);
    process.exit(2);
  }
  return count;
});
const timeoutMs = Number(flags['timeout-s']) * 1_000;
if (!(timeoutMs > 0)) {
  console.error('--timeout-s must be a positive number of seconds');
  process.exit(2);
}

const run = randomBytes(3).toString('hex');

interface RoundResult {
  apps: number;
  /** With --profile: per hop, the median ms after the POST at which an app reached it. */
  hops?: Record<string, number>;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  appsPerSecond: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

let stack: TestStack | undefined;

async function cleanUp(): Promise<void> {
  await stack?.stop();
}

process.once('SIGINT', () => {
  void cleanUp().finally(() => process.exit(130));
});

/** True once the app's YAML lists certificates and every referenced PEM file exists. */
function servable(appName: string): boolean {
  const path = join(stack!.root, 'dynamic', `app-${appName}.yml`);
  if (!existsSync(path)) return false;
  let config: { tls?: { certificates?: Array<{ certFile: string; keyFile: string }> } } | undefined;
  try {
    config = parse(readFileSync(path, 'utf8'));
  } catch {
    return false; // cannot happen with atomic renames, but a torn read must not end the run
  }
  const entries = config?.tls?.certificates ?? [];
  return (
    entries.length > 0 && entries.every((entry) => existsSync(entry.certFile) && existsSync(entry.keyFile))
  );
}

/** POSTs refused with 503 (the api's pool busy on a loaded machine) and sent again, over the whole run. */
let busyRetries = 0;

/**
 * Creates the app. A 503 is the api saying "nothing was changed, retry": the bench does so after 500 ms, and the
 * app's latency still counts from its first POST (retries are counted and printed).
 */
async function postApp(apiUrl: string, name: string, domain: string, port: number): Promise<void> {
  for (;;) {
    const status = await postAppOnce(apiUrl, name, domain, port);
    if (status !== 503) return;
    busyRetries++;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function postAppOnce(apiUrl: string, name: string, domain: string, port: number): Promise<number> {
  const response = await fetch(`${apiUrl}/v1/apps`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack!.apiToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name,
      image: flags.image,
      port,
      domains: [`https://${domain}`],
      command: [
        'sh',
        '-c',
        `mkdir -p /www && echo ok > /www/index.html && exec httpd -f -h /www -p 127.0.0.1:${port}`,
      ],
    }),
  });
  if (response.status === 503) {
    await response.body?.cancel();
    return 503;
  }
  if (response.status !== 201)
    throw new Error(`POST /v1/apps ${name}: ${response.status} ${await response.text()}`);
  return response.status;
}

async function runRound(apiUrl: string, roundIndex: number, count: number): Promise<RoundResult> {
  const apps = await Promise.all(
    Array.from({ length: count }, async (_, i) => ({
      name: `r${roundIndex}a${i}-${run}`,
      domain: `r${roundIndex}a${i}-${run}.test`,
      port: await freePort(),
    })),
  );
  const started = performance.now();
  const wallClock = new Map<string, { posted: number; servable: number }>();
  // One app failing ends the round: the others stop polling instead of keeping the process alive until their
  // own timeout while the stack is being stopped.
  const roundFailed = new AbortController();
  const latencies = await Promise.all(
    apps.map(async (app) => {
      const posted = performance.now();
      const postedWall = Date.now();
      await postApp(apiUrl, app.name, app.domain, app.port).catch((error: unknown) => {
        roundFailed.abort();
        throw error;
      });
      while (!servable(app.name)) {
        if (roundFailed.signal.aborted) throw new Error('round abandoned: another app failed');
        if (performance.now() - posted > timeoutMs) {
          roundFailed.abort();
          throw new Error(`app ${app.name} had no servable certificate after ${timeoutMs / 1000} s`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      wallClock.set(app.name, { posted: postedWall, servable: Date.now() });
      return performance.now() - posted;
    }),
  );
  const wallMs = performance.now() - started;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    apps: count,
    p50Ms: Math.round(percentile(sorted, 50)),
    p95Ms: Math.round(percentile(sorted, 95)),
    maxMs: Math.round(sorted.at(-1) ?? Number.NaN),
    appsPerSecond: Number(((count * 1000) / wallMs).toFixed(2)),
    ...(flags.profile ? { hops: await hopTimes(wallClock) } : {}),
  };
}

/**
 * Where an app's time goes: for each hop, ms from its POST to the moment the hop was reached, as the
 * database recorded it (same host, same clock). Postgres `now()` columns (`created_at`, `processed_at`) are
 * the start of the writing transaction, so `processed_at` is when a consumer's handler began; `published_at`
 * is when the relay had JetStream's ack. Returns the median over the round's apps per hop.
 */
async function hopTimes(wallClock: Map<string, { posted: number; servable: number }>) {
  const names = [...wallClock.keys()];
  const { rows } = await sql<{
    name: string;
    hop: string;
    at: Date;
  }>`with app as (select id, name from apps where name in (${sql.join(names)})),
     subjects as (
       select app.name, app.id::text as subject from app
       union all select app.name, ac.certificate_id::text from app join app_certificates ac on ac.app_id = app.id),
     events as (select s.name, o.* from outbox o join subjects s on s.subject = o.subject)
     select name, type || ' committed' as hop, created_at as at from events
     union all select name, type || ' published', published_at from events where published_at is not null
     union all select e.name, e.type || ' handled by ' || regexp_replace(p.consumer, '-bench-.*$', ''), p.processed_at
       from events e join processed_events p on p.event_id = e.event_id
     union all select s.name, 'order attempt started', min(a.started_at) from subjects s
       join order_attempts a on a.certificate_id::text = s.subject group by s.name
     union all select s.name, 'order attempt finished', max(a.finished_at) from subjects s
       join order_attempts a on a.certificate_id::text = s.subject group by s.name`.execute(
    stack!.database.db,
  );
  const byHop = new Map<string, number[]>();
  const add = (hop: string, ms: number) => byHop.set(hop, [...(byHop.get(hop) ?? []), ms]);
  for (const row of rows) add(row.hop, row.at.getTime() - wallClock.get(row.name)!.posted);
  for (const { posted, servable } of wallClock.values())
    add('servable (YAML + PEMs on disk)', servable - posted);
  const medians = [...byHop].map(([hop, values]) => {
    const sorted = values.sort((a, b) => a - b);
    return [hop, Math.round(percentile(sorted, 50))] as const;
  });
  return Object.fromEntries(medians.sort((a, b) => a[1] - b[1]));
}

async function main(): Promise<void> {
  const issuanceConcurrency = flags['issuance-concurrency'];
  stack = await startStack({
    label: `bench-e2e-${run}`,
    logLevel: 'warn',
    env: {
      ...(issuanceConcurrency ? { 'cert-issuer': { ISSUANCE_CONCURRENCY: issuanceConcurrency } } : {}),
      ...(flags['deploy-concurrency']
        ? { deployer: { DEPLOY_CONCURRENCY: flags['deploy-concurrency'] } }
        : {}),
    },
  });
  const apiUrl = stack.apiUrl;

  // Warm-up (not counted): registers the ACME account and brings every code path into the JIT.
  await runRound(apiUrl, 0, 1);

  const results: RoundResult[] = [];
  for (const [index, count] of rounds.entries()) {
    const result = await runRound(apiUrl, index + 1, count);
    results.push(result);
    console.log(
      `apps=${String(result.apps).padStart(4)}  p50=${String(result.p50Ms).padStart(6)} ms  p95=${String(result.p95Ms).padStart(6)} ms  max=${String(result.maxMs).padStart(6)} ms  ${result.appsPerSecond} apps/s`,
    );
    if (busyRetries > 0) console.log(`    (${busyRetries} POSTs answered 503 and sent again so far)`);
    for (const [hop, ms] of Object.entries(result.hops ?? {}))
      console.log(`    ${String(ms).padStart(6)} ms  ${hop}`);
  }
  // The recorded baselines are for 1 app and for 100 apps at once; other round sizes have none.
  for (const result of results) {
    if (result.apps === 1) console.log(ratioLine(baselines.e2eOneAppP50Ms, result.p50Ms));
    if (result.apps === 100) console.log(ratioLine(baselines.e2eHundredAppsPerSecond, result.appsPerSecond));
  }
  console.log(JSON.stringify({ bench: 'e2e', results }));
}

try {
  await main();
  await cleanUp();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  for (const { name, process } of stack?.processes ?? []) {
    const tail = process.output().split('\n').slice(-30).join('\n');
    console.error(`--- ${name} (last lines) ---\n${tail}`);
  }
  await cleanUp();
  process.exitCode = 1;
}
