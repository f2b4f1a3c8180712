/**
 * Issuance benchmark: in one run, side by side, the baseline (a bare acme-client loop doing the same ACME work
 * at the same concurrency) and certificates per second through cert-issuer's whole path (a `certs.requested`
 * event in → `certs.issued` out) with each replica count of `--replicas` (default 1 and 3), each part against a
 * fresh Pebble of its own. Prints one ratio line per replica count against the baseline, so a regression shows.
 * Targets (issue #14): 1 replica ≥ 1.5× the baseline; 3 replicas ≥ 40 certs/s. Run on demand, never in tests:
 *
 *   npm run bench:issuance -- --certs 200 --concurrency 4 --replicas 1,3 --names 1 --challenge http-01
 *
 * Needs the test bed (`npm run testbed`): Postgres (TESTBED_PG_URL), `nats-server` and `pebble` on PATH, and
 * pebble-challtestsrv (DNS on 127.0.0.1:8053, management on CHALLTESTSRV_URL) for Pebble's lookups.
 *
 * Whole path: a database, a nats-server and a Pebble of its own, and N real cert-issuer
 * processes (services/cert-issuer/test/service.ts) with ISSUANCE_CONCURRENCY = `--concurrency`, preflight
 * in its production mode (`enforce`, so the HTTP-01 self-check is part of every order) and rate-limit
 * budgets raised far above the run's size (every order budget is still reserved in Postgres, only never
 * spent), except the per-request throttle, which is `"unlimited"` as for a CA that publishes no request limit
 * (Pebble); `--le-request-limit` keeps Let's Encrypt's 20 requests/s per account instead.
 * Every certificate has a registered domain of its own (`c<i>-<run>.test`). One certificate first registers
 * the account and warms the processes up; it is not counted. Then all `--certs` requests are committed at
 * once, and each certificate's latency runs from its `certs.requested` outbox row to its `certs.issued`
 * outbox row (both `created_at`, i.e. Postgres `now()`); throughput is N / (last issued − first requested).
 *
 * Baseline: one acme-client used plainly (keep-alive agent, backoffMin 100 ms instead of its 5 s default, which
 * is what cert-issuer used before issue #14) with one account registered up front and
 * one warm-up certificate, then `--concurrency` loops taking the N orders from a shared counter: createOrder,
 * getAuthorizations, solve (HTTP-01 from an in-process responder on Pebble's httpPort, or DNS-01 through
 * challtestsrv), waitForValidStatus, finalizeOrder with a fresh ECDSA P-256 key, getCertificate. Its
 * latency counts from the moment all N were "requested" (like the whole path, queueing included); the
 * time of one order alone is reported as `per_order`.
 *
 * Where an order's time goes: last, cert-issuer's own `Issuer` (acme/acme-issuer.ts on the shared ACME HTTP
 * client) runs `--certs` orders alone at the same concurrency (no database, queue or preflight; HTTP-01 from an
 * in-process responder) against a fresh Pebble, and its request metrics give requests per order and mean time per
 * ACME endpoint. It runs after the baseline because it reconfigures acme-client's transport in this process.
 *
 * Prints a table, then one JSON line. Exits 1 if a certificate was not issued (failed or timed out) in
 * either part; a ratio below the target is reported, not an error. Everything it starts is stopped and
 * the database dropped at the end, on failure and on Ctrl-C too.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Agent } from 'node:https';
import { cpus, tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type CertIssuerProcess, requestCertificate, startCertIssuer } from '@gatehouse/service-harness';
import {
  challtestsrvClient,
  createTestDatabase,
  freePort,
  startNatsServer,
  startPebble,
  type TestPebble,
} from '@gatehouse/testing';
import type { Authorization, Order } from 'acme-client';
import acme from 'acme-client';
import { sql } from 'kysely';
import { configureAcmeHttp } from '../../services/cert-issuer/src/acme/acme-http.ts';
import { createAcmeIssuer } from '../../services/cert-issuer/src/acme/acme-issuer.ts';
import { acmeMetrics } from '../../services/cert-issuer/src/metrics.ts';

const { values: flags } = parseArgs({
  options: {
    certs: { type: 'string', default: '200' },
    /** cert-issuer's ISSUANCE_CONCURRENCY (per replica) and the bare loop's concurrency. */
    concurrency: { type: 'string', default: '4' },
    /** Replica counts of the whole path, each measured in turn: `1,3`. */
    replicas: { type: 'string', default: '1,3' },
    /** Names per certificate: `c<i>-<run>.test`, then `n<j>.c<i>-<run>.test`. */
    names: { type: 'string', default: '1' },
    challenge: { type: 'string', default: 'http-01' },
    /** PEBBLE_WFE_NONCEREJECT for both Pebbles (Pebble's own default is 5). */
    'nonce-reject': { type: 'string', default: '0' },
    /** Keep Let's Encrypt's 20 ACME requests/s per account throttle instead of raising it with the rest. */
    'le-request-limit': { type: 'boolean', default: false },
    /** Give up waiting for either part after this many seconds. */
    timeout: { type: 'string', default: '600' },
    /** cert-issuer's LOG_LEVEL. */
    'log-level': { type: 'string', default: 'info' },
    /** Write each cert-issuer's and each Pebble's output to this directory. */
    logs: { type: 'string' },
    /** Write a V8 CPU profile of each cert-issuer process (`--cpu-prof`) to this directory. */
    profile: { type: 'string' },
    /** Count the SQL statements cert-issuer sends per certificate (statement-counter.ts), by statement. */
    statements: { type: 'boolean', default: false },
  },
});

