import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';
import { observeResponse } from './acme-problem.ts';

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
  if (caBundlePem) {
    acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, caBundlePem], keepAlive: true });
  }
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
