import { type Database, type Db, lockNames } from '@gatehouse/db';
import { subjectForType } from '@gatehouse/events';
import {
  contextFromHeaders,
  currentTraceHeaders,
  type Logger,
  SpanKind,
  withSpan,
} from '@gatehouse/telemetry';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { sql, type Transaction } from 'kysely';
import { backoffDelayMs, createWakeableSleep, sleep } from './backoff.ts';
import { relayMetrics } from './metrics.ts';
import { pruneOutbox } from './outbox.ts';
import { listenForOutboxCommits } from './outbox-listener.ts';

export interface OutboxRelayOptions {
  db: Db;
  js: JetStreamClient;
  logger: Logger;
  /** Prefix for NATS subjects (test isolation); production uses none. */
  subjectPrefix?: string;
  /**
   * Relay only rows whose envelope `source` is this service, under a lock of its own. With per-service NATS
   * users a service may publish only its own events, so each service relays its own; unset, one relay
   * publishes every row.
   */
  source?: string | undefined;
  /**
   * When set, the relay LISTENs for commits on a connection of its own and publishes at once instead of waiting
   * for its poll, and that connection holds the relay's leadership (see below).
   */
  listenConnectionString?: string;
  batchSize?: number;
  /** Poll interval when idle (a safety net behind LISTEN/NOTIFY). */
  idlePollMs?: number;
  publishTimeoutMs?: number;
  /** Published rows are deleted after this long. */
  retainPublishedMs?: number;
  /**
   * How long a leader waits for another commit before it marks what it published in a statement of its own; a
   * commit within that time has the mark ride on the read of its batch (see `startOutboxRelay`). Default 50 ms.
   */
  markDelayMs?: number;
}

export interface OutboxRelay {
  /** Finishes the batch in flight, then stops. */
  stop(): Promise<void>;
}

interface BatchResult {
  published: number;
  failed: number;
  /** Nothing was read: another relay holds the lock. */
  skipped?: true;
  size: number;
}

interface OutboxEntry {
  seq: string;
  event_id: string;
  type: string;
  subject: string;
  /** The envelope as JSON text, published as read: parsing the jsonb only to serialize it again cost CPU per event. */
  envelope: string;
  headers: Record<string, string>;
}

