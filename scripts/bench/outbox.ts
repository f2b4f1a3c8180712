/**
 * Outbox → JetStream → consumer benchmark: throughput and end-to-end latency of events, from the commit
 * of the producing transaction to the start of the consumer's handler. Run on demand, never in tests:
 *
 *   npm run bench:outbox -- --events 10000 --subjects 100 --concurrency 8 --producers 4
 *
 * It creates a database of its own (TESTBED_PG_URL, else the local default) and a nats-server of its own
 * (`nats-server` on PATH), runs producers, relay (LISTEN/NOTIFY) and consumer in this process, and removes
 * both at the end. It prints a table, a ratio line against the recorded baseline (scripts/bench/baselines.ts)
 * and, last, one JSON line; it exits 1 if any event was lost or its effect applied twice.
 *
 * Producers, relay and consumer each get a pool of their own by default (they are separate processes in
 * production); `--shared-pool` puts all three on the one 10-connection pool a single service would have.
 * Producers run flat out unless `--rate` is given; flat out, latency is mostly time spent queued.
 * `--phased` runs the stages one after another, to see what each sustains alone.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createDb, type Db } from '@gatehouse/db';
import { createEvent, defineEvent, type Envelope, streamFor } from '@gatehouse/events';
import {
  connectNats,
  consumerName,
  enqueue,
  ensureStreams,
  on,
  startConsumer,
  startOutboxRelay,
} from '@gatehouse/messaging';
import { createLogger } from '@gatehouse/telemetry';
import { createTestDatabase, startNatsServer } from '@gatehouse/testing';
import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { sql } from 'kysely';
import { z } from 'zod';
import { baselines, ratioLine } from './baselines.ts';

/** The benchmark's event, in the `certs` domain so it uses a real stream; the type exists only here. */
const benchedEvent = defineEvent('certs.benched', 1, z.object({ n: z.number().int().nonnegative() }));

const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: '10000' },
    subjects: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '8' },
    producers: { type: 'string', default: '4' },
    /** Events per producer transaction. */
    batch: { type: 'string', default: '10' },
    /** Target events/s over all producers; 0 = as fast as they can. */
    rate: { type: 'string', default: '0' },
    /** The consumer's `batchSize`: events applied in one transaction, at most. */
    'consumer-batch': { type: 'string', default: '32' },
    /** The relay's `batchSize`. */
    'relay-batch': { type: 'string', default: '500' },
    'shared-pool': { type: 'boolean', default: false },
    /** Produce everything, then relay everything, then consume: each stage's throughput alone. */
    phased: { type: 'boolean', default: false },
    /** Give up waiting for the consumer after this many seconds. */
    timeout: { type: 'string', default: '300' },
    /** pino level for the messaging layer's own logs. */
    'log-level': { type: 'string', default: 'warn' },
  },
});

