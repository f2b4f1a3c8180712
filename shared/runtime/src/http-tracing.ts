import type { IncomingMessage, ServerResponse } from 'node:http';
import { contextFromHeaders, SpanKind, withSpan } from '@gatehouse/telemetry';
import type { RequestHandler } from 'express';
import { Histogram } from 'prom-client';

const requestDuration = new Histogram({
  name: 'gatehouse_http_request_duration_seconds',
  help: 'HTTP request duration by method, route and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
});

/**
 * One server span per request (a child of the caller's `traceparent`, if any) that stays active
 * while the request is handled, plus a duration histogram. Route templates label metrics, never
 * raw paths, so metric cardinality stays bounded.
 */
export function traceRequests(): RequestHandler {
  return (request, response, next) => {
    const started = process.hrtime.bigint();
    const headers: Record<string, string | undefined> = {
      traceparent: request.header('traceparent'),
      tracestate: request.header('tracestate'),
    };
    void withSpan(
      `${request.method} ${request.path}`,
      {
        kind: SpanKind.SERVER,
        parent: contextFromHeaders(headers),
        attributes: { 'http.request.method': request.method },
      },
      (span) =>
        new Promise<void>((resolve) => {
          response.once('finish', () => {
            const route = (request.route as { path?: string } | undefined)?.path ?? 'unmatched';
            // The mount path too (`/v1/apps` + `/`): a route alone names many endpoints the same.
            span.updateName(`${request.method} ${request.baseUrl}${route === '/' ? '' : route}`);
            span.setAttribute('http.response.status_code', response.statusCode);
            requestDuration.observe(
              { method: request.method, route, status: String(response.statusCode) },
              Number(process.hrtime.bigint() - started) / 1e9,
            );
            resolve();
          });
          response.once('close', resolve);
          next();
        }),
    );
  };
}

/**
 * `traceRequests` for a plain node:http handler (a hot path where express's routing cost more than the answer):
 * the same server span, child of the caller's `traceparent`, active while `handle` runs, and the same duration
 * histogram. `route` is the route template that matched (`unmatched` for none), never the raw path. `handle` MUST
 * answer the request and never reject.
 */
export function traceHttpRequest(
  request: IncomingMessage,
  response: ServerResponse,
  route: string,
  handle: () => void | Promise<void>,
): void {
  const started = process.hrtime.bigint();
  const method = request.method ?? 'GET';
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  void withSpan(
    `${method} ${route}`,
    {
      kind: SpanKind.SERVER,
      parent: contextFromHeaders({ traceparent: header('traceparent'), tracestate: header('tracestate') }),
      attributes: { 'http.request.method': method },
    },
    (span) =>
      new Promise<void>((resolve) => {
        response.once('finish', () => {
          span.setAttribute('http.response.status_code', response.statusCode);
          requestDuration.observe(
            { method, route, status: String(response.statusCode) },
            Number(process.hrtime.bigint() - started) / 1e9,
          );
          resolve();
        });
        response.once('close', resolve);
        void handle();
      }),
  );
}
