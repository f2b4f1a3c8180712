import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The SecretBox purpose the probe key is derived for (`box.deriveKey`): the same on every replica. */
export const http01ProbeKeyPurpose = 'http01-probe';

/** issued-at (4 bytes, seconds) + random (12 bytes) + HMAC-SHA256 tag (32 bytes) = 48 bytes, 64 base64url chars. */
const headerBytes = 16;
const tagBytes = 32;
const tokenLength = Math.ceil(((headerBytes + tagBytes) * 4) / 3);

export interface Http01Probe {
  /** The token to ask for at `/.well-known/acme-challenge/<token>`. */
  token: string;
  /** The body a responder holding the probe key answers with (shaped like a key authorization). */
  expectedBody: string;
}

export interface Http01Probes {
  /** A fresh probe for `hostname` (the name the preflight asks for, as the CA will). */
  mint(hostname: string): Http01Probe;
  /**
   * The body to answer when `token` is asked for under `hostname`, or undefined when it is no probe: a probe
   * MUST carry a valid tag for that very hostname and be recent, so a CA token (random, no tag) is never taken
   * for one, and a probe for one name does not answer under another.
   */
  answer(token: string, hostname: string): string | undefined;
}

export interface Http01ProbeOptions {
  /** How long after it is minted a probe is answered (a self-check lasts seconds). Default 5 minutes. */
  maxAgeMs?: number;
  /** How far in the future a probe's mint time may lie (replicas' clocks differ a little). Default 1 minute. */
  clockSkewMs?: number;
  /** For tests: the clock. */
  now?: () => number;
}

/**
 * Self-verifying HTTP-01 preflight probes: the token itself carries an HMAC-SHA256 tag (under `key`, derived from
 * the master key, so every replica has it) over its mint time, a random part and the hostname, and the answer is
 * an HMAC of the token only a holder of the key can compute. The preflight mints one, asks for it through
 * whatever routes the name's port 80, and compares the body; a responder answers it without any state. So the
 * check needs no row in `http01_tokens` and no database round trip, and proves that a Gatehouse responder with
 * this master key answered, on whichever replica the request landed.
 */
export function createHttp01Probes(key: Buffer, options: Http01ProbeOptions = {}): Http01Probes {
  if (key.length < 32) throw new RangeError('the HTTP-01 probe key must be at least 32 bytes');
  const maxAgeMs = options.maxAgeMs ?? 5 * 60_000;
  const clockSkewMs = options.clockSkewMs ?? 60_000;
  const now = options.now ?? Date.now;
  const hmacKey = Buffer.from(key);

  function tagOf(header: Buffer, hostname: string): Buffer {
    return createHmac('sha256', hmacKey)
      .update('gatehouse http-01 probe token\0')
      .update(header)
      .update(hostname.toLowerCase())
      .digest();
  }

  function bodyFor(token: string): string {
    const proof = createHmac('sha256', hmacKey)
      .update('gatehouse http-01 probe answer\0')
      .update(token)
      .digest();
    return `${token}.${proof.toString('base64url')}`;
  }

  function mint(hostname: string): Http01Probe {
    const header = Buffer.alloc(headerBytes);
    header.writeUInt32BE(Math.floor(now() / 1000) >>> 0, 0);
    randomBytes(headerBytes - 4).copy(header, 4);
    const token = Buffer.concat([header, tagOf(header, hostname)]).toString('base64url');
    return { token, expectedBody: bodyFor(token) };
  }

  function answer(token: string, hostname: string): string | undefined {
    if (token.length !== tokenLength) return undefined;
    const bytes = Buffer.from(token, 'base64url');
    // Only the canonical encoding: one probe is one token string, whatever padding bits a forger tries.
    if (bytes.length !== headerBytes + tagBytes || bytes.toString('base64url') !== token) return undefined;
    const header = bytes.subarray(0, headerBytes);
    if (!timingSafeEqual(bytes.subarray(headerBytes), tagOf(header, hostname))) return undefined;
    const mintedMs = header.readUInt32BE(0) * 1000;
    const ageMs = now() - mintedMs;
    if (ageMs > maxAgeMs || ageMs < -clockSkewMs) return undefined;
    return bodyFor(token);
  }

  return { mint, answer };
}
