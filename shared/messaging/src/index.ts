export {
  backoffDelayMs,
  createWakeableSleep,
  sleep,
  type WakeableSleep,
} from './backoff.ts';
export {
  type ConsumerOptions,
  defaultRetryDelayMs,
  type RunningConsumer,
  startConsumer,
} from './consumer.ts';
export { duplicateWindowMs, ensureStreams } from './ensure-streams.ts';
export { isPermanent, PermanentEventError } from './errors.ts';
export {
  type ConnectNatsOptions,
  connectNats,
  NatsAuthError,
  type NatsConnection,
  serverVersion,
} from './nats-connection.ts';
export {
  type NatsPermissions,
  type NatsService,
  natsInboxPrefix,
  natsPermissions,
  natsServerAuthorization,
  natsServiceBus,
  natsServices,
} from './nats-permissions.ts';
export { enqueue, outboxChannel, outboxRows, outboxWakeUp, pruneOutbox } from './outbox.ts';
export { type OutboxRelay, type OutboxRelayOptions, startOutboxRelay } from './outbox-relay.ts';
export {
  consumerName,
  type EventHandler,
  type HandlerContext,
  on,
  type Subscription,
} from './subscription.ts';
