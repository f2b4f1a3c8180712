import type { IncomingHttpHeaders } from 'node:http';
import type { AcmeHttpClient } from '@gatehouse/acme-http';
import { SpanKind, withSpan } from '@gatehouse/telemetry';
import { acmeMetrics } from '../metrics.ts';
import { caLabel, createAcmeEndpoints } from './acme-endpoints.ts';
import { observeNetworkError, observeResponse } from './acme-problem.ts';

export interface AcmeExchangeRequest {
  url: string;
  /** Upper case. */
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer | undefined;
  timeoutMs?: number | undefined;
}

/** An ACME answer, its body parsed as axios would: JSON when it parses as JSON, else the text (a PEM chain). */
export interface AcmeExchangeAnswer {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  data: unknown;
}

export type AcmeExchange = (request: AcmeExchangeRequest) => Promise<AcmeExchangeAnswer>;

/**
 * One ACME request on the shared client, observed: its span (CA, endpoint, status; a child of the issuance round
 * that made it), `gatehouse_acme_requests_total` and `..._seconds`, the endpoint map learned from the answer, and the
 * problem document or network error kept for classification (`acme-problem.ts`). Rejects only on a network error,
 * never on an HTTP status. Both ways acme-client's requests take (`direct-requests.ts`, and the axios adapter that
 * remains for anything else) go through here, so every request is measured and classified once.
 */
export function createAcmeExchange(http: AcmeHttpClient): AcmeExchange {
  const endpoints = createAcmeEndpoints();
  return (request) => {
    const ca = caLabel(request.url);
    return withSpan(
      `acme ${endpoints.classify(request.url)}`,
      { kind: SpanKind.CLIENT, attributes: { 'acme.ca': ca, 'http.request.method': request.method } },
      async (span) => {
        const started = performance.now();
        const finish = (status: string, headers: Record<string, unknown>, data: unknown) => {
          const endpoint = endpoints.learn(request.url, headers, data);
          acmeMetrics.requests.inc({ ca, endpoint, status });
          acmeMetrics.duration.observe({ ca, endpoint }, (performance.now() - started) / 1000);
          span.updateName(`acme ${endpoint}`);
          span.setAttribute('acme.endpoint', endpoint);
          if (status !== 'error') span.setAttribute('http.response.status_code', Number(status));
        };
        let answer: Awaited<ReturnType<AcmeHttpClient['request']>>;
        try {
          answer = await http.request(request.url, {
            method: request.method,
            headers: request.headers,
            body: request.body,
            timeoutMs: request.timeoutMs,
          });
        } catch (error) {
          finish('error', {}, undefined);
          observeNetworkError(error);
          throw error;
        }
        const data = parseBody(answer.body);
        finish(String(answer.status), answer.headers, data);
        observeResponse(answer.status, answer.headers, data);
        return { status: answer.status, statusText: answer.statusText, headers: answer.headers, data };
      },
    );
  };
}

/** axios's default for a text body: JSON when it parses, else the text itself (a PEM chain, an empty HEAD). */
function parseBody(text: string): unknown {
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
