import type { Db } from '@gatehouse/db';
import { domainOfType, streamFor, subjectForType } from '@gatehouse/events';
import type { Logger } from '@gatehouse/telemetry';
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { type ApplyOutcome, applyEvents } from './apply-events.ts';
import { backoffDelayMs, sleep } from './backoff.ts';
import { type DeliveredEvent, decodeMessage } from './decode-message.ts';
import { ensureDurableConsumer } from './durable-consumer.ts';
import { isPermanent } from './errors.ts';
import { consumerMetrics } from './metrics.ts';
import type { NatsConnection } from './nats-connection.ts';
import { createOrderedBatches } from './ordered-batches.ts';
import { createSettlement } from './settlement.ts';
import type { Subscription } from './subscription.ts';

export interface ConsumerOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  db: Db;
  logger: Logger;
  /**
   * Durable consumer name. Replicas sharing a name share the work (each event handled by one);
   * per-node work uses a name per node. Build it with `consumerName`.
   */
  name: string;
  /** Contracts of one event domain (one stream) and their handlers. */
  subscriptions: Subscription[];
  subjectPrefix?: string;
  /** Transactions (batches of events) run at once by this replica. Default 4. */
  concurrency?: number;
  /**
   * Events applied in one transaction, at most. Default 1. Larger batches save a transaction per event under
   * load (a burst is gathered, a lone event still starts at once); use them for handlers that only write
   * through `trx` and finish quickly. A batch whose transaction fails is retried one event per transaction,
   * so one bad event never holds back or fails the others.
   */
  batchSize?: number;
  /** Deliveries before a failing event is given up on and recorded as a dead letter. */
  maxDeliver?: number;
  /** How long JetStream waits for an ack before redelivering (extended while a handler runs). */
  ackWaitMs?: number;
  /** Delay before the n-th redelivery of a failed event. */
  retryDelayMs?: (deliveryCount: number) => number;
}

export interface RunningConsumer {
  /** Stops pulling, waits for handlers in flight, then returns. */
  stop(): Promise<void>;
}

/** Retry schedule of a failed event: 1 s, 2 s, 4 s … capped at 60 s, ±25 % jitter so replicas spread out. */
export function defaultRetryDelayMs(deliveryCount: number): number {
  return backoffDelayMs(deliveryCount - 1, { baseMs: 1_000, maxMs: 60_000, jitter: 0.25 });
}

/**
 * Consumes events with exactly-once effects on Postgres:
 * - every message is parsed and validated (envelope, then the contract's data schema); a message
 *   that fails is terminated and recorded in `dead_letters`, and consumption carries on;
 * - handlers run in a transaction that also records `(consumer, event_id)` in `processed_events`
 *   (see applyEvents), so a redelivered or republished event is acknowledged without a second effect;
 *   messages are acknowledged only after that transaction committed;
 * - events of one subject run one after another in delivery order; different subjects in parallel;
 * - a handler error naks the message with backoff; a `PermanentEventError`, or failing `maxDeliver`
 *   times, terminates it and records it.
 */
