import { type AcmeHttpClient, createAcmeHttpClient } from '@gatehouse/acme-http';
import acme from 'acme-client';
import { type AcmeExchange, createAcmeExchange } from './acme-exchange.ts';
import { createAcmeTransport } from './acme-transport.ts';
import { sendRequestsDirectly } from './direct-requests.ts';

let configured: AcmeHttpClient | undefined;
let exchange: AcmeExchange | undefined;
let requestTimeoutMs = 30_000;
/** The wait before the one quick retry of a blip, on both ways requests take (axios's and the direct one). */
const quickRetryDelayMs = 1_000;

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
  requestTimeoutMs = timeoutMs;
  acme.axios.defaults.timeout = timeoutMs;
  // acme-client retries network errors and 429/503 itself, up to 5 times over 75 s, which hides an
  // unreachable CA from our policy for minutes. Allow one quick retry for a blip; the issuance
  // policy (quick retry, next CA, retry ladder) does the rest with classified errors.
  const settings = (acme.axios.defaults as { acmeSettings?: Record<string, unknown> }).acmeSettings;
  if (settings) {
    settings.retryMaxAttempts = 1;
    settings.retryDefaultDelay = quickRetryDelayMs / 1_000; // acme-client counts it in seconds.
  }
  // Whatever still calls acme-client's axios instance (the directory; every request of an acme-client whose
  // internals `direct-requests.ts` does not recognise) goes through the shared client too, observed like the
  // direct requests (`createAcmeExchange`: span, metrics, problem documents). acme-client's retry interceptor
  // loses the network error once its retries are used up (it throws a TypeError instead), so the exchange itself
  // records network failures for classification.
  exchange = createAcmeExchange(http);
  acme.axios.defaults.adapter = createAcmeTransport(exchange);
  // acme-client logs through `debug`; silence it, our own logs say what happened.
  acme.setLogger(() => {});
  return http;
}

/**
 * Makes one acme-client `Client` send its requests straight through the observed exchange, without axios
 * (`direct-requests.ts`), with the same timeout and quick retry as configured above. Does nothing before
 * `configureAcmeHttp` ran; returns whether requests now go direct.
 */
export function sendAcmeRequestsDirectly(client: object): boolean {
  if (!exchange) return false;
  const userAgent = acme.axios.defaults.headers.common['User-Agent'];
  return sendRequestsDirectly(client, exchange, {
    userAgent: typeof userAgent === 'string' ? userAgent : 'node-acme-client',
    timeoutMs: requestTimeoutMs,
    retryDelayMs: quickRetryDelayMs,
  });
}
