import type { Database } from '@gatehouse/db';
import type { Envelope, EventContract } from '@gatehouse/events';
import type { Logger } from '@gatehouse/telemetry';
import type { Transaction } from 'kysely';

/** What a handler gets besides the event: the transaction its effects MUST use, and its logger. */
export interface HandlerContext {
  /**
   * The transaction that also records `(consumer, event_id)`. With `batchSize` > 1 it may hold other events'
   * effects too (handled before this one, in order); a handler MUST NOT commit or roll it back itself.
   */
  trx: Transaction<Database>;
  logger: Logger;
  /** 1 on first delivery. */
  deliveryCount: number;
  /**
   * Runs `callback` once the transaction has committed (never if it rolls back): the place to wake a worker
   * that will read what this handler wrote, which it could not see before the commit.
   */
  afterCommit(callback: () => void): void;
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

/** Durable consumer names: `<service>-<purpose>`, plus `-<node>` for per-node work. */
export function consumerName(service: string, purpose: string, node?: string): string {
  const raw = node ? `${service}-${purpose}-${node}` : `${service}-${purpose}`;
  return raw.replace(/[^A-Za-z0-9_-]/g, '_');
}
