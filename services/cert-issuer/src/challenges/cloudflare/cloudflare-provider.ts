import { z } from 'zod';
import type { DnsProvider } from '../dns-provider.ts';
import { DnsProviderError } from '../dns-provider-error.ts';
import { providerFetch } from '../provider-fetch.ts';

export interface CloudflareProviderOptions {
  /** An API token with Zone.DNS edit on the zone (not the global API key). */
  apiToken: string;
  /** The zone the provider is registered for; its id is looked up unless `zoneId` is given. */
  zone: string;
  zoneId?: string | undefined;
  /** Default `https://api.cloudflare.com/client/v4`; tests point it at a local server. */
  baseUrl?: string;
  /** TTL of the TXT records, seconds (Cloudflare's minimum is 60; 1 means automatic). Default 120. */
  ttl?: number;
  timeoutMs?: number;
}

/** Cloudflare's v4 envelope: every answer, success or not (api.cloudflare.com, "API v4 response format"). */
const envelope = z.object({
  success: z.boolean(),
  errors: z.array(z.object({ code: z.number(), message: z.string() })).default([]),
  result: z.unknown(),
});
const zoneList = z.array(z.object({ id: z.string(), name: z.string() }));
const recordList = z.array(
  z.object({ id: z.string(), name: z.string(), type: z.string(), content: z.string() }),
);
const tokenStatus = z.object({ status: z.string() });

/** Error codes Cloudflare uses for a token that is malformed, unknown, expired or lacks the permission. */
const AUTH_ERROR_CODES = new Set([6003, 6111, 9103, 9106, 9109, 10000, 10001]);
/** "An identical record already exists." */
const IDENTICAL_RECORD = 81058;

/**
 * DNS-01 through Cloudflare's API v4: the zone id by name (`GET /zones?name=`), TXT records created with
 * `POST /zones/{id}/dns_records` and removed by id after `GET /zones/{id}/dns_records?type=TXT&name=`. The
 * value is sent quoted, as Cloudflare asks for TXT content; either spelling is matched on cleanup.
 * The token is only ever sent in the Authorization header, never put in an error.
 */
export function createCloudflareProvider(options: CloudflareProviderOptions): DnsProvider {
  const base = (options.baseUrl ?? 'https://api.cloudflare.com/client/v4').replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const zoneName = options.zone.replace(/\.$/, '').toLowerCase();
  let zoneId: Promise<string> | undefined = options.zoneId ? Promise.resolve(options.zoneId) : undefined;

  async function call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; data: z.infer<typeof envelope> }> {
    const response = await providerFetch(
      `${base}${path}`,
      {
        method,
        headers: {
          authorization: `Bearer ${options.apiToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      { timeoutMs, what: `Cloudflare (${method} ${path})` },
    );
    let parsed: z.infer<typeof envelope>;
    try {
      parsed = envelope.parse(await response.json());
    } catch {
      if (response.status >= 500)
        throw new DnsProviderError('server', `Cloudflare failed ${method} ${path} (${response.status})`);
      throw new DnsProviderError(
        'protocol',
        `Cloudflare answered ${method} ${path} with something that is not its API envelope (${response.status})`,
      );
    }
    return { status: response.status, data: parsed };
  }

  /** Turns an unsuccessful answer into the error that says what to check. */
  function failure(what: string, status: number, data: z.infer<typeof envelope>): DnsProviderError {
    const said = data.errors.map((error) => `${error.code} ${error.message}`).join('; ') || `HTTP ${status}`;
    if (status === 401 || status === 403 || data.errors.some((error) => AUTH_ERROR_CODES.has(error.code)))
      return new DnsProviderError(
        'auth',
        `Cloudflare rejected the API token for zone ${zoneName} (${said}): it needs Zone.DNS edit permission on the zone`,
      );
    if (status === 429)
      return new DnsProviderError('server', `Cloudflare rate-limited ${what} (${said}); retrying later`);
    if (status >= 500) return new DnsProviderError('server', `Cloudflare failed ${what} (${said})`);
    return new DnsProviderError('refused', `Cloudflare refused ${what} (${said})`);
  }

  async function lookupZoneId(): Promise<string> {
    const { status, data } = await call('GET', `/zones?name=${encodeURIComponent(zoneName)}`);
    if (!data.success) throw failure(`the lookup of zone ${zoneName}`, status, data);
    const zones = zoneList.safeParse(data.result);
    if (!zones.success)
      throw new DnsProviderError('protocol', `Cloudflare's zone list for ${zoneName} is malformed`);
    const zone = zones.data.find((candidate) => candidate.name.toLowerCase() === zoneName);
    if (!zone)
      throw new DnsProviderError(
        'refused',
        `the Cloudflare API token cannot see zone ${zoneName}: check the zone name and the token's zone resources`,
      );
    return zone.id;
  }

  function zone(): Promise<string> {
    if (!zoneId) {
      zoneId = lookupZoneId();
      zoneId.catch(() => {
        zoneId = undefined;
      });
    }
    return zoneId;
  }

  const name = (fqdn: string) => fqdn.replace(/\.$/, '').toLowerCase();
  const quoted = (value: string) => `"${value}"`;

  return {
    kind: 'cloudflare',
    async present(fqdn, value) {
      const id = await zone();
      const { status, data } = await call('POST', `/zones/${id}/dns_records`, {
        type: 'TXT',
        name: name(fqdn),
        content: quoted(value),
        ttl: options.ttl ?? 120,
      });
      if (data.success || data.errors.some((error) => error.code === IDENTICAL_RECORD)) return;
      throw failure(`creating TXT ${name(fqdn)}`, status, data);
    },
    async cleanup(fqdn, value) {
      const id = await zone();
      const query = `type=TXT&name=${encodeURIComponent(name(fqdn))}`;
      const listed = await call('GET', `/zones/${id}/dns_records?${query}`);
      if (!listed.data.success) throw failure(`listing TXT ${name(fqdn)}`, listed.status, listed.data);
      const records = recordList.safeParse(listed.data.result);
      if (!records.success)
        throw new DnsProviderError('protocol', `Cloudflare's record list for ${name(fqdn)} is malformed`);
      for (const record of records.data) {
        if (record.content !== value && record.content !== quoted(value)) continue;
        const removed = await call('DELETE', `/zones/${id}/dns_records/${record.id}`);
        // Gone already (another cleanup won the race): the goal is reached.
        if (!removed.data.success && removed.status !== 404)
          throw failure(`deleting TXT ${name(fqdn)}`, removed.status, removed.data);
      }
    },
    async verify() {
      const { status, data } = await call('GET', '/user/tokens/verify');
      if (!data.success) throw failure('the token check', status, data);
      const token = tokenStatus.safeParse(data.result);
      if (!token.success || token.data.status !== 'active')
        throw new DnsProviderError(
          'auth',
          `the Cloudflare API token is ${token.success ? token.data.status : 'not active'}: create a new one with Zone.DNS edit`,
        );
      await zone();
    },
  };
}
