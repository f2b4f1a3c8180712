import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';
import { startTelemetry, type Telemetry } from '../src/sdk.ts';
import { contextFromHeaders, currentTraceHeaders, withSpan } from '../src/tracing.ts';

const traceparent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

describe('telemetry with nothing to export', () => {
  let telemetry: Telemetry;
  beforeAll(() => {
    telemetry = startTelemetry({ serviceName: 'telemetry-test' });
  });
  afterAll(async () => {
    await telemetry.shutdown();
  });

  it('telemetry - spans are not recorded but carry ids to the message headers and the logs', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      service: 'telemetry-test',
      level: 'info',
      destination: new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    });
    // isRecording() is read inside the span: an ended span never records.
    const seen = await withSpan('outer', {}, async (outer) =>
      withSpan('inner', {}, async (inner) => {
        logger.info('inside');
        return {
          outer,
          inner,
          recording: [outer.isRecording(), inner.isRecording()],
          headers: currentTraceHeaders(),
        };
      }),
    );
    expect(seen.recording).toEqual([false, false]);
    const [, traceId, spanId, flags] = traceparent.exec(seen.headers.traceparent ?? '') ?? [];
    expect(traceId).toBe(seen.outer.spanContext().traceId);
    expect(seen.inner.spanContext().traceId).toBe(traceId);
    expect(spanId).toBe(seen.inner.spanContext().spanId);
    expect(flags).toBe('00');
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ trace_id: traceId, span_id: spanId });
  });

  it('telemetry - a trace a caller records passes through recorded, keeping its sampled flag', async () => {
    const callerTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = contextFromHeaders({ traceparent: `00-${callerTraceId}-00f067aa0ba902b7-01` });
    const seen = await withSpan('handler', { parent }, async (span) => ({
      recording: span.isRecording(),
      headers: currentTraceHeaders(),
    }));
    expect(seen.recording).toBe(true);
    const [, traceId, , flags] = traceparent.exec(seen.headers.traceparent ?? '') ?? [];
    expect(traceId).toBe(callerTraceId);
    expect(flags).toBe('01');
  });
});
