/**
 * Names ACME URLs by the resource they are (RFC 8555 §7.1), learned from the CA's own answers rather than from
 * URL patterns, which differ between CAs: the directory lists newNonce/newAccount/newOrder/renewalInfo/...; an
 * order's answer names its finalize, authorization and certificate URLs; an authorization its challenges.
 * The learned table is bounded (oldest forgotten first); an unknown URL is `other`.
 */
export type AcmeEndpoint =
  | 'directory'
  | 'newNonce'
  | 'newAccount'
  | 'newOrder'
  | 'revokeCert'
  | 'keyChange'
  | 'renewalInfo'
  | 'account'
  | 'order'
  | 'authz'
  | 'challenge'
  | 'finalize'
  | 'certificate'
  | 'other';

const directoryEndpoints = ['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange'] as const;

export function createAcmeEndpoints(maxEntries = 10_000) {
  const known = new Map<string, AcmeEndpoint>();
  /** renewalInfo is a prefix: `<renewalInfo>/<cert id>`. */
  const renewalInfoPrefixes = new Set<string>();

  function remember(url: unknown, endpoint: AcmeEndpoint): void {
    if (typeof url !== 'string' || url.length === 0) return;
    known.delete(url);
    known.set(url, endpoint);
    if (known.size > maxEntries) known.delete(known.keys().next().value!);
  }

  return {
    /** The endpoint of `url` as far as the CA's earlier answers tell. */
    classify(url: string): AcmeEndpoint {
      const endpoint = known.get(url);
      if (endpoint) return endpoint;
      for (const prefix of renewalInfoPrefixes) if (url.startsWith(`${prefix}/`)) return 'renewalInfo';
      return 'other';
    },
    /** Learns from one answer; returns the endpoint of the request it answered. */
    learn(url: string, headers: Record<string, unknown>, data: unknown): AcmeEndpoint {
      let endpoint = this.classify(url);
      const body = jsonObject(data);
      if (endpoint === 'other' && body && typeof body.newNonce === 'string') {
        endpoint = 'directory';
        remember(url, 'directory');
      }
      if (body && endpoint === 'directory') {
        for (const name of directoryEndpoints) remember(body[name], name);
        if (typeof body.renewalInfo === 'string')
          renewalInfoPrefixes.add(body.renewalInfo.replace(/\/$/, ''));
      }
      const location = headers.location;
      if (endpoint === 'newAccount') remember(location, 'account');
      if (endpoint === 'newOrder') remember(location, 'order');
      if (body && (endpoint === 'newOrder' || endpoint === 'order' || endpoint === 'finalize')) {
        remember(body.finalize, 'finalize');
        remember(body.certificate, 'certificate');
        if (Array.isArray(body.authorizations))
          for (const authz of body.authorizations) remember(authz, 'authz');
      }
      if (body && endpoint === 'authz' && Array.isArray(body.challenges)) {
        for (const challenge of body.challenges) remember((challenge as { url?: unknown })?.url, 'challenge');
      }
      return endpoint;
    },
  };
}

/** The transport sees bodies before axios parses them: a JSON object, parsed, or undefined. */
function jsonObject(data: unknown): Record<string, unknown> | undefined {
  if (typeof data === 'object' && data !== null && !Buffer.isBuffer(data))
    return data as Record<string, unknown>;
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : data;
  if (typeof text !== 'string' || !text.startsWith('{') || text.length > 256 * 1024) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The `ca` label: the host of the URL (a configured directory's host, so bounded). */
export function caLabel(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'unknown';
  }
}
