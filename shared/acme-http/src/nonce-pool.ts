export interface NoncePoolOptions {
  /** Nonces older than this are not handed out: the CA may have forgotten them (a badNonce costs a round trip). */
  maxAgeMs?: number;
  /** At most this many kept; a few per request in flight is plenty, more would only grow stale. */
  maxSize?: number;
  /** For tests: the clock nonces age by. */
  now?: () => number;
}

export interface NoncePool {
  /** Keeps a `Replay-Nonce` from a successful answer. MUST NOT be given a nonce that was already used. */
  add(nonce: string): void;
  /** A fresh nonce, newest first, each at most once; undefined when none is left (then ask newNonce). */
  take(): string | undefined;
  readonly size: number;
}

/**
 * Replay-Nonces kept for reuse (RFC 8555 §7.2: every successful answer to a POST carries one), so a signed
 * request needs no HEAD newNonce first. That halves the requests per order, and a CA that closes the
 * connection after a HEAD (Pebble) also costs no TLS handshake per signed request.
 */
export function createNoncePool(options: NoncePoolOptions = {}): NoncePool {
  const maxAgeMs = options.maxAgeMs ?? 30_000;
  const maxSize = options.maxSize ?? 32;
  const now = options.now ?? Date.now;
  const pool: Array<{ nonce: string; at: number }> = [];
  return {
    add(nonce) {
      pool.push({ nonce, at: now() });
      if (pool.length > maxSize) pool.shift();
    },
    take() {
      const at = now();
      for (let entry = pool.pop(); entry; entry = pool.pop()) {
        if (at - entry.at < maxAgeMs) return entry.nonce;
      }
      return undefined;
    },
    get size() {
      return pool.length;
    },
  };
}
