import { Agent } from 'node:https';
import { createSecureContext, rootCertificates } from 'node:tls';
import acme from 'acme-client';
import axios, { type AxiosAdapter } from 'axios';
import { observeNetworkError, observeResponse } from './acme-problem.ts';

let configured = false;

/**
 * Configures acme-client's shared axios instance once per process: request timeout, extra trust
 * for a private or test CA (`ACME_CA_BUNDLE`), and the response observer that keeps problem
 * documents for classification. MUST run before the first ACME request.
 */
export function configureAcmeHttp({
  caBundlePem,
  timeoutMs = 30_000,
}: {
  caBundlePem?: string;
  timeoutMs?: number;
}): void {
  if (configured) return;
  configured = true;
  acme.axios.defaults.timeout = timeoutMs;
  // acme-client retries network errors and 429/503 itself, up to 5 times over 75 s, which hides an
  // unreachable CA from our policy for minutes. Allow one quick retry for a blip; the issuance
  // policy (quick retry, next CA, retry ladder) does the rest with classified errors.
  const settings = (acme.axios.defaults as { acmeSettings?: Record<string, unknown> }).acmeSettings;
  if (settings) {
    settings.retryMaxAttempts = 1;
    settings.retryDefaultDelay = 1;
  }
  if (caBundlePem) {
    // One secure context for every connection: passing `ca` to the agent would re-parse ~120 roots on
    // each new TLS connection (~25 ms of CPU), and acme-client opens one for most requests.
    const secureContext = createSecureContext({ ca: [...rootCertificates, caBundlePem] });
    acme.axios.defaults.httpsAgent = new Agent({ secureContext, keepAlive: true });
  }
  // acme-client's retry interceptor loses the network error once its retries are used up (it throws
  // a TypeError instead), so the transport itself reports network failures for classification.
  const transport: AxiosAdapter = axios.getAdapter(acme.axios.defaults.adapter);
  acme.axios.defaults.adapter = async (config) => {
    try {
      return await transport(config);
    } catch (error) {
      observeNetworkError(error);
      throw error;
    }
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
}
