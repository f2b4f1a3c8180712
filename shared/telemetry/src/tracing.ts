import {
  type Attributes,
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

export { SpanKind } from '@opentelemetry/api';

const tracerName = 'gatehouse';

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Parent context; the active one when omitted. */
  parent?: Context;
}

/**
 * Runs `fn` inside a new active span that ends when `fn` settles; a thrown error is recorded on
 * the span and rethrown. Without a registered tracer provider this is a cheap no-op wrapper.
 */
export async function withSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const tracer = trace.getTracer(tracerName);
  return tracer.startActiveSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      ...(options.attributes ? { attributes: options.attributes } : {}),
    },
    options.parent ?? context.active(),
    async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** W3C trace context (`traceparent`, `tracestate`) of the active context, for message headers. */
export function currentTraceHeaders(active: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(active, carrier);
  return carrier;
}

/** The context a remote parent described in `headers` (absent or malformed headers give a root). */
export function contextFromHeaders(headers: Record<string, string | undefined>): Context {
  return propagation.extract(context.active(), headers, {
    keys: (carrier) => Object.keys(carrier),
    get: (carrier, key) => carrier[key] ?? undefined,
  });
}

/**
 * Records a span after the fact (Kysely reports queries once they finish, with their duration).
 * The span's parent is the context active at report time, which is the query's caller.
 */
export function recordFinishedSpan(
  name: string,
  durationMs: number,
  attributes: Attributes,
  error?: unknown,
): void {
  const end = Date.now();
  const span = trace
    .getTracer(tracerName)
    .startSpan(name, { kind: SpanKind.CLIENT, attributes, startTime: end - durationMs }, context.active());
  if (error !== undefined) {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
  }
  span.end(end);
}

/** The active context, to keep as the cause of work done later (a timer, a batch). */
export function captureContext(): Context {
  return context.active();
}

/** A context with no span: work started under it is the root of a new trace. */
export function newTraceContext(): Context {
  return trace.deleteSpan(context.active());
}

/**
 * Work done once for several causes (a coalesced write for events of different traces): one span per cause,
 * each a child of its cause, so every trace that asked for the work shows it. `fn` runs in the first span's
 * context (its own child spans go there); the others link to it. All end, with the same status, when `fn`
 * settles. Without causes it is `withSpan` under the active context.
 */
export async function withSpanPerCause<T>(
  name: string,
  causes: readonly Context[],
  options: Omit<SpanOptions, 'parent' | 'links'>,
  fn: () => Promise<T>,
): Promise<T> {
  if (causes.length === 0) return withSpan(name, options, fn);
  const tracer = trace.getTracer(tracerName);
  const base = {
    kind: options.kind ?? SpanKind.INTERNAL,
    ...(options.attributes ? { attributes: options.attributes } : {}),
  };
  const [first, ...rest] = causes;
  const main = tracer.startSpan(name, base, first);
  const others = rest.map((cause) =>
    tracer.startSpan(name, { ...base, links: [{ context: main.spanContext() }] }, cause),
  );
  const spans = [main, ...others];
  try {
    return await context.with(trace.setSpan(first!, main), fn);
  } catch (error) {
    for (const span of spans) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
    }
    throw error;
  } finally {
    for (const span of spans) span.end();
  }
}
