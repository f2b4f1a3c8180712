/** What the operator's ask URL said about a name. */
export type AskAnswer =
  | { allowed: true; status: number }
  /** A definite no (a non-2xx answer): cached for the deny TTL. */
  | { allowed: false; status: number }
  /** No answer (timeout, refused connection): denied this time, not cached, the per-name interval applies. */
  | { allowed: false; status: null; error: string };

/**
 * Asks the operator whether `name` may get a certificate: `GET <askUrl>?domain=<name>`, bounded by
 * `timeoutMs`; only a 2xx allows. Redirects are not followed (a 3xx is a no). The URL is operator
 * configuration and trusted; the name has passed the public-name rules before it gets here.
 */
export async function askOperator(askUrl: URL, name: string, timeoutMs: number): Promise<AskAnswer> {
  const url = new URL(askUrl);
  url.searchParams.set('domain', name);
  try {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    const allowed = response.status >= 200 && response.status < 300;
    return { allowed, status: response.status };
  } catch (error) {
    const message =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : (error as Error).message;
    return { allowed: false, status: null, error: message };
  }
}