export async function startConsumer(options: ConsumerOptions): Promise<RunningConsumer> {
  const {
    js,
    db,
    name,
    subscriptions,
    subjectPrefix = '',
    concurrency = 4,
    batchSize = 1,
    maxDeliver = 10,
    ackWaitMs = 30_000,
    retryDelayMs = defaultRetryDelayMs,
  } = options;
  const logger = options.logger.child({ consumer: name });
  const handlers = new Map(subscriptions.map((subscription) => [subscription.contract.type, subscription]));
  const domains = new Set(subscriptions.map((subscription) => domainOfType(subscription.contract.type)));
  if (domains.size !== 1)
    throw new Error(`consumer ${name} must subscribe to one event domain, got ${[...domains]}`);
  const stream = streamFor([...domains][0]!, subjectPrefix);
  const inFlightLimit = concurrency * batchSize;
  const ensureConsumer = () =>
    ensureDurableConsumer({
      nc: options.nc,
      jsm: options.jsm,
      stream,
      name,
      subjects: subscriptions.map((subscription) =>
        subjectForType(subscription.contract.type, subjectPrefix),
      ),
      ackWaitMs,
      maxDeliver,
      // Room for every batch in flight plus as many waiting, so batches can fill while others commit.
      maxAckPending: Math.max(inFlightLimit * 4, 64),
    });
  await ensureConsumer();
  const settlement = createSettlement({ db, consumer: name, logger, retryDelayMs });

  /** Settles a batch's messages after its transaction committed. */
  function settleApplied(events: readonly DeliveredEvent[], outcomes: readonly ApplyOutcome[]): void {
    events.forEach(({ message, event }, index) => {
      const outcome = outcomes[index]!;
      settlement.ack(message);
      consumerMetrics.handled.inc({ consumer: name, type: event.type, outcome });
      if (outcome === 'duplicate') logger.debug({ event_id: event.id }, 'duplicate event skipped');
    });
  }

  /** One event in a transaction of its own, to its ack, nak or term. */
  async function applyAlone(delivered: DeliveredEvent): Promise<void> {
    const { message, event } = delivered;
    try {
      settleApplied([delivered], await applyEvents(db, name, [delivered], logger));
    } catch (error) {
      const deliveryCount = message.info.deliveryCount;
      const reason = error instanceof Error ? error.message : String(error);
      if (isPermanent(error) || deliveryCount >= maxDeliver) {
        await settlement.terminate(
          message,
          `handler failed after ${deliveryCount} deliveries: ${reason}`,
          event.id,
          event.type,
        );
      } else {
        const delay = retryDelayMs(deliveryCount);
        logger.warn(
          { err: error, event_id: event.id, delivery: deliveryCount, retry_in_ms: delay },
          'event failed',
        );
        consumerMetrics.handled.inc({ consumer: name, type: event.type, outcome: 'retry' });
        settlement.nak(message, delay);
      }
    }
  }

  /** A batch in one transaction; if it fails, each of its events again alone (in order). Never throws. */
  async function applyBatch(batch: DeliveredEvent[]): Promise<void> {
    // Keep the messages ours while slow handlers work.
    const keepAlive = setInterval(
      () => {
        for (const { message } of batch) {
          try {
            message.working();
          } catch {
            // Connection gone: the message will be redelivered, and processed_events stops a second effect.
          }
        }
      },
      Math.max(ackWaitMs / 3, 500),
    );
    try {
      if (batch.length > 1) {
        try {
          settleApplied(batch, await applyEvents(db, name, batch, logger));
          return;
        } catch (error) {
          logger.debug({ err: error, events: batch.length }, 'batch failed, applying its events one by one');
        }
      }
      for (const delivered of batch) await applyAlone(delivered);
    } finally {
      clearInterval(keepAlive);
    }
  }

  const batches = createOrderedBatches<DeliveredEvent>({
    concurrency,
    maxBatch: batchSize,
    keyOf: (delivered) => delivered.orderingKey,
    run: applyBatch,
  });
  /** Invalid messages, each settled on its own (a dead-letter insert); tracked so stop() waits for them. */
  const terminations = new Set<Promise<void>>();

  function accept(message: JsMsg): void {
    const decoded = decodeMessage(message, handlers);
    if (decoded.kind === 'event') batches.add(decoded);
    else if (decoded.kind === 'not-ours') settlement.ack(message);
    else {
      const done = settlement.terminate(message, decoded.reason, decoded.eventId, decoded.type);
      terminations.add(done);
      void done.finally(() => terminations.delete(done));
    }
  }

  let stopping = false;
  let messages: Awaited<ReturnType<Awaited<ReturnType<typeof js.consumers.get>>['consume']>> | undefined;
  // Pull loop: reconnects and re-creates the consumer if it disappears; ends only on stop().
  const loop = (async () => {
    while (!stopping && !options.nc.isClosed()) {
      try {
        const consumer = await js.consumers.get(stream.name, name);
        messages = await consumer.consume({ max_messages: Math.max(inFlightLimit * 2, 16) });
        for await (const message of messages) {
          await batches.hasRoom();
          accept(message);
        }
      } catch (error) {
        if (stopping || options.nc.isClosed()) break;
        logger.warn({ err: error }, 'consumer interrupted, resuming');
        await sleep(1_000);
        await ensureConsumer().catch(() => {});
      }
      if (!stopping) await sleep(200);
    }
  })();

  return {
    async stop() {
      stopping = true;
      await messages?.close();
      await loop;
      await batches.idle();
      await Promise.allSettled([...terminations]);
    },
  };
}
