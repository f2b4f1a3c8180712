import { type AcmeHttpClient, createAcmeHttpClient } from '@gatehouse/acme-http';
import { SpanKind, withSpan } from '@gatehouse/telemetry';
import acme from 'acme-client';
import { acmeMetrics } from '../metrics.ts';
import { caLabel, createAcmeEndpoints } from './acme-endpoints.ts';
import { observeNetworkError, observeResponse } from './acme-problem.ts';
import { createAcmeTransport } from './acme-transport.ts';

let configured: AcmeHttpClient | undefined;

/**
 * Configures acme-client's shared axios instance once per process and returns the shared ACME HTTP client
 * (`@gatehouse/acme-http`) it now runs on: its keep-alive agent with the extra trust for a private or test CA
 * (`ACME_CA_BUNDLE`), its directory cache (read through acme-client's transport, so measured and classified)
 * and its nonce pools; plus the request timeout and the response observer that keeps problem documents for
 * classification. MUST run before the first ACME request; later calls return the first client.
 */
export function configureAcmeHttp({
  caBundlePem,
  timeoutMs = 30_000,
}: {
  caBundlePem?: string | undefined;
  timeoutMs?: number;
}): AcmeHttpClient {
  if (configured) return configured;
  const http = createAcmeHttpClient({
    caBundlePem,
    timeoutMs,
    loadDirectory: async (directoryUrl) => (await acme.axios.get<unknown>(directoryUrl)).data,
  });
  configured = http;
  acme.axios.defaults.timeout = timeoutMs;
  // acme-client retries network errors and 429/503 itself, up to 5 times over 75 s, which hides an
  // unreachable CA from our policy for minutes. Allow one quick retry for a blip; the issuance
  // policy (quick retry, next CA, retry ladder) does the rest with classified errors.
  const settings = (acme.axios.defaults as { acmeSettings?: Record<string, unknown> }).acmeSettings;
  if (settings) {
    settings.retryMaxAttempts = 1;
    settings.retryDefaultDelay = 1;
  }
  // Every request goes through the shared client (keep-alive agent, extra trust) via `createAcmeTransport`.
  // acme-client's retry interceptor loses the network error once its retries are used up (it throws
  // a TypeError instead), so the transport itself reports network failures for classification.
  // The transport is also where every ACME request is measured (gatehouse_acme_requests_total, ..._seconds)
  // and gets its span (CA, endpoint, status), a child of the issuance round that made it.
  const transport = createAcmeTransport(http);
  const endpoints = createAcmeEndpoints();
  acme.axios.defaults.adapter = async (config) => {
    const url = config.url ?? '';
    const ca = caLabel(url);
    const method = (config.method ?? 'get').toUpperCase();
    return withSpan(
      `acme ${endpoints.classify(url)}`,
      { kind: SpanKind.CLIENT, attributes: { 'acme.ca': ca, 'http.request.method': method } },
      async (span) => {
        const started = performance.now();
        const finish = (status: string, headers: Record<string, unknown>, data: unknown) => {
          const endpoint = endpoints.learn(url, headers, data);
          acmeMetrics.requests.inc({ ca, endpoint, status });
          acmeMetrics.duration.observe({ ca, endpoint }, (performance.now() - started) / 1000);
          span.updateName(`acme ${endpoint}`);
          span.setAttribute('acme.endpoint', endpoint);
          if (status !== 'error') span.setAttribute('http.response.status_code', Number(status));
        };
        try {
          const response = await transport(config);

          finish(String(response.status), response.headers as Record<string, unknown>, response.data);
          return response;
        } catch (error) {
          // acme-client's validateStatus turns every answer into a rejection at this level (its interceptor
          // then retries or hands it back), so an answer, whatever its status, is in `error.response`.
          const response = (
            error as { response?: { status: number; headers: Record<string, unknown>; data: unknown } }
          ).response;
          finish(response ? String(response.status) : 'error', response?.headers ?? {}, response?.data);
          observeNetworkError(error);
          throw error;
        }
      },
    );
  };
  acme.axios.interceptors.response.use(
    (response) => {
      observeResponse(response.status, response.headers as Record<string, unknown>, response.data);
      return response;
    },
    (error: { response?: { status: number; headers: Record<string, unknown>; data: unknown } }) => {
      if (error.response) observeResponse(error.response.status, error.response.headers, error.response.data);
      return Promise.reject(error);
    },
  );
  // acme-client logs through `debug`; silence it, our own logs say what happened.
  acme.setLogger(() => {});
  return http;
}
