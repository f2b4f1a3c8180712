/** What the HTTP-01 responder knows of one token. */
export interface Http01TokenEntry {
  /** The name the token was issued for (lowercase); undefined for a remembered miss. */
  hostname: string | undefined;
  keyAuthorization: string;
}

export interface Http01TokenCache {
  /** The entry of `token` while it is fresh, else undefined. */
  find(token: string): Http01TokenEntry | undefined;
  /** Remembers `token` for `ttlMs` (a present, a database hit or a miss), replacing what was known of it. */
  remember(token: string, entry: Http01TokenEntry, ttlMs: number): void;
  /** Forgets `token` (its challenge was cleaned up). */
  forget(token: string): void;
}

export interface Http01TokenCacheOptions {
  /** At most this many tokens remembered; the oldest go first. Default 10,000. */
  size?: number;
  /** For tests: the clock entries age by. */
  now?: () => number;
}

/**
 * The HTTP-01 tokens this process can answer without Postgres: the ones its own solver presented (until their
 * cleanup) and recent database look-ups of the responder, hits and misses. Bounded; the oldest entry is dropped
 * first, and a dropped token is simply looked up again.
 */
export function createHttp01TokenCache(options: Http01TokenCacheOptions = {}): Http01TokenCache {
  const size = options.size ?? 10_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Http01TokenEntry & { until: number }>();

  return {
    find(token) {
      const entry = entries.get(token);
      if (!entry) return undefined;
      if (entry.until > now()) return entry;
      entries.delete(token);
      return undefined;
    },
    remember(token, entry, ttlMs) {
      entries.delete(token);
      entries.set(token, { ...entry, until: now() + ttlMs });
      // Map keeps insertion order: the first key is the oldest.
      while (entries.size > size) entries.delete(entries.keys().next().value!);
    },
    forget(token) {
      entries.delete(token);
    },
  };
}