function integer(name: keyof typeof flags, min: number): number {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be an integer >= ${min}, got ${flags[name]}`);
    process.exit(2);
  }
  return value;
}

function replicaCounts(value: string): number[] {
  const counts = value.split(',').map((part) => Number(part.trim()));
  if (counts.length === 0 || counts.some((count) => !Number.isInteger(count) || count < 1)) {
    console.error(`--replicas must be a comma-separated list of integers >= 1, got ${value}`);
    process.exit(2);
  }
  return counts;
}

const challenge = String(flags.challenge);
if (challenge !== 'http-01' && challenge !== 'dns-01') {
  console.error(`--challenge must be http-01 or dns-01, got ${challenge}`);
  process.exit(2);
}

const settings = {
  certs: integer('certs', 1),
  concurrency: integer('concurrency', 1),
  replicas: replicaCounts(String(flags.replicas)),
  names: integer('names', 1),
  challenge: challenge as 'http-01' | 'dns-01',
  nonceRejectPercent: integer('nonce-reject', 0),
  leRequestLimit: flags['le-request-limit'] === true,
  timeoutMs: integer('timeout', 1) * 1_000,
  logLevel: String(flags['log-level']),
  logs: flags.logs,
  profile: flags.profile,
  statements: flags.statements === true,
};

/** Every certificate gets a registered domain of its own, so per-domain budgets never interact. */
const run = randomBytes(3).toString('hex');
function namesFor(label: string): string[] {
  const base = `c${label}-${run}.test`;
  return [base, ...Array.from({ length: settings.names - 1 }, (_, j) => `n${j + 1}.${base}`)];
}

/** Budgets far above anything this run spends; they are still reserved in Postgres for every order. */
const huge = { max: 1_000_000 };
const rateLimits = JSON.stringify({
  '*': {
    'new-orders-per-account': huge,
    'certificates-per-registered-domain': huge,
    'duplicate-certificates': huge,
    'failed-authorizations-per-name': huge,
    // Pebble publishes no request limit: the throttle is off, as it is for any CA configured so.
    ...(settings.leRequestLimit ? {} : { 'requests-per-account': 'unlimited' }),
  },
});

// ---------------------------------------------------------------------------------------------------------
// Small helpers: cleanup stack, percentiles, CPU accounting
// ---------------------------------------------------------------------------------------------------------

/** Things to stop, last started first; each runs once even if an earlier one fails. */
class Cleanup {
  private readonly steps: Array<{ what: string; run: () => Promise<unknown> }> = [];
  defer(what: string, run: () => Promise<unknown>): void {
    this.steps.push({ what, run });
  }
  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      await step
        .run()
        .catch((error: unknown) => console.error(`bench: cleanup of ${step.what} failed:`, error));
    }
  }
}

interface Stats {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles, in ms. */
function stats(samples: number[]): Stats {
  const sorted = samples.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(sorted.length, 1);
  const round = (value: number) => Math.round(value);
  return {
    p50: round(rank(50)),
    p95: round(rank(95)),
    p99: round(rank(99)),
    max: round(rank(100)),
    mean: round(mean),
  };
}

const round2 = (value: number) => Math.round(value * 100) / 100;

const clockTicks = 100; // sysconf(_SC_CLK_TCK) on Linux

/** utime + stime of a process, in seconds; undefined when it is gone. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of the whole machine (every session's work on it, not only ours): busy (user, nice, system,
 * irq, softirq), stolen by the hypervisor (`steal`: a noisy neighbour on a VM) and in total.
 */
function machineCpuSeconds(): { busy: number; steal: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is already in user)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const busy = user + nice + system + irq + softirq;
  return {
    busy: busy / clockTicks,
    steal: steal / clockTicks,
    total: (busy + idle + iowait + steal) / clockTicks,
  };
}

/** The pid of the process whose command line mentions `needle` (Pebble, by its config path). */
function pidByCommandLine(needle: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

type PidGroups = Record<string, number[]>;

/** CPU used per group of processes between `start` and `stop`, in cores (CPU seconds per wall second). */
function cpuMeter(groups: () => Promise<PidGroups>) {
  let before = new Map<number, number>();
  let machineBefore = machineCpuSeconds();
  let benchBefore = process.cpuUsage();
  let startedAt = performance.now();
  const sample = async () => {
    const map = new Map<number, number>();
    for (const pids of Object.values(await groups()))
      for (const pid of pids) {
        const seconds = processCpuSeconds(pid);
        if (seconds !== undefined) map.set(pid, seconds);
      }
    return map;
  };
  return {
    async start() {
      before = await sample();
      machineBefore = machineCpuSeconds();
      benchBefore = process.cpuUsage();
      startedAt = performance.now();
    },
    async stop(): Promise<Record<string, number>> {
      const wallS = (performance.now() - startedAt) / 1_000;
      const machine = machineCpuSeconds();
      const bench = process.cpuUsage(benchBefore);
      const result: Record<string, number> = {};
      for (const [group, pids] of Object.entries(await groups())) {
        let used = 0;
        // A process started during the window (a new Postgres connection) counts from zero.
        for (const pid of pids) used += (processCpuSeconds(pid) ?? 0) - (before.get(pid) ?? 0);
        result[group] = round2(used / wallS);
      }
      result.bench_process = round2((bench.user + bench.system) / 1e6 / wallS);
      const total = Math.max(machine.total - machineBefore.total, 1e-9);
      result.machine_busy = round2(((machine.busy - machineBefore.busy) / total) * cpus().length);
      result.machine_steal = round2(((machine.steal - machineBefore.steal) / total) * cpus().length);
      const ours = Object.entries(result)
        .filter(([name]) => !name.startsWith('machine_'))
        .reduce((sum, [, value]) => sum + value, 0);
      result.other_processes = round2(Math.max(0, result.machine_busy - ours));
      return result;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function stopService(service: CertIssuerProcess): Promise<void> {
  const exited = service.stop('SIGTERM');
  const timer = setTimeout(() => void service.stop('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function writeLog(name: string, text: string): void {
  if (!settings.logs) return;
  mkdirSync(settings.logs, { recursive: true });
  writeFileSync(join(settings.logs, name), text);
}

/** Warnings and errors in the services' JSON logs, counted by message. */
function logProblems(outputs: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const output of outputs)
    for (const line of output.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level?: number | string; msg?: string; kind?: string };
        const level = entry.level ?? 0;
        if (typeof level === 'number' ? level < 40 : !['warn', 'error', 'fatal'].includes(level)) continue;
        const key = `${entry.msg ?? '?'}${entry.kind ? ` (${entry.kind})` : ''}`;
        counts[key] = (counts[key] ?? 0) + 1;
      } catch {
        // not a log line
      }
    }
  return counts;
}

// ---------------------------------------------------------------------------------------------------------
// Whole path: requests in Postgres → relay → NATS → cert-issuer (queue, preflight, ACME) → certs.issued
// ---------------------------------------------------------------------------------------------------------

interface WholePathResult {
  replicas: number;
  issued: number;
  failures: number;
  duplicates: number;
  failed_attempts: number;
  issue_failed_events: number;
  wall_s: number;
  certs_per_s: number;
  latency_ms: Stats;
  /** Per certificate, where its latency went (ms). */
  stages_ms: Record<string, Stats>;
  /** Sum of order attempt times / wall time: how many of the replicas' worker slots were busy on average. */
  busy_workers: number;
  cpu_cores: Record<string, number>;
  warnings: Record<string, number>;
  warmup_ms: number;
  /** With `--statements`: SQL statements cert-issuer sent per certificate in the measured window, by statement. */
  statements_per_cert?: { total: number; by_statement: Record<string, number> };
}

/** NODE_OPTIONS of the cert-issuer processes: a CPU profile and/or the statement counter, as asked. */
function serviceNodeOptions(replicas: number, statementsDir: string | undefined): Record<string, string> {
  const options = [
    ...(settings.profile
      ? [`--cpu-prof --cpu-prof-dir=${resolvePath(settings.profile, `${replicas}x`)}`]
      : []),
    ...(statementsDir ? [`--import=${join(import.meta.dirname, 'statement-counter.ts')}`] : []),
  ];
  return {
    ...(options.length > 0 ? { NODE_OPTIONS: options.join(' ') } : {}),
    ...(statementsDir ? { GATEHOUSE_BENCH_STATEMENTS_DIR: statementsDir } : {}),
  };
}

/**
 * Starts the measured window of every process's statement counter (SIGUSR2: snapshot and reset) and returns the
 * function that ends it: a second signal, then the counts of the window summed over the processes.
 */
async function countStatements(
  services: CertIssuerProcess[],
  directory: string,
): Promise<() => Promise<Map<string, number>>> {
  const signalAll = async (snapshot: number) => {
    for (const service of services) service.child.kill('SIGUSR2');
    const files = services.map((service) => join(directory, `${service.child.pid}-${snapshot}.json`));
    for (const deadline = Date.now() + 5_000; ; await sleep(20)) {
      const present = new Set(readdirSync(directory).map((name) => join(directory, name)));
      if (files.every((file) => present.has(file))) return files;
      if (Date.now() > deadline) throw new Error('bench: a cert-issuer did not write its statement counts');
    }
  };
  await signalAll(0);
  return async () => {
    const totals = new Map<string, number>();
    for (const file of await signalAll(1)) {
      for (const [statement, count] of Object.entries(
        JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>,
      ))
        totals.set(statement, (totals.get(statement) ?? 0) + count);
    }
    return totals;
  };
}

function statementsPerCertificate(totals: Map<string, number>, certs: number) {
  const perCert = (count: number) => Math.round((count / certs) * 100) / 100;
  const sorted = [...totals].sort((a, b) => b[1] - a[1]);
  return {
    total: perCert(sorted.reduce((sum, [, count]) => sum + count, 0)),
    by_statement: Object.fromEntries(sorted.map(([statement, count]) => [statement, perCert(count)])),
  };
}

async function wholePath(signal: AbortSignal, replicas: number): Promise<WholePathResult> {
  const cleanup = new Cleanup();
  const services: CertIssuerProcess[] = [];
  let pebble: TestPebble | undefined;
  try {
    const http01Port = await freePort();
    const [database, nats, startedPebble] = await Promise.allSettled([
      createTestDatabase('bench_issuance'),
      startNatsServer(),
      startPebble({ httpPort: http01Port, nonceRejectPercent: settings.nonceRejectPercent }),
    ]);
    if (database.status === 'fulfilled') cleanup.defer('database', () => database.value.drop());
    if (nats.status === 'fulfilled') cleanup.defer('nats-server', () => nats.value.stop());
    if (startedPebble.status === 'fulfilled') {
      pebble = startedPebble.value;
      const started = pebble;
      cleanup.defer('pebble', async () => {
        writeLog(`pebble-whole-path-${replicas}x.log`, started.output());
        await started.stop();
      });
    }
    for (const result of [database, nats, startedPebble])
      if (result.status === 'rejected') throw result.reason;
    if (database.status !== 'fulfilled' || nats.status !== 'fulfilled' || !pebble)
      throw new Error('unreachable');
    const db = database.value.db;

    const statementsDir = settings.statements
      ? mkdtempSync(join(tmpdir(), `bench-statements-${replicas}x-`))
      : undefined;
    if (statementsDir)
      cleanup.defer('statement counts', async () => rmSync(statementsDir, { recursive: true, force: true }));
    // Only one replica listens on Pebble's HTTP-01 port; tokens live in Postgres, so it answers for all.
    const startedServices = await Promise.allSettled(
      Array.from({ length: replicas }, (_, index) =>
        startCertIssuer({
          database: database.value,
          nats: nats.value,
          pebbles: [pebble!],
          http01Port: index === 0 ? http01Port : undefined,
          env: {
            ISSUANCE_CONCURRENCY: String(settings.concurrency),
            PREFLIGHT: 'enforce',
            ACME_RATE_LIMITS: rateLimits,
            LOG_LEVEL: settings.logLevel,
            ...serviceNodeOptions(replicas, statementsDir),
          },
        }),
      ),
    );
    for (const [index, result] of startedServices.entries()) {
      if (result.status !== 'fulfilled') continue;
      const service = result.value;
      services.push(service);
      cleanup.defer(`cert-issuer ${index}`, async () => {
        await stopService(service);
        writeLog(`cert-issuer-${replicas}x-${index}.log`, service.output());
      });
    }
    for (const result of startedServices) if (result.status === 'rejected') throw result.reason;

    const pebblePid = pidByCommandLine(pebble.configPath);
    const meter = cpuMeter(async () => {
      const { rows } = await sql<{ pid: number }>`
        select pid from pg_stat_activity where datname = current_database()`.execute(db);
      return {
        cert_issuer: services.map((service) => service.child.pid ?? 0).filter((pid) => pid > 0),
        pebble: pebblePid ? [pebblePid] : [],
        postgres: rows.map((row) => row.pid),
      };
    });

    const outcome = async (id: string) => {
      const { rows } = await sql<{ issued: boolean; failed: boolean }>`
        select exists (select 1 from outbox where type = 'certs.issued' and subject = ${id}) as issued,
               exists (select 1 from issuance_jobs where certificate_id = ${id} and status = 'failed') as failed
      `.execute(db);
      return rows[0];
    };

    // Warm-up: registers the ACME account and runs every code path once; not counted.
    const warmupStarted = performance.now();
    const warmupId = await requestCertificate(db, namesFor('w'), { challenge: settings.challenge });
    for (const deadline = Date.now() + 60_000; ; ) {
      signal.throwIfAborted();
      const state = await outcome(warmupId);
      if (state?.issued) break;
      if (state?.failed || Date.now() > deadline) {
        const row = await db
          .selectFrom('certificates')
          .select(['status', 'last_error_kind', 'last_error_message'])
          .where('id', '=', warmupId)
          .executeTakeFirst();
        throw new Error(
          `the warm-up certificate was not issued (${JSON.stringify(row)}); cert-issuer said:\n` +
            services.map((service) => service.output().split('\n').slice(-30).join('\n')).join('\n---\n'),
        );
      }
      await sleep(50);
    }
    const warmupMs = Math.round(performance.now() - warmupStarted);

    const statementCounts = statementsDir ? await countStatements(services, statementsDir) : undefined;
    await meter.start();
    const started = performance.now();
    const ids = await Promise.all(
      Array.from({ length: settings.certs }, (_, index) =>
        requestCertificate(db, namesFor(String(index)), { challenge: settings.challenge }),
      ),
    );
    let timedOut = false;
    for (;;) {
      signal.throwIfAborted();
      const { rows } = await sql<{ issued: string; failed: string }>`
        select
          (select count(distinct subject) from outbox
            where type = 'certs.issued' and subject <> ${warmupId}) as issued,
          (select count(*) from issuance_jobs where status = 'failed') as failed`.execute(db);
      if (Number(rows[0]?.issued) + Number(rows[0]?.failed) >= ids.length) break;
      if (performance.now() - started > settings.timeoutMs) {
        timedOut = true;
        console.error(
          `bench: whole path: not every certificate was issued after ${settings.timeoutMs / 1_000} s`,
        );
        break;
      }
      await sleep(100);
    }
    const cpu = await meter.stop();
    const statements = await statementCounts?.();

    // Per certificate: request → job queued → attempt started → preflight recorded → order created →
    // attempt finished → certs.issued. Outbox/job/order times are Postgres now(); attempt and preflight
    // times are cert-issuer's clock (same machine).
    const { rows } = await sql<{
      id: string;
      requested: string | null;
      queued: string | null;
      started: string | null;
      preflighted: string | null;
      ordered: string | null;
      finished: string | null;
      issued: string | null;
      issued_events: string;
      failed_attempts: string;
      issue_failed_events: string;
    }>`
      with requested as (select subject, min(created_at) as at from outbox
                          where type = 'certs.requested' group by subject),
           issued as (select subject, min(created_at) as at, count(*) as events from outbox
                       where type = 'certs.issued' group by subject),
           issue_failed as (select subject, count(*) as events from outbox
                             where type = 'certs.issue-failed' group by subject),
           jobs as (select certificate_id, min(created_at) as at from issuance_jobs group by certificate_id),
           attempts as (select certificate_id,
                               max(started_at) filter (where outcome = 'success') as started,
                               max(finished_at) filter (where outcome = 'success') as finished,
                               count(*) filter (where outcome = 'failure') as failures
                          from order_attempts group by certificate_id),
           orders as (select certificate_id, max(created_at) filter (where status = 'valid') as at
                        from orders group by certificate_id)
      select c.id,
             extract(epoch from requested.at) * 1000 as requested,
             extract(epoch from jobs.at) * 1000 as queued,
             extract(epoch from attempts.started) * 1000 as started,
             extract(epoch from c.preflight_at) * 1000 as preflighted,
             extract(epoch from orders.at) * 1000 as ordered,
             extract(epoch from attempts.finished) * 1000 as finished,
             extract(epoch from issued.at) * 1000 as issued,
             coalesce(issued.events, 0) as issued_events,
             coalesce(attempts.failures, 0) as failed_attempts,
             coalesce(issue_failed.events, 0) as issue_failed_events
        from certificates c
        left join requested on requested.subject = c.id::text
        left join issued on issued.subject = c.id::text
        left join issue_failed on issue_failed.subject = c.id::text
        left join jobs on jobs.certificate_id = c.id
        left join attempts on attempts.certificate_id = c.id
        left join orders on orders.certificate_id = c.id
       where c.id <> ${warmupId}`.execute(db);

    const num = (value: string | null) => (value === null ? Number.NaN : Number(value));
    const done = rows.filter((row) => row.issued !== null);
    const firstRequest = Math.min(...rows.map((row) => num(row.requested)));
    const lastIssued = Math.max(...done.map((row) => num(row.issued)));
    const wallS = (lastIssued - firstRequest) / 1_000;
    const between = (from: keyof (typeof rows)[number], to: keyof (typeof rows)[number]) =>
      stats(done.map((row) => num(row[to] as string | null) - num(row[from] as string | null)));
    const attemptMs = done.map((row) => num(row.finished) - num(row.started));
    if (timedOut) console.error(`bench: whole path: ${rows.length - done.length} certificates still open`);
    return {
      replicas,
      issued: done.length,
      failures: settings.certs - done.length,
      duplicates: rows.reduce((sum, row) => sum + Math.max(0, Number(row.issued_events) - 1), 0),
      failed_attempts: rows.reduce((sum, row) => sum + Number(row.failed_attempts), 0),
      issue_failed_events: rows.reduce((sum, row) => sum + Number(row.issue_failed_events), 0),
      wall_s: round2(wallS),
      certs_per_s: done.length > 0 && wallS > 0 ? round2(done.length / wallS) : 0,
      latency_ms: between('requested', 'issued'),
      stages_ms: {
        'relay + consumer (requested → job queued)': between('requested', 'queued'),
        'queued for a worker slot (job → attempt)': between('queued', 'started'),
        'account + budget check + preflight': between('started', 'preflighted'),
        'order budget + newOrder + checkpoint': between('preflighted', 'ordered'),
        'challenges + finalize + download': between('ordered', 'finished'),
        'store + certs.issued (attempt end → event)': between('finished', 'issued'),
        'one order attempt (attempt start → end)': stats(attemptMs),
      },
      busy_workers:
        wallS > 0 ? round2(attemptMs.filter(Number.isFinite).reduce((a, b) => a + b, 0) / 1_000 / wallS) : 0,
      cpu_cores: cpu,
      warnings: logProblems(services.map((service) => service.output())),
      warmup_ms: warmupMs,
      ...(statements ? { statements_per_cert: statementsPerCertificate(statements, settings.certs) } : {}),
    };
  } finally {
    await cleanup.run();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Bare floor: the same ACME work from one acme-client, no database, no queue, no preflight
// ---------------------------------------------------------------------------------------------------------

interface BareResult {
  issued: number;
  failures: number;
  errors: Record<string, number>;
  wall_s: number;
  certs_per_s: number;
  /** From the moment all N were requested (queueing included), like the whole path. */
  latency_ms: Stats;
  /** One order alone, from createOrder to the downloaded chain. */
  per_order_ms: Stats;
  cpu_cores: Record<string, number>;
}

async function bareLoop(signal: AbortSignal): Promise<BareResult> {
  const cleanup = new Cleanup();
  try {
    const httpPort = await freePort();
    const tokens = new Map<string, string>();
    if (settings.challenge === 'http-01') {
      // Pebble sends `Host: name:port`; the token alone decides the answer.
      const server = createServer((request, response) => {
        const match = /^\/\.well-known\/acme-challenge\/([^/?#]+)$/.exec(request.url ?? '');
        const keyAuthorization = match ? tokens.get(match[1]!) : undefined;
        if (!keyAuthorization) response.writeHead(404).end();
        else response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(keyAuthorization);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(httpPort, '127.0.0.1', resolve);
      });
      cleanup.defer('http-01 responder', async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      });
    }
    const pebble = await startPebble({ httpPort, nonceRejectPercent: settings.nonceRejectPercent });
    cleanup.defer('pebble', async () => {
      writeLog('pebble-bare.log', pebble.output());
      await pebble.stop();
    });
    const pebblePid = pidByCommandLine(pebble.configPath);
    const dns = challtestsrvClient();

    // Keep-alive like cert-issuer's own agent (acme/acme-http.ts), trusting Pebble's listener.
    const agent = new Agent({ ca: pebble.listenerCaPem, keepAlive: true });
    cleanup.defer('https agent', async () => agent.destroy());
    acme.axios.defaults.httpsAgent = agent;
    acme.setLogger(() => {});
    const client = new acme.Client({
      directoryUrl: pebble.directoryUrl,
      accountKey: await acme.crypto.createPrivateEcdsaKey(),
      backoffMin: 100,
      backoffMax: 2_000,
      backoffAttempts: 20,
    });
    await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:admin@gatehouse.test'] });

    async function solve(authorization: Authorization): Promise<void> {
      if (authorization.status === 'valid') return;
      const found = authorization.challenges.find((candidate) => candidate.type === settings.challenge);
      if (!found) throw new Error(`no ${settings.challenge} challenge for ${authorization.identifier.value}`);
      const keyAuthorization = await client.getChallengeKeyAuthorization(found);
      const record = `_acme-challenge.${authorization.identifier.value}`;
      if (settings.challenge === 'http-01') tokens.set(found.token, keyAuthorization);
      else await dns.setTxt(record, keyAuthorization);
      try {
        await client.completeChallenge(found);
        await client.waitForValidStatus(found);
      } finally {
        if (settings.challenge === 'http-01') tokens.delete(found.token);
        else await dns.clearTxt(record);
      }
    }

    async function issueOne(names: string[]): Promise<void> {
      const created = await client.createOrder({
        identifiers: names.map((value) => ({ type: 'dns', value })),
      });
      let order: Order = created;
      if (order.status === 'pending') {
        await Promise.all((await client.getAuthorizations(order)).map(solve));
        order = { ...(await client.waitForValidStatus(order)), url: created.url };
      }
      const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
      const [, csr] = await acme.crypto.createCsr({ altNames: names }, keyPem);
      order = await client.finalizeOrder(order, csr);
      if (order.status === 'processing')
        order = { ...(await client.waitForValidStatus(order)), url: created.url };
      if (order.status !== 'valid') throw new Error(`order ended in status ${order.status}`);
      const chain = await client.getCertificate(order);
      if (!chain.includes('BEGIN CERTIFICATE')) throw new Error('no certificate in the download');
    }

    await issueOne(namesFor('bw')); // Warm-up, not counted.

    const meter = cpuMeter(async () => ({ pebble: pebblePid ? [pebblePid] : [] }));
    await meter.start();
    const started = performance.now();
    const deadline = started + settings.timeoutMs;
    const doneAt: number[] = [];
    const perOrder: number[] = [];
    const errors: Record<string, number> = {};
    let next = 0;
    async function worker(): Promise<void> {
      for (;;) {
        const index = next++;
        if (index >= settings.certs || signal.aborted || performance.now() > deadline) return;
        const orderStarted = performance.now();
        try {
          await issueOne(namesFor(`b${index}`));
          const now = performance.now();
          doneAt.push(now - started);
          perOrder.push(now - orderStarted);
        } catch (error) {
          const message = String((error as Error)?.message ?? error).slice(0, 200);
          errors[message] = (errors[message] ?? 0) + 1;
        }
      }
    }
    await Promise.all(Array.from({ length: settings.concurrency }, worker));
    const cpu = await meter.stop();
    signal.throwIfAborted();
    const wallS = Math.max(...doneAt, 0) / 1_000;
    return {
      issued: doneAt.length,
      failures: settings.certs - doneAt.length,
      errors,
      wall_s: round2(wallS),
      certs_per_s: doneAt.length > 0 && wallS > 0 ? round2(doneAt.length / wallS) : 0,
      latency_ms: stats(doneAt),
      per_order_ms: stats(perOrder),
      cpu_cores: cpu,
    };
  } finally {
    await cleanup.run();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Where the time goes: cert-issuer's Issuer alone, per ACME endpoint
// ---------------------------------------------------------------------------------------------------------

interface IssuerOnlyResult {
  certs_per_s: number;
  per_order_ms: Stats;
  /** Per endpoint: requests per order and mean latency (ms). */
  endpoints: Record<string, { per_order: number; mean_ms: number }>;
}

async function issuerOnly(signal: AbortSignal): Promise<IssuerOnlyResult> {
  const cleanup = new Cleanup();
  try {
    const httpPort = await freePort();
    const tokens = new Map<string, string>();
    const server = createServer((request, response) => {
      const token = /^\/\.well-known\/acme-challenge\/([^/?#]+)$/.exec(request.url ?? '')?.[1];
      const keyAuthorization = token ? tokens.get(token) : undefined;
      if (!keyAuthorization) response.writeHead(404).end();
      else response.writeHead(200).end(keyAuthorization);
    });
    await new Promise<void>((resolve) => server.listen(httpPort, '127.0.0.1', resolve));
    cleanup.defer('http-01 responder', async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const pebble = await startPebble({ httpPort, nonceRejectPercent: settings.nonceRejectPercent });
    cleanup.defer('pebble', () => pebble.stop());
    const http = configureAcmeHttp({ caBundlePem: pebble.listenerCaPem });
    cleanup.defer('acme http client', async () => http.close());
    const accountKey = (await acme.crypto.createPrivateEcdsaKey()).toString();
    const registration = new acme.Client({ directoryUrl: pebble.directoryUrl, accountKey });
    await registration.createAccount({ termsOfServiceAgreed: true });
    const issuer = createAcmeIssuer({
      account: {
        id: 'bench',
        directoryUrl: pebble.directoryUrl,
        accountUrl: registration.getAccountUrl(),
        keyPem: accountKey,
      },
      http,
    });
    const solver = {
      type: 'http-01' as const,
      async present(_name: string, token: string, keyAuthorization: string) {
        tokens.set(token, keyAuthorization);
      },
      async cleanup(_name: string, token: string) {
        tokens.delete(token);
      },
    };
    const issueOne = (label: string) =>
      issuer.issue({ names: namesFor(label), keyType: 'ecdsa-p256', solver, checkpoint: async () => {} });
    await issueOne('iw'); // Warm-up: directory, nonces, connection; not counted.
    acmeMetrics.duration.reset();
    const started = performance.now();
    const perOrder: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: settings.concurrency }, async () => {
        for (;;) {
          const index = next++;
          if (index >= settings.certs || signal.aborted) return;
          const orderStarted = performance.now();
          await issueOne(`i${index}`);
          perOrder.push(performance.now() - orderStarted);
        }
      }),
    );
    signal.throwIfAborted();
    const wallS = (performance.now() - started) / 1_000;
    const sums = new Map<string, { sum: number; count: number }>();
    for (const value of (await acmeMetrics.duration.get()).values) {
      const endpoint = String(value.labels.endpoint);
      const entry = sums.get(endpoint) ?? { sum: 0, count: 0 };
      if (value.metricName?.endsWith('_sum')) entry.sum += value.value;
      if (value.metricName?.endsWith('_count')) entry.count += value.value;
      sums.set(endpoint, entry);
    }
    const endpoints: IssuerOnlyResult['endpoints'] = {};
    for (const [endpoint, { sum, count }] of [...sums].sort((a, b) => b[1].sum - a[1].sum)) {
      if (count === 0) continue;
      endpoints[endpoint] = {
        per_order: round2(count / settings.certs),
        mean_ms: round2((sum / count) * 1_000),
      };
    }
    return { certs_per_s: round2(settings.certs / wallS), per_order_ms: stats(perOrder), endpoints };
  } finally {
    await cleanup.run();
  }
}

// ---------------------------------------------------------------------------------------------------------

/** Issue #14: one replica at 1.5× the baseline, three replicas at 40 certs/s on Pebble. */
const targets = { oneReplicaRatio: 1.5, threeReplicasCertsPerS: 40 };

interface BenchResult {
  settings: typeof settings;
  baseline: BareResult;
  whole_paths: Array<WholePathResult & { ratio: number }>;
  issuer_only: IssuerOnlyResult;
}

function printTable(result: BenchResult): void {
  const { baseline: bare } = result;
  const s = result.settings;
  console.log(
    `issuance bench: ${s.certs} certificates × ${s.names} name${s.names > 1 ? 's' : ''}, ${s.challenge}, ` +
      `concurrency ${s.concurrency} per cert-issuer and in the baseline loop; replicas ${s.replicas.join(', ')}`,
  );
  console.log(
    `  Pebble: nonce rejection ${s.nonceRejectPercent}%, authz reuse default, VA no-sleep; ` +
      `whole path includes preflight (PREFLIGHT=enforce${s.challenge === 'http-01' ? ', HTTP-01 self-check' : ''}); ` +
      `order budgets raised, requests/s per account ${s.leRequestLimit ? "20 (Let's Encrypt)" : 'unlimited'}`,
  );
  const header = ['certs/s', 'p50', 'p95', 'p99', 'max', 'failed'].map((h) => h.padStart(9)).join('');
  console.log(`  ${''.padEnd(40)}${header}`);
  const row = (label: string, certsPerS: number, latency: Stats, failed: number | string) =>
    console.log(
      `  ${label.padEnd(40)}${[certsPerS, latency.p50, latency.p95, latency.p99, latency.max, failed]
        .map((value) => String(value).padStart(9))
        .join('')}`,
    );
  row('baseline: bare acme-client (burst → done)', bare.certs_per_s, bare.latency_ms, bare.failures);
  row('baseline: one order alone', Number.NaN, bare.per_order_ms, '');
  for (const whole of result.whole_paths) {
    row(
      `cert-issuer × ${whole.replicas} (request → issued)`,
      whole.certs_per_s,
      whole.latency_ms,
      whole.failures,
    );
    row(
      `cert-issuer × ${whole.replicas}: one order attempt`,
      Number.NaN,
      whole.stages_ms['one order attempt (attempt start → end)']!,
      '',
    );
  }
  for (const whole of result.whole_paths) {
    const goal =
      whole.replicas === 1
        ? `target ≥ ${targets.oneReplicaRatio}×: ${whole.ratio >= targets.oneReplicaRatio ? 'met' : 'NOT met'}`
        : whole.replicas === 3
          ? `target ≥ ${targets.threeReplicasCertsPerS} certs/s: ${whole.certs_per_s >= targets.threeReplicasCertsPerS ? 'met' : 'NOT met'}`
          : 'no target';
    console.log(
      `  ratio cert-issuer × ${whole.replicas} ÷ baseline = ${whole.ratio} (${whole.certs_per_s} vs ${bare.certs_per_s} certs/s; ${goal})`,
    );
  }
  for (const whole of result.whole_paths) {
    console.log(
      `  cert-issuer × ${whole.replicas} per certificate (ms)${''.padEnd(7)}${['p50', 'p95', 'mean'].map((h) => h.padStart(9)).join('')}`,
    );
    for (const [stage, st] of Object.entries(whole.stages_ms)) {
      console.log(
        `    ${stage.padEnd(45)}${[st.p50, st.p95, st.mean].map((v) => String(v).padStart(9)).join('')}`,
      );
    }
    console.log(
      `    worker slots busy on average: ${whole.busy_workers} of ${s.concurrency * whole.replicas}; ` +
        `failed attempts ${whole.failed_attempts}, certs.issue-failed ${whole.issue_failed_events}, duplicates ${whole.duplicates}`,
    );
    if (whole.statements_per_cert) {
      console.log(`    SQL statements per certificate: ${whole.statements_per_cert.total}`);
      for (const [statement, count] of Object.entries(whole.statements_per_cert.by_statement).slice(0, 16))
        console.log(`      ${String(count).padStart(6)}  ${statement.slice(0, 90)}`);
    }
  }
  const cores = (cpu: Record<string, number>) =>
    Object.entries(cpu)
      .map(([name, value]) => `${name} ${value}`)
      .join(', ');
  console.log(`  cpu (cores of ${cpus().length}) baseline: ${cores(bare.cpu_cores)}`);
  for (const whole of result.whole_paths) {
    console.log(
      `  cpu (cores of ${cpus().length}) cert-issuer × ${whole.replicas}: ${cores(whole.cpu_cores)}`,
    );
    const warnings = Object.entries(whole.warnings);
    if (warnings.length > 0)
      console.log(
        `  cert-issuer × ${whole.replicas} warnings: ${warnings.map(([msg, n]) => `${n}× ${msg}`).join('; ')}`,
      );
  }
  const only = result.issuer_only;
  console.log(
    `  where an order's time goes (cert-issuer's Issuer alone, no database/queue/preflight): ${only.certs_per_s} certs/s, ` +
      `one order p50 ${only.per_order_ms.p50} ms, p95 ${only.per_order_ms.p95} ms`,
  );
  for (const [endpoint, { per_order, mean_ms }] of Object.entries(only.endpoints)) {
    console.log(
      `    ${endpoint.padEnd(12)} ${String(per_order).padStart(5)} requests/order × ${String(mean_ms).padStart(7)} ms = ${round2(per_order * mean_ms)} ms/order`,
    );
  }
  const errors = Object.entries(bare.errors);
  if (errors.length > 0)
    console.log(`  baseline errors: ${errors.map(([msg, n]) => `${n}× ${msg}`).join('; ')}`);
}

async function main(): Promise<number> {
  const abort = new AbortController();
  const interrupt = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    await challtestsrvClient().dnsRequestHistory(`bench-${run}.test`);
  } catch (error) {
    console.error(`bench: challtestsrv does not answer (start the test bed: npm run testbed): ${error}`);
    return 1;
  }
  try {
    // The baseline first: it runs in this process, so its acme-client setup must not meet the whole path's.
    const baseline = await bareLoop(abort.signal);
    const wholePaths: BenchResult['whole_paths'] = [];
    for (const replicas of settings.replicas) {
      const whole = await wholePath(abort.signal, replicas);
      const ratio = baseline.certs_per_s > 0 ? round2(whole.certs_per_s / baseline.certs_per_s) : 0;
      wholePaths.push({ ...whole, ratio });
    }
    const issuer = await issuerOnly(abort.signal);
    const result: BenchResult = { settings, baseline, whole_paths: wholePaths, issuer_only: issuer };
    printTable(result);
    console.log(JSON.stringify({ ...result, run, targets }));
    return wholePaths.every((whole) => whole.failures === 0) && baseline.failures === 0 ? 0 : 1;
  } catch (error) {
    if (abort.signal.aborted) console.error('bench: interrupted; everything it started is stopped');
    else console.error('bench: failed:', error);
    return 1;
  }
}

process.exitCode = await main();
