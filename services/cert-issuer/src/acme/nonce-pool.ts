import type { NoncePool } from '@gatehouse/acme-http';

/**
 * The part of acme-client's internal HTTP client this module relies on (acme-client 5.x `HttpClient`):
 * `request` for every request, `getNonce` before every signed one.
 */
interface AcmeClientHttp {
  request(
    url: string,
    method: string,
    opts?: unknown,
  ): Promise<{ status: number; headers: Record<string, unknown> }>;
  getNonce(): Promise<string>;
}

/**
 * Makes acme-client take its nonces from `pool` (the shared ACME HTTP client's pool for this CA) and feed it
 * the `Replay-Nonce` of every successful answer, instead of a HEAD newNonce before each signed request. Falls
 * back to newNonce when the pool is empty; a nonce the CA no longer accepts comes back as badNonce, which
 * acme-client retries with the fresh nonce from that error response.
 *
 * `client` is acme-client's `Client`; its `http` member is internal, so when it is missing (another
 * acme-client major) this does nothing and acme-client keeps fetching nonces itself.
 */
export function poolNonces(client: object, pool: NoncePool): void {
  const http = (client as { http?: AcmeClientHttp }).http;
  if (!http || typeof http.request !== 'function' || typeof http.getNonce !== 'function') return;
  const request = http.request.bind(http);
  const getNonce = http.getNonce.bind(http);
  http.request = async (url, method, opts) => {
    const response = await request(url, method, opts);
    const nonce = response.headers['replay-nonce'];
    // Not pooled: a HEAD newNonce answer (getNonce returns it itself) and an error answer (acme-client
    // retries a badNonce with that very nonce): either would be handed out twice.
    if (typeof nonce === 'string' && response.status < 400 && method.toLowerCase() !== 'head')
      pool.add(nonce);
    return response;
  };
  http.getNonce = async () => pool.take() ?? getNonce();
}
