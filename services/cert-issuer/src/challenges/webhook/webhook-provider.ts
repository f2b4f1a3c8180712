import type { DnsProvider } from '../dns-provider.ts';
import { DnsProviderError } from '../dns-provider-error.ts';
import { providerFetch } from '../provider-fetch.ts';

export interface WebhookProviderOptions {
  /** Base URL: `present` POSTs to `<url>/present`, `cleanup` to `<url>/cleanup`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string | undefined;
  timeoutMs?: number;
}

/**
 * An operator's HTTP endpoint writes the records, in the shape of lego's `httpreq` provider (so existing
 * handlers work): `POST <url>/present` and `POST <url>/cleanup` with `{"fqdn": "_acme-challenge.a.example.com.",
 * "value": "<TXT value>"}`. Any 2xx is success; the handler MUST make both idempotent.
 */
export function createWebhookProvider(options: WebhookProviderOptions): DnsProvider {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const base = options.url.replace(/\/+$/, '');

  async function call(action: 'present' | 'cleanup', fqdn: string, value: string): Promise<void> {
    const target = `${base}/${action}`;
    const response = await providerFetch(
      target,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        body: JSON.stringify({ fqdn: `${fqdn.replace(/\.$/, '')}.`, value }),
      },
      { timeoutMs, what: `the DNS webhook ${target}` },
    );
    if (response.ok) return;
    const detail = (await response.text().catch(() => '')).trim().slice(0, 200);
    const said = detail ? `: ${detail}` : '';
    if (response.status === 401 || response.status === 403)
      throw new DnsProviderError(
        'auth',
        `the DNS webhook ${target} refused our credentials (${response.status})${said}: check the provider's token`,
      );
    if (response.status >= 500)
      throw new DnsProviderError('server', `the DNS webhook ${target} failed (${response.status})${said}`);
    throw new DnsProviderError(
      'refused',
      `the DNS webhook ${target} refused to ${action} ${fqdn} (${response.status})${said}`,
    );
  }

  return {
    kind: 'webhook',
    present: (fqdn, value) => call('present', fqdn, value),
    cleanup: (fqdn, value) => call('cleanup', fqdn, value),
  };
}
