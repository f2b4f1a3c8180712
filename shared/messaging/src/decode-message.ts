import { describeIssues, type Envelope, envelopeSchema } from '@gatehouse/events';
import type { JsMsg } from '@nats-io/jetstream';
import type { Subscription } from './subscription.ts';

/** A message this consumer handles, validated, with what its handler needs. */
export interface DeliveredEvent {
  message: JsMsg;
  event: Envelope;
  subscription: Subscription;
  /** Events with the same key are handled one after another, in delivery order: the event's subject. */
  orderingKey: string;
}

export type DecodedMessage =
  | ({ kind: 'event' } & DeliveredEvent)
  /** Another type in the same stream (NATS 2.9 knows one filter subject: the domain's wildcard). */
  | { kind: 'not-ours' }
  /** Never handled: terminated and kept as a dead letter. */
  | { kind: 'invalid'; reason: string; eventId: string | null; type: string };

/** Parses and validates a message once: the envelope, then its contract's data schema. Never throws. */
export function decodeMessage(message: JsMsg, handlers: ReadonlyMap<string, Subscription>): DecodedMessage {
  let parsedJson: unknown;
  try {
    parsedJson = message.json();
  } catch {
    return { kind: 'invalid', reason: 'payload is not JSON', eventId: null, type: 'unknown' };
  }
  const envelope = envelopeSchema.safeParse(parsedJson);
  if (!envelope.success) {
    return {
      kind: 'invalid',
      reason: `envelope invalid: ${describeIssues(envelope.error)}`,
      eventId: null,
      type: 'unknown',
    };
  }
  const { id: eventId, type } = envelope.data;
  const subscription = handlers.get(type);
  if (!subscription) return { kind: 'not-ours' };
  const data = subscription.contract.data.safeParse(envelope.data.data);
  if (!data.success) {
    return {
      kind: 'invalid',
      reason: `data invalid for ${type}: ${describeIssues(data.error)}`,
      eventId,
      type,
    };
  }
  return {
    kind: 'event',
    message,
    event: { ...envelope.data, data: data.data },
    subscription,
    orderingKey: envelope.data.subject,
  };
}
