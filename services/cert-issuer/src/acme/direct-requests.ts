import { setTimeout as sleep } from 'node:timers/promises';
import type { AcmeExchange, AcmeExchangeAnswer } from './acme-exchange.ts';
import { parseRetryAfter } from './acme-problem.ts';

/**
 * The part of acme-client's internal HTTP client this module replaces (acme-client 5.x `HttpClient`): `request`,
 * which every ACME request of the client goes through (signed ones via `signedRequest`, and newNonce).
 */
interface AcmeClientHttp {
  request(
    url: string,
    method: string,
    opts?: { data?: unknown; headers?: Record<string, string> },
  ): Promise<unknown>;
}

/** What acme-client reads of an answer: axios's response shape, without axios. */
export interface DirectResponse extends AcmeExchangeAnswer {
  config: { url: string; method: string };
}

export interface DirectRequestOptions {
  /** Sent as User-Agent, as acme-client's axios instance does (`node-acme-client/<version>`). */
  userAgent: string;
  timeoutMs: number;
  /** One quick retry of a blip waits at most this long for a Retry-After; a longer one is left to the policy. */
  maxRetryWaitMs?: number;
  /** The wait before the quick retry when the answer names none (acme-client's `retryDefaultDelay`, 1 s here). */
  retryDelayMs?: number;
}

/**
 * Makes acme-client send its requests straight through `exchange` instead of through its axios instance, whose
 * request pipeline (config merging, header objects, interceptors, transforms) cost ~2 ms of CPU per order around
 * a transport that was already ours (`acme-transport.ts`). Keeps what acme-client relied on axios for:
 * - the headers (User-Agent, Accept, `Content-Type: application/jose+json`) and a JSON body for an object;
 * - an answer resolves whatever its status (acme-client reads the status and the problem document itself);
 * - one quick retry of a network error (not a timeout) or a 429/5xx, after the answer's Retry-After when it is
 *   short or 1 s, as configured in `configureAcmeHttp`; a longer Retry-After is not slept through inside an order
 *   but returned, so the issuance policy defers the job by it (acme-client would have slept through any);
 * - a network error that persists rejects with its code (ECONNREFUSED, ETIMEDOUT, …) for classification.
 *
 * `client` is acme-client's `Client`; its `http` member is internal, so when it is missing or not the shape above
 * (another acme-client major) this does nothing and requests keep going through axios. Call it before
 * `poolNonces`, which wraps `request` in turn. Returns whether requests now go direct.
 */
export function sendRequestsDirectly(
  client: object,
  exchange: AcmeExchange,
  options: DirectRequestOptions,
): boolean {
  const http = (client as { http?: Partial<AcmeClientHttp> }).http;
  if (!http || typeof http.request !== 'function') return false;
  const { userAgent, timeoutMs, maxRetryWaitMs = 5_000, retryDelayMs = 1_000 } = options;
  http.request = async (url, method, opts = {}) => {
    const data = opts.data;
    const request = {
      url,
      method: method.toUpperCase(),
      headers: {
        accept: 'application/json, text/plain, */*',
        'user-agent': userAgent,
        ...lowerCaseKeys(opts.headers),
        'content-type': 'application/jose+json',
      },
      body:
        data === undefined || data === null
          ? undefined
          : typeof data === 'string'
            ? data
            : JSON.stringify(data),
      timeoutMs,
    };
    const config = { url, method };
    let first: AcmeExchangeAnswer;
    try {
      first = await exchange(request);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ETIMEDOUT') throw error; // A timeout is not retried: it would double.
      await sleep(retryDelayMs);
      return { ...(await exchange(request)), config } satisfies DirectResponse;
    }
    if (first.status !== 429 && first.status < 500) return { ...first, config } satisfies DirectResponse;
    const wait = retryWaitMs(first, retryDelayMs);
    if (wait > maxRetryWaitMs) return { ...first, config } satisfies DirectResponse;
    await sleep(wait);
    return { ...(await exchange(request)), config } satisfies DirectResponse;
  };
  return true;
}

/** Retry-After of the answer, or the default when it names none (or a time already past). */
function retryWaitMs(answer: AcmeExchangeAnswer, defaultMs: number): number {
  const header = answer.headers['retry-after'];
  const until = parseRetryAfter(Array.isArray(header) ? header[0] : header);
  if (!until) return defaultMs;
  const wait = until.getTime() - Date.now();
  return wait > 0 ? wait : defaultMs;
}

function lowerCaseKeys(headers: Record<string, string> | undefined): Record<string, string> {
  const lower: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) lower[name.toLowerCase()] = value;
  return lower;
}
