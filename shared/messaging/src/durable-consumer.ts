import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { type NatsConnection, serverVersion } from './nats-connection.ts';

const nanosPerMs = 1_000_000;

export interface DurableConsumerSpec {
  nc: NatsConnection;
  jsm: JetStreamManager;
  stream: { name: string; subjects: string[] };
  name: string;
  /** The NATS subjects of the subscribed event types. */
  subjects: string[];
  ackWaitMs: number;
  maxDeliver: number;
  /** Messages delivered and not yet acknowledged, at most. */
  maxAckPending: number;
}

/** Creates the durable pull consumer, or brings an existing one's settings up to date. */
export async function ensureDurableConsumer(spec: DurableConsumerSpec): Promise<void> {
  const { jsm, stream, name, subjects } = spec;
  // NATS 2.9 knows only one filter subject; on it, several types share the domain wildcard and
  // events without a handler are acknowledged and skipped.
  const [major, minor] = serverVersion(spec.nc);
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
    ack_wait: spec.ackWaitMs * nanosPerMs,
    max_deliver: spec.maxDeliver + 1, // One spare delivery so we can record the last failure ourselves.
    max_ack_pending: spec.maxAckPending,
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
