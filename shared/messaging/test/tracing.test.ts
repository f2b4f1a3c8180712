import { Writable } from 'node:stream';
import { createEvent } from '@gatehouse/events';
import { createLogger, startTelemetry, type Telemetry, withSpan } from '@gatehouse/telemetry';
import { waitFor } from '@gatehouse/testing';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueue, on, startConsumer, startOutboxRelay } from '../src/index.ts';
import { type Harness, startHarness, testEvent } from './harness.ts';

describe('tracing across the bus', () => {
  let h: Harness;
  let telemetry: Telemetry;
  const exporter = new InMemorySpanExporter();
  beforeAll(async () => {
    // This file runs in its own worker, so registering the global tracer provider touches no other test.
    telemetry = startTelemetry({
      serviceName: 'tracing-test',
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    h = await startHarness('tracing');
  });
  afterAll(async () => {
    await h.close();
    await telemetry.shutdown();
  });

  it("tracing - the consumer's span carries the publisher's trace id, and its log lines the ids", async () => {
    const lines: string[] = [];
    const logger = createLogger({
      service: 'tracing-test',
      destination: new Writable({
        write(chunk, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    });
    let handledTraceId: string | undefined;
    const consumer = await startConsumer({
      nc: h.nc,
      js: h.js,
      jsm: h.jsm,
      db: h.db,
      logger,
      name: 'traced',
      subscriptions: [
        on(testEvent, async (_event, context) => {
          context.logger.info('handling traced event');
          handledTraceId = 'seen';
        }),
      ],
    });
    const relay = startOutboxRelay({ db: h.db, js: h.js, logger: h.logger, idlePollMs: 50 });

    const producerTraceId = await withSpan('POST /v1/apps', {}, async (span) => {
      await h.db
        .transaction()
        .execute((trx) =>
          enqueue(trx, createEvent(testEvent, { source: 'test', subject: 'traced', data: { n: 0 } })),
        );
      return span.spanContext().traceId;
    });

    await waitFor('the event handled', () => handledTraceId);
    const spans = await waitFor('the consume span exported', () => {
      const finished = exporter.getFinishedSpans();
      return finished.some((span) => span.name === 'consume certs.tested') && finished;
    });
    await relay.stop();
    await consumer.stop();

    const publish = spans.find((span) => span.name === 'publish certs.tested');
    const consume = spans.find((span) => span.name === 'consume certs.tested');
    expect(publish?.spanContext().traceId).toBe(producerTraceId);
    expect(consume?.spanContext().traceId).toBe(producerTraceId);
    expect(consume?.parentSpanContext?.spanId).toBe(publish?.spanContext().spanId);

    const handlerLine = JSON.parse(lines.find((line) => line.includes('handling traced event')) ?? '{}');
    expect(handlerLine).toMatchObject({
      trace_id: producerTraceId,
      span_id: consume?.spanContext().spanId,
      consumer: 'traced',
      event_type: 'certs.tested',
    });
  });
});