/**
 * Publishes outbox rows to JetStream and marks them published.
 *
 * Guarantees:
 * - at-least-once: a row is marked only after JetStream acknowledged it; a crash in between means it
 *   is published again, and JetStream drops the copy by `Nats-Msg-Id` = event id (consumers also
 *   de-duplicate, for copies beyond the duplicate window);
 * - per-subject order: one relay publishes at a time (advisory lock), rows go out in `seq` order per
 *   event subject, and a subject stops at its first failure so nothing overtakes it;
 * - with a LISTEN connection, the relay that holds a session-level lock on it leads: it publishes a batch without
 *   a transaction, and the others only ask for the lock at each poll, so one takes over within a poll of the
 *   leader's connection ending (a crash, a stop, a lost Postgres). Without one, each batch takes a
 *   transaction-level lock (five statements);
 * - a leader marks what it published in the statement that reads its next batch (a data-modifying CTE), so under
 *   load a batch costs one statement; with no commit within `markDelayMs` it marks them alone (two per batch, as
 *   a lone event costs). Marks are stamped with the time JetStream acknowledged, and a relay that stops or stops
 *   leading marks what it holds first. A crash before the mark republishes those rows, which JetStream drops;
 * - outages of NATS or Postgres are retried with backoff, forever, without losing rows.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const {
    db,
    js,
    logger,
    subjectPrefix = '',
    batchSize = 500,
    idlePollMs = 1_000,
    publishTimeoutMs = 5_000,
    retainPublishedMs = 24 * 3600_000,
    markDelayMs = 50,
  } = options;
  const lockName = options.source ? `${lockNames.outboxRelay}:${options.source}` : lockNames.outboxRelay;
  let stopping = false;
  const stopped = new AbortController();
  // A commit notified while a batch is in flight must not be lost: the next pause then ends at once.
  const pause = createWakeableSleep();
  const listener = options.listenConnectionString
    ? listenForOutboxCommits(options.listenConnectionString, lockName, logger, pause.wake)
    : undefined;
  /** Rows this leader published and has not marked yet, with the time JetStream acknowledged the last of them. */
  let unmarked: { seqs: string[]; at: Date } | undefined;

  async function markPublished(
    executor: Db | Transaction<Database>,
    seqs: string[],
    at: Date,
  ): Promise<void> {
    if (seqs.length > 0)
      await executor.updateTable('outbox').set({ published_at: at }).where('seq', 'in', seqs).execute();
  }

  /** Marks what this relay published and has not marked yet, in a statement of its own. */
  async function markUnmarked(): Promise<void> {
    if (!unmarked) return;
    await markPublished(db, unmarked.seqs, unmarked.at);
    unmarked = undefined;
  }

  async function publishEntry(entry: OutboxEntry): Promise<void> {
    await withSpan(
      `publish ${entry.type}`,
      {
        kind: SpanKind.PRODUCER,
        parent: contextFromHeaders(entry.headers),
        attributes: { 'messaging.system': 'nats', 'messaging.message.id': entry.event_id },
      },
      async () => {
        const headers = natsHeaders();
        for (const [key, value] of Object.entries(currentTraceHeaders())) headers.set(key, value);
        await js.publish(subjectForType(entry.type, subjectPrefix), entry.envelope, {
          msgID: entry.event_id,
          headers,
          timeout: publishTimeoutMs,
        });
      },
    );
  }

  /**
   * A batch under the leadership of this relay's LISTEN connection: no transaction, one or two statements. While that
   * connection is down (or cannot be opened at all) the relay still publishes, under a transaction-level lock;
   * it conflicts with a leader's session-level lock on the same key, so the two never publish at once.
   */
  async function relayBatchAsLeader(): Promise<BatchResult> {
    const leadership = await listener!.lead();
    if (leadership === 'leader') return publishBatch(db, { deferMark: true });
    await markUnmarked(); // Another relay leads now (or none): it must not publish these again.
    if (leadership === 'disconnected') return relayBatchInTransaction();
    return { published: 0, failed: 0, skipped: true, size: 0 };
  }

  /** A batch under a transaction-level lock: a relay without a (working) LISTEN connection. */
  async function relayBatchInTransaction(): Promise<BatchResult> {
    return db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ locked: boolean }>`
        select pg_try_advisory_xact_lock(hashtext(${lockName})) as locked`.execute(trx);
      if (!rows[0]?.locked) return { published: 0, failed: 0, skipped: true, size: 0 };
      return publishBatch(trx, { deferMark: false });
    });
  }

  /**
   * Reads a batch, publishes it subject by subject and marks what JetStream acknowledged (with `deferMark`, in the
   * read of the next batch or by `markUnmarked`). The read marks what is still unmarked. Needs the lock.
   */
  async function publishBatch(
    executor: Db | Transaction<Database>,
    { deferMark }: { deferMark: boolean },
  ): Promise<BatchResult> {
    const marking = unmarked;
    // In one statement the read sees the rows as they were before the mark, so it leaves the marked ones out.
    const entries = (await (marking
      ? executor
          .with('marked', (db) =>
            db.updateTable('outbox').set({ published_at: marking.at }).where('seq', 'in', marking.seqs),
          )
          .selectFrom('outbox')
          .where('seq', 'not in', marking.seqs)
      : executor.selectFrom('outbox')
    )
      .select(['seq', 'event_id', 'type', 'subject', sql<string>`envelope::text`.as('envelope'), 'headers'])
      .where('published_at', 'is', null)
      .$if(options.source !== undefined, (query) =>
        query.where(sql<string>`envelope->>'source'`, '=', options.source!),
      )
      .orderBy('seq')
      .limit(batchSize)
      .execute()) as OutboxEntry[];
    if (marking === unmarked) unmarked = undefined;

    const bySubject = new Map<string, OutboxEntry[]>();
    for (const entry of entries) {
      const queue = bySubject.get(entry.subject);
      if (queue) queue.push(entry);
      else bySubject.set(entry.subject, [entry]);
    }

    const publishedSeqs: string[] = [];
    let failed = 0;
    let firstError: unknown;
    await Promise.all(
      [...bySubject.values()].map(async (queue) => {
        for (const entry of queue) {
          try {
            await publishEntry(entry);
            publishedSeqs.push(entry.seq);
          } catch (error) {
            failed++;
            firstError ??= error;
            return; // Later events of this subject must not overtake this one.
          }
        }
      }),
    );
    if (deferMark && publishedSeqs.length > 0) unmarked = { seqs: publishedSeqs, at: new Date() };
    else await markPublished(executor, publishedSeqs, new Date());
    if (firstError) logger.warn({ err: firstError, failed }, 'outbox publish failed');
    return { published: publishedSeqs.length, failed, size: entries.length };
  }

  const loop = (async () => {
    let consecutiveFailures = 0;
    let lastPrune = 0;
    while (!stopping) {
      let result: BatchResult | undefined;
      try {
        result = await (listener ? relayBatchAsLeader() : relayBatchInTransaction());
        relayMetrics.published.inc(result.published);
        if (result.failed > 0) consecutiveFailures++;
        else consecutiveFailures = 0;
        if (Date.now() - lastPrune > 60_000) {
          lastPrune = Date.now();
          await pruneOutbox(db, retainPublishedMs);
        }
      } catch (error) {
        consecutiveFailures++;
        logger.warn({ err: error }, 'outbox relay batch failed');
      }
      relayMetrics.failures.set(consecutiveFailures);
      if (stopping) break;
      if (consecutiveFailures > 0) {
        await sleep(backoffDelayMs(consecutiveFailures - 1, { baseMs: 200, maxMs: 5_000 }));
      } else if (result?.skipped) {
        // Another replica's relay is publishing: it is woken by the same notifications, so this one only looks
        // again at the poll (taking over within one poll should that relay stop) instead of racing it for every
        // commit, which cost round trips per commit and replica.
        await sleep(idlePollMs, stopped.signal).catch(() => undefined);
      } else if (!result || result.size < batchSize) {
        // Idle: wait for a commit notification (a reconnected LISTEN connection sends one too) or the poll; with
        // rows to mark, only `markDelayMs`, after which the next read marks them even if it finds nothing.
        await pause.sleep(unmarked ? markDelayMs : idlePollMs);
      }
    }
    await markUnmarked().catch((error: unknown) =>
      logger.warn(
        { err: error },
        'outbox relay could not mark its last published rows; they will be published again',
      ),
    );
  })();

  return {
    async stop() {
      stopping = true;
      stopped.abort();
      pause.wake();
      await loop;
      await listener?.close();
    },
  };
}
