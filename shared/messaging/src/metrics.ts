import { Counter, Gauge } from 'prom-client';

/** Prometheus metrics of the messaging layer, registered once per process in the default registry. */
export const relayMetrics = {
  published: new Counter({
    name: 'gatehouse_outbox_published_total',
    help: 'Events published from the outbox',
  }),
  failures: new Gauge({
    name: 'gatehouse_outbox_consecutive_failures',
    help: 'Consecutive failed relay batches (0 when healthy)',
  }),
};

export const consumerMetrics = {
  handled: new Counter({
    name: 'gatehouse_events_handled_total',
    help: 'Events handled by consumers, by outcome',
    labelNames: ['consumer', 'type', 'outcome'] as const,
  }),
};