function positiveInt(name: keyof typeof flags, min = 1): number {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be an integer >= ${min}, got ${flags[name]}`);
    process.exit(2);
  }
  return value;
}

const settings = {
  events: positiveInt('events'),
  subjects: positiveInt('subjects'),
  concurrency: positiveInt('concurrency'),
  producers: positiveInt('producers'),
  batch: positiveInt('batch'),
  rate: positiveInt('rate', 0),
  consumerBatch: positiveInt('consumer-batch'),
  relayBatch: positiveInt('relay-batch'),
  sharedPool: flags['shared-pool'] === true,
  phased: flags.phased === true,
  timeoutMs: positiveInt('timeout') * 1_000,
};

const logger = createLogger({ service: 'bench-outbox', level: String(flags['log-level']) });

/** Per event id, `performance.now()` at each stage; all taken in this process, so they compare. */
const committedAt = new Map<string, number>();
const publishedAt = new Map<string, number>();
const handledAt = new Map<string, number>();
let handlerRuns = 0;

/** The relay's client, with the time of every JetStream ack recorded by event id (`msgID`). */
function recordingAcks(js: JetStreamClient): JetStreamClient {
  return new Proxy(js, {
    get(target, property) {
      if (property === 'publish') {
        return async (...args: Parameters<JetStreamClient['publish']>) => {
          const ack = await target.publish(...args);
          const eventId = args[2]?.msgID;
          if (eventId && !publishedAt.has(eventId)) publishedAt.set(eventId, performance.now());
          return ack;
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls every 5 ms (cheap next to the work measured); rejects when `signal` aborts. */
async function waitUntil(condition: () => boolean, signal: AbortSignal): Promise<void> {
  while (!condition()) {
    signal.throwIfAborted();
    await sleep(5);
  }
}

/**
 * P loops take the next transaction from a shared counter; each commits `batch` events and records
 * their commit time once the commit has returned. With `--rate`, transaction k starts at k·batch/rate s.
 */
async function produce(db: Db, signal: AbortSignal, startedAt: number): Promise<void> {
  const transactions = Math.ceil(settings.events / settings.batch);
  const perSubject = new Map<string, number>();
  let next = 0;
  async function producerLoop(): Promise<void> {
    while (!signal.aborted) {
      const k = next++;
      if (k >= transactions) return;
      if (settings.rate > 0) {
        const due = startedAt + (k * settings.batch * 1_000) / settings.rate;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
      const events: Envelope[] = [];
      for (let i = k * settings.batch; i < Math.min((k + 1) * settings.batch, settings.events); i++) {
        const subject = `bench-${i % settings.subjects}`;
        const n = perSubject.get(subject) ?? 0;
        perSubject.set(subject, n + 1);
        events.push(createEvent(benchedEvent, { source: 'bench', subject, data: { n } }));
      }
      await db.transaction().execute((trx) => enqueue(trx, ...events));
      const now = performance.now();
      for (const event of events) committedAt.set(event.id, now);
    }
  }
  await Promise.all(Array.from({ length: settings.producers }, producerLoop));
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
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(sorted.length, 1);
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    p50: round(rank(50)),
    p95: round(rank(95)),
    p99: round(rank(99)),
    max: round(rank(100)),
    mean: round(mean),
  };
}

/** Differences `to - from` for events that have both times. */
function intervals(from: Map<string, number>, to: Map<string, number>): number[] {
  const out: number[] = [];
  for (const [id, end] of to) {
    const start = from.get(id);
    if (start !== undefined) out.push(end - start);
  }
  return out;
}

/** Events per second between the first and the last time of a stage. */
function rateOf(times: Map<string, number>): number {
  const values = [...times.values()];
  const span = (Math.max(...values) - Math.min(...values)) / 1_000;
  return span > 0 ? Math.round(values.length / span) : Number.NaN;
}

async function main(): Promise<number> {
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort(new Error('interrupted')));

  const [database, nats] = await Promise.all([createTestDatabase('bench_outbox'), startNatsServer()]);
  const pools: Db[] = [];
  const poolFor = (size: number): Db => {
    if (settings.sharedPool) return database.db;
    const db = createDb({ connectionString: database.url, maxConnections: size });
    pools.push(db);
    return db;
  };
  const nc = await connectNats({ servers: [nats.url], name: 'bench-outbox', logger });
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, [streamFor('certs')]);
    await sql`create table bench_effects (id bigserial primary key, event_id uuid not null,
      subject text not null, n int not null)`.execute(database.db);

    const startConsumerNow = async () => {
      const running = await startConsumer({
        nc,
        js: jetstream(nc),
        jsm,
        db: poolFor(settings.concurrency),
        logger,
        name: consumerName('bench', 'outbox'),
        concurrency: settings.concurrency,
        batchSize: settings.consumerBatch,
        subscriptions: [
          on(benchedEvent, async (event, { trx }) => {
            handlerRuns++;
            if (!handledAt.has(event.id)) handledAt.set(event.id, performance.now());
            await sql`insert into bench_effects (event_id, subject, n)
              values (${event.id}, ${event.subject}, ${event.data.n})`.execute(trx);
          }),
        ],
      });
      stops.push(() => running.stop());
    };
    const startRelayNow = () => {
      const relay = startOutboxRelay({
        db: poolFor(2),
        js: recordingAcks(jetstream(nc)),
        logger,
        listenConnectionString: database.url,
        batchSize: settings.relayBatch,
      });
      stops.unshift(() => relay.stop()); // The relay stops first, then the consumer.
    };

    if (!settings.phased) {
      await startConsumerNow();
      startRelayNow();
    }
    const timeout = setTimeout(
      () => abort.abort(new Error(`not all events handled after ${settings.timeoutMs / 1_000} s`)),
      settings.timeoutMs,
    );
    const cpuBefore = process.cpuUsage();
    const eluBefore = performance.eventLoopUtilization();
    const startedAt = performance.now();
    let producedAt = startedAt;
    const waitError = await (async () => {
      await produce(poolFor(settings.producers), abort.signal, startedAt);
      producedAt = performance.now();
      if (settings.phased) {
        startRelayNow();
        await waitUntil(() => publishedAt.size >= settings.events, abort.signal);
        await startConsumerNow();
      }
      await waitUntil(() => handledAt.size >= settings.events, abort.signal);
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    clearTimeout(timeout);
    const finishedAt = performance.now();
    const cpu = process.cpuUsage(cpuBefore);
    const elu = performance.eventLoopUtilization(eluBefore);
    if (waitError) console.error(`bench: ${(waitError as Error).message}`);

    // Stop before counting, so no handler is still inside its transaction.
    for (const stop of stops.splice(0)) await stop();
    const { rows } = await sql<{ total: string; distinct: string }>`
      select count(*) as total, count(distinct event_id) as distinct from bench_effects`.execute(database.db);
    const total = Number(rows[0]?.total ?? 0);
    const distinct = Number(rows[0]?.distinct ?? 0);
    const streamMessages = (await jsm.streams.info(streamFor('certs').name)).state.messages;

    const wallS = (finishedAt - startedAt) / 1_000;
    const result = {
      settings,
      wall_s: Math.round(wallS * 1_000) / 1_000,
      producer_s: Math.round(producedAt - startedAt) / 1_000,
      throughput_eps: {
        end_to_end: Math.round(handledAt.size / wallS),
        producer: Math.round(committedAt.size / ((producedAt - startedAt) / 1_000)),
        relay_active: rateOf(publishedAt),
        consumer_active: rateOf(handledAt),
      },
      latency_ms: {
        commit_to_handler: stats(intervals(committedAt, handledAt)),
        commit_to_publish_ack: stats(intervals(committedAt, publishedAt)),
        publish_ack_to_handler: stats(intervals(publishedAt, handledAt)),
      },
      produced: committedAt.size,
      stream_messages: streamMessages,
      handler_runs: handlerRuns,
      effects: total,
      duplicates: total - distinct,
      missing: settings.events - distinct,
      node_cpu_cores: Math.round(((cpu.user + cpu.system) / 1e6 / wallS) * 100) / 100,
      event_loop_utilization: Math.round(elu.utilization * 100) / 100,
    };
    printTable(result);
    if (!settings.phased)
      console.log(ratioLine(baselines.outboxEndToEndEps, result.throughput_eps.end_to_end));
    console.log(JSON.stringify(result));
    return result.duplicates === 0 && result.missing === 0 && !waitError ? 0 : 1;
  } finally {
    for (const stop of stops) await stop().catch(() => {});
    await nc.close().catch(() => {});
    await Promise.all(pools.map((pool) => pool.destroy()));
    await Promise.all([database.drop(), nats.stop()]);
  }
}

function printTable(result: {
  settings: typeof settings;
  wall_s: number;
  producer_s: number;
  throughput_eps: Record<string, number>;
  latency_ms: Record<string, Stats>;
  duplicates: number;
  missing: number;
  node_cpu_cores: number;
  event_loop_utilization: number;
}): void {
  const s = result.settings;
  console.log(
    `outbox bench: ${s.events} events, ${s.subjects} subjects, consumer concurrency ${s.concurrency}, ` +
      `${s.consumerBatch}/tx, ${s.producers} producers × ${s.batch}/tx${s.rate > 0 ? ` at ${s.rate}/s` : ''}` +
      `${s.sharedPool ? ', shared pool' : ''}${s.phased ? ', phased (latencies include queueing)' : ''}`,
  );
  console.log(`  wall ${result.wall_s} s (producers done after ${result.producer_s} s)`);
  console.log('  throughput (events/s)');
  for (const [stage, eps] of Object.entries(result.throughput_eps)) {
    console.log(`    ${stage.padEnd(24)}${String(eps).padStart(8)}`);
  }
  console.log(
    `  latency (ms)${''.padEnd(16)}${['p50', 'p95', 'p99', 'max'].map((h) => h.padStart(9)).join('')}`,
  );
  for (const [stage, st] of Object.entries(result.latency_ms)) {
    console.log(
      `    ${stage.padEnd(24)}${[st.p50, st.p95, st.p99, st.max].map((v) => String(v).padStart(9)).join('')}`,
    );
  }
  console.log(`  duplicates ${result.duplicates}, missing ${result.missing}`);
  console.log(
    `  node cpu ${result.node_cpu_cores} cores, event loop utilization ${result.event_loop_utilization}`,
  );
}

process.exitCode = await main();
