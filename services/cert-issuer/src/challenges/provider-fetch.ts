import { DnsProviderError } from './dns-provider-error.ts';

/**
 * `fetch` for HTTP DNS providers: bounded by `timeoutMs`, and a request that got no answer becomes a
 * retryable DnsProviderError that names `what` (never the URL's credentials: none are put in URLs).
 */
export async function providerFetch(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string | undefined },
  options: { timeoutMs: number; what: string },
): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(options.timeoutMs) });
  } catch (error) {
    const cause = error as Error;
    if (cause.name === 'TimeoutError')
      throw new DnsProviderError('timeout', `${options.what} did not answer within ${options.timeoutMs} ms`, {
        cause,
      });
    const code = (cause.cause as NodeJS.ErrnoException | undefined)?.code;
    throw new DnsProviderError('server', `${options.what} could not be reached: ${code ?? cause.message}`, {
      cause,
    });
  }
}
