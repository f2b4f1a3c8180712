import type { Database, Db } from '@gatehouse/db';
import {
  describeIssues,
  domainOfType,
  type Envelope,
  type EventContract,
  envelopeSchema,
  streamFor,
  subjectForType,
} from '@gatehouse/events';
import { contextFromHeaders, type Logger, SpanKind, withSpan } from '@gatehouse/telemetry';
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { Transaction } from 'kysely';
import { deadLetterPayload } from './dead-letter-payload.ts';
import { isPermanent } from './errors.ts';
import { consumerMetrics } from './metrics.ts';
import { type NatsConnection, serverVersion } from './nats-connection.ts';

/** What a handler gets besides the event: the transaction its effects MUST use, and its logger. */
export interface HandlerContext {
  trx: Transaction<Database>;
  logger: Logger;
  /** 1 on first delivery. */
  deliveryCount: number;
}

export type EventHandler<Data> = (event: Envelope<Data>, context: HandlerContext) => Promise<void>;

/** Binds a contract to its handler; build the list passed to `startConsumer` with `on`. */
export interface Subscription {
  contract: EventContract;
  handler: EventHandler<unknown>;
}

export function on<Data>(contract: EventContract<string, Data>, handler: EventHandler<Data>): Subscription {
  return { contract: contract as EventContract, handler: handler as EventHandler<unknown> };
}

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
  /** Events handled at once by this replica; events with the same subject never run concurrently. */
  concurrency?: number;
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

const nanosPerMs = 1_000_000;

