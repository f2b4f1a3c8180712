import type { Database, Db } from '@gatehouse/db';
import { allStreams, createEvent, defineEvent, type Envelope } from '@gatehouse/events';
import { createLogger, type Logger } from '@gatehouse/telemetry';
import {
  createTestDatabase,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
} from '@gatehouse/testing';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { sql, type Transaction } from 'kysely';
import { z } from 'zod';
import { connectNats, enqueue, ensureStreams, type NatsConnection } from '../src/index.ts';

/**
 * A test event in the `certs` domain with a per-subject sequence number, so tests can check order.
 * (Tests use a real domain's stream; the type is test-only.)
 */
export const testEvent = defineEvent(
  'certs.tested',
  1,
  z.object({ n: z.number().int().nonnegative(), payload: z.string().optional() }),
);

export interface Harness {
  database: TestDatabase;
  db: Db;
  nats: TestNatsServer;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  logger: Logger;
  close(): Promise<void>;
}

export async function startHarness(label: string): Promise<Harness> {
  const logger = createLogger({ service: `test-${label}`, level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const [database, nats] = await Promise.all([createTestDatabase(label), startNatsServer()]);
  const nc = await connectNats({ servers: [nats.url], name: `test-${label}`, logger });
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, allStreams());
  await sql`create table test_effects (event_id uuid not null, subject text not null, n int not null,
    consumer text not null, applied_at timestamptz not null default clock_timestamp(), id bigserial primary key)`.execute(
    database.db,
  );
  return {
    database,
    db: database.db,
    nats,
    nc,
    js: jetstream(nc),
    jsm,
    logger,
    async close() {
      await nc.close().catch(() => {});
      await Promise.all([database.drop(), nats.stop()]);
    },
  };
}

/** Writes `count` events spread over `subjects` subjects into the outbox, in one transaction per chunk. */
export async function enqueueTestEvents(
  db: Db,
  count: number,
  subjects: number,
  chunk = 500,
): Promise<Envelope[]> {
  const events: Envelope[] = [];
  const perSubject = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const subject = `subject-${i % subjects}`;
    const n = perSubject.get(subject) ?? 0;
    perSubject.set(subject, n + 1);
    events.push(createEvent(testEvent, { source: 'test', subject, data: { n } }));
  }
  for (let start = 0; start < events.length; start += chunk) {
    await db.transaction().execute(async (trx) => {
      for (const event of events.slice(start, start + chunk)) await enqueue(trx, event);
    });
  }
  return events;
}

/** The effect a test handler applies: one row per application, never de-duplicated by the table. */
export async function applyTestEffect(
  trx: Transaction<Database>,
  event: Envelope<{ n: number }>,
  consumer: string,
): Promise<void> {
  await sql`insert into test_effects (event_id, subject, n, consumer)
    values (${event.id}, ${event.subject}, ${event.data.n}, ${consumer})`.execute(trx);
}

export interface EffectReport {
  total: number;
  distinct: number;
  duplicates: number;
  /** Subjects whose effects were applied out of order. */
  outOfOrder: string[];
  byConsumer: Record<string, number>;
}

export async function effectReport(db: Db): Promise<EffectReport> {
  const { rows } = await sql<{ event_id: string; subject: string; n: number; consumer: string }>`
    select event_id, subject, n, consumer from test_effects order by id`.execute(db);
  const lastN = new Map<string, number>();
  const outOfOrder = new Set<string>();
  const byConsumer: Record<string, number> = {};
  for (const row of rows) {
    const previous = lastN.get(row.subject) ?? -1;
    if (row.n <= previous) outOfOrder.add(row.subject);
    lastN.set(row.subject, row.n);
    byConsumer[row.consumer] = (byConsumer[row.consumer] ?? 0) + 1;
  }
  const distinct = new Set(rows.map((row) => row.event_id)).size;
  return {
    total: rows.length,
    distinct,
    duplicates: rows.length - distinct,
    outOfOrder: [...outOfOrder],
    byConsumer,
  };
}

/** Outbox rows not (yet) marked published. */
export async function unpublishedCount(db: Db): Promise<number> {
  const row = await db
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('published_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function streamMessageCount(jsm: JetStreamManager, stream = 'CERTS'): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

export interface WorkerProcess {
  kill(): Promise<void>;
}

/** Starts test/fixtures/worker.ts in a child process (same Node) and waits until it is running. */
export async function spawnWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [new URL('./fixtures/worker.ts', import.meta.url).pathname], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
  });
  return {
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
