/**
 * The part of acme-client's internal HTTP client this module relies on (acme-client 5.x `HttpClient`):
 * `request` for every request, `getNonce` before every signed one.
 */
interface AcmeHttpClient {
  request(
    url: string,
    method: string,
    opts?: unknown,
  ): Promise<{ status: number; headers: Record<string, unknown> }>;
  getNonce(): Promise<string>;
}

/** Nonces older than this are not reused: the CA may have forgotten them (a badNonce costs a round trip). */
const maxNonceAgeMs = 30_000;
/** A few per request in flight is plenty; more would only grow stale. */
const maxPooledNonces = 32;

/**
 * Reuses the `Replay-Nonce` every ACME response carries (RFC 8555 §7.2: "the server MUST include a
 * Replay-Nonce header field in every successful response to a POST request") instead of acme-client's
 * HEAD newNonce before each signed request. That halves the requests per order, and Pebble closes the
 * connection after a HEAD, so it also saves a TLS handshake per signed request. Falls back to newNonce when
 * the pool is empty; a nonce the CA no longer accepts comes back as badNonce, which acme-client retries with
 * the fresh nonce from that error response.
 *
 * `client` is acme-client's `Client`; its `http` member is internal, so when it is missing (another
 * acme-client major) this does nothing and acme-client keeps fetching nonces itself.
 */
export function poolNonces(client: object): void {
  const http = (client as { http?: AcmeHttpClient }).http;
  if (!http || typeof http.request !== 'function' || typeof http.getNonce !== 'function') return;
  const pool: Array<{ nonce: string; at: number }> = [];
  const request = http.request.bind(http);
  const getNonce = http.getNonce.bind(http);
  http.request = async (url, method, opts) => {
    const response = await request(url, method, opts);
    const nonce = response.headers['replay-nonce'];
    // Not pooled: a HEAD newNonce answer (getNonce returns it itself) and an error answer (acme-client
    // retries a badNonce with that very nonce): either would be handed out twice.
    if (typeof nonce === 'string' && response.status < 400 && method.toLowerCase() !== 'head') {
      pool.push({ nonce, at: Date.now() });
      if (pool.length > maxPooledNonces) pool.shift();
    }
    return response;
  };
  http.getNonce = async () => {
    const now = Date.now();
    for (let entry = pool.pop(); entry; entry = pool.pop()) {
      if (now - entry.at < maxNonceAgeMs) return entry.nonce;
    }
    return getNonce();
  };
}