/** Exponential backoff with jitter: 1 s, 2 s, 4 s … capped at 60 s. */
export function defaultRetryDelayMs(deliveryCount: number): number {
  const base = Math.min(1_000 * 2 ** (deliveryCount - 1), 60_000);
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/**
 * Consumes events with exactly-once effects on Postgres:
 * - every message is parsed and validated (envelope, then the contract's data schema); a message
 *   that fails is terminated and recorded in `dead_letters`, and consumption carries on;
 * - the handler runs in a transaction that also records `(consumer, event_id)` in
 *   `processed_events`, so a redelivered or republished event is acknowledged without a second effect;
 * - a handler error naks the message with backoff; a `PermanentEventError`, or failing `maxDeliver`
 *   times, terminates it and records it;
 * - the handler's span is a child of the producer's (W3C trace context from the message headers).
 */
export async function startConsumer(options: ConsumerOptions): Promise<RunningConsumer> {
  const {
    js,
    jsm,
    db,
    name,
    subscriptions,
    subjectPrefix = '',
    concurrency = 4,
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
  const subjects = subscriptions.map((subscription) =>
    subjectForType(subscription.contract.type, subjectPrefix),
  );

  await ensureConsumer();

  async function ensureConsumer(): Promise<void> {
    // NATS 2.9 knows only one filter subject; on it, several types share the domain wildcard and
    // events without a handler are acknowledged and skipped.
    const [major, minor] = serverVersion(options.nc);
    const multiFilter = major > 2 || (major === 2 && minor >= 10);
    const filter =
      subjects.length === 1
        ? { filter_subject: subjects[0]! }
        : multiFilter
          ? { filter_subjects: subjects }
          : { filter_subject: stream.subjects[0]! };
    const config = {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ackWaitMs * nanosPerMs,
      max_deliver: maxDeliver + 1, // One spare delivery so we can record the last failure ourselves.
      max_ack_pending: Math.max(concurrency * 4, 64),
      ...filter,
    };
    try {
      await jsm.consumers.add(stream.name, config);
    } catch (error) {
      if (!/already in use|exists/i.test(String((error as Error).message))) throw error;
      await jsm.consumers.update(stream.name, name, {
        ack_wait: config.ack_wait,
        max_deliver: config.max_deliver,
        max_ack_pending: config.max_ack_pending,
        ...('filter_subjects' in filter ? { filter_subjects: filter.filter_subjects } : {}),
      });
    }
  }

  /** ack/nak/term on a closed connection throw; the broker will redeliver, so log and move on. */
  function settle(message: JsMsg, action: 'ack' | 'nak' | 'term', delayMs?: number): void {
    try {
      if (action === 'ack') message.ack();
      else if (action === 'nak') message.nak(delayMs);
      else message.term();
    } catch (error) {
      logger.warn(
        { err: error, action, stream_seq: message.seq },
        'cannot settle message, it will be redelivered',
      );
    }
  }

  async function recordDeadLetter(message: JsMsg, reason: string, eventId: string | null): Promise<void> {
    await db
      .insertInto('dead_letters')
      .values({
        consumer: name,
        nats_subject: message.subject,
        stream_seq: String(message.seq),
        event_id: eventId,
        payload: deadLetterPayload(message.string()),
        reason: reason.slice(0, 4_000),
      })
      .execute();
  }

  async function terminate(
    message: JsMsg,
    reason: string,
    eventId: string | null,
    type: string,
  ): Promise<void> {
    try {
      await recordDeadLetter(message, reason, eventId);
    } catch (error) {
      // Could not record it (Postgres down): redeliver later rather than lose the evidence.
      logger.warn({ err: error, event_id: eventId }, 'dead letter not recorded, will retry');
      settle(message, 'nak', retryDelayMs(message.info.deliveryCount));
      return;
    }
    // No reason on the wire: NATS 2.9 ignores `+TERM <reason>`; the reason lives in dead_letters.
    settle(message, 'term');
    consumerMetrics.handled.inc({ consumer: name, type, outcome: 'dead-letter' });
    logger.error({ event_id: eventId, reason, nats_subject: message.subject }, 'event terminated');
  }

  /** Handles one message to its ack, nak or term; never throws. */
  async function handleMessage(message: JsMsg): Promise<void> {
    let parsedJson: unknown;
    try {
      parsedJson = message.json();
    } catch {
      return terminate(message, 'payload is not JSON', null, 'unknown');
    }
    const envelope = envelopeSchema.safeParse(parsedJson);
    if (!envelope.success) {
      return terminate(message, `envelope invalid: ${describeIssues(envelope.error)}`, null, 'unknown');
    }
    const { id: eventId, type } = envelope.data;
    const subscription = handlers.get(type);
    if (!subscription) {
      settle(message, 'ack'); // Another type in the same stream (NATS 2.9 wildcard filter): not ours.
      return;
    }
    const data = subscription.contract.data.safeParse(envelope.data.data);
    if (!data.success) {
      return terminate(message, `data invalid for ${type}: ${describeIssues(data.error)}`, eventId, type);
    }
    const event: Envelope = { ...envelope.data, data: data.data };
    const deliveryCount = message.info.deliveryCount;
    const traceHeaders: Record<string, string> = {};
    for (const key of ['traceparent', 'tracestate']) {
      const value = message.headers?.get(key);
      if (value) traceHeaders[key] = value;
    }

    // Keep the message ours while a slow handler works.
    const keepAlive = setInterval(
      () => {
        try {
          message.working();
        } catch {
          // Connection gone: the message will be redelivered, and processed_events stops a second effect.
        }
      },
      Math.max(ackWaitMs / 3, 500),
    );
    try {
      const outcome = await withSpan(
        `consume ${type}`,
        {
          kind: SpanKind.CONSUMER,
          parent: contextFromHeaders(traceHeaders),
          attributes: { 'messaging.consumer.group.name': name, 'messaging.message.id': eventId },
        },
        async () => {
          const eventLogger = logger.child({ event_id: eventId, event_type: type });
          return db.transaction().execute(async (trx) => {
            const fresh = await trx
              .insertInto('processed_events')
              .values({ consumer: name, event_id: eventId })
              .onConflict((conflict) => conflict.doNothing())
              .returning('event_id')
              .executeTakeFirst();
            if (!fresh) return 'duplicate' as const;
            await subscription.handler(event, { trx, logger: eventLogger, deliveryCount });
            return 'handled' as const;
          });
        },
      );
      settle(message, 'ack');
      consumerMetrics.handled.inc({ consumer: name, type, outcome });
      if (outcome === 'duplicate') logger.debug({ event_id: eventId }, 'duplicate event skipped');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (isPermanent(error) || deliveryCount >= maxDeliver) {
        await terminate(
          message,
          `handler failed after ${deliveryCount} deliveries: ${reason}`,
          eventId,
          type,
        );
      } else {
        const delay = retryDelayMs(deliveryCount);
        logger.warn(
          { err: error, event_id: eventId, delivery: deliveryCount, retry_in_ms: delay },
          'event failed',
        );
        consumerMetrics.handled.inc({ consumer: name, type, outcome: 'retry' });
        settle(message, 'nak', delay);
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  // Ordering: events of one subject run one after another; different subjects run in parallel.
  const tails = new Map<string, Promise<void>>();
  let inFlight = 0;
  let slotFreed: (() => void) | undefined;
  let stopping = false;
  let messages: Awaited<ReturnType<Awaited<ReturnType<typeof js.consumers.get>>['consume']>> | undefined;

  function schedule(message: JsMsg): void {
    const key = orderingKey(message);
    const previous = tails.get(key) ?? Promise.resolve();
    inFlight++;
    const next = previous.then(() => handleMessage(message));
    tails.set(key, next);
    void next.finally(() => {
      inFlight--;
      if (tails.get(key) === next) tails.delete(key);
      slotFreed?.();
    });
  }

  async function waitForSlot(): Promise<void> {
    while (inFlight >= concurrency) {
      await new Promise<void>((resolve) => {
        slotFreed = resolve;
      });
    }
  }

  // Pull loop: reconnects and re-creates the consumer if it disappears; ends only on stop().
  const loop = (async () => {
    while (!stopping && !options.nc.isClosed()) {
      try {
        const consumer = await js.consumers.get(stream.name, name);
        messages = await consumer.consume({ max_messages: Math.max(concurrency * 2, 16) });
        for await (const message of messages) {
          await waitForSlot();
          schedule(message);
        }
      } catch (error) {
        if (stopping || options.nc.isClosed()) break;
        logger.warn({ err: error }, 'consumer interrupted, resuming');
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await ensureConsumer().catch(() => {});
      }
      if (!stopping) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();

  return {
    async stop() {
      stopping = true;
      await messages?.close();
      await loop;
      await Promise.allSettled([...tails.values()]);
    },
  };
}

/** Events about the same subject keep their order; the subject is read cheaply from the payload. */
function orderingKey(message: JsMsg): string {
  try {
    const subject = (message.json() as { subject?: unknown }).subject;
    return typeof subject === 'string' ? subject : `seq:${message.seq}`;
  } catch {
    return `seq:${message.seq}`;
  }
}

/** Durable consumer names: `<service>-<purpose>`, plus `-<node>` for per-node work. */
export function consumerName(service: string, purpose: string, node?: string): string {
  const raw = node ? `${service}-${purpose}-${node}` : `${service}-${purpose}`;
  return raw.replace(/[^A-Za-z0-9_-]/g, '_');
}
