import { type AxiosAdapter, AxiosError, AxiosHeaders, type InternalAxiosRequestConfig } from 'axios';
import type { AcmeExchange } from './acme-exchange.ts';

/**
 * acme-client's HTTP transport (an axios adapter) on the shared ACME HTTP client instead of axios's own http
 * adapter (follow-redirects, stream plumbing, form detection): an ACME request is a small JSON or PEM exchange
 * with no redirects, and that machinery was the largest CPU cost of an order after signing. acme-client's own
 * requests skip axios altogether (`direct-requests.ts`); this adapter serves whatever still calls its axios
 * instance (the directory, an acme-client whose internals `direct-requests.ts` does not recognise).
 *
 * Settles like acme-client expects from axios (its retry interceptor sees every answer it may retry): an answer
 * is rejected as an AxiosError when it is a 429 or 5xx (acme-client retries those once, see `configureAcmeHttp`)
 * or when the caller's own `validateStatus` refuses it; otherwise it resolves. A network failure rejects with
 * its code (ECONNREFUSED, ETIMEDOUT, …) for classification.
 */
export function createAcmeTransport(exchange: AcmeExchange): AxiosAdapter {
  return async (config: InternalAxiosRequestConfig) => {
    let answer: Awaited<ReturnType<AcmeExchange>>;
    try {
      answer = await exchange({
        url: config.url ?? '',
        method: (config.method ?? 'get').toUpperCase(),
        headers: plainHeaders(config.headers),
        body: typeof config.data === 'string' || Buffer.isBuffer(config.data) ? config.data : undefined,
        timeoutMs: config.timeout || undefined,
      });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw AxiosError.from(error as Error, typeof code === 'string' ? code : undefined, config);
    }
    const response = {
      data: answer.data,
      status: answer.status,
      statusText: answer.statusText,
      headers: new AxiosHeaders(answer.headers as Record<string, string>),
      config,
      request: undefined,
    };
    // acme-client moves the caller's validateStatus here and makes axios's own reject everything.
    const validate = (config as { retryValidateStatus?: ((status: number) => boolean) | null })
      .retryValidateStatus;
    const retryable = answer.status === 429 || answer.status >= 500;
    if (retryable || (validate && !validate(answer.status))) {
      throw new AxiosError(
        `Request failed with status code ${answer.status}`,
        answer.status < 500 ? AxiosError.ERR_BAD_REQUEST : AxiosError.ERR_BAD_RESPONSE,
        config,
        undefined,
        response,
      );
    }
    return response;
  };
}

function plainHeaders(headers: InternalAxiosRequestConfig['headers']): Record<string, string> {
  const plain: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers.toJSON(true) as Record<string, unknown>)) {
    if (value !== undefined && value !== null && value !== false) plain[name] = String(value);
  }
  return plain;
}
