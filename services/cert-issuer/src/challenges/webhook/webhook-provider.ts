import type { OutboundAllowlist } from '@gatehouse/config';
import type { DnsProvider } from '../dns-provider.ts';
import { DnsProviderError } from '../dns-provider-error.ts';
import { guardedPost, type ResolveHost } from './guarded-post.ts';

export interface WebhookProviderOptions {
  /** Base URL: `present` POSTs to `<url>/present`, `cleanup` to `<url>/cleanup`. No query, fragment or credentials. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string | undefined;
  /** `DNS_WEBHOOK_ALLOW`: the internal hosts and networks an operator allows webhooks to reach. */
  allow?: OutboundAllowlist | undefined;
  /** How the webhook's host name is resolved (DNS_RESOLVERS when set); the system's resolver by default. */
  resolve?: ResolveHost | undefined;
  timeoutMs?: number;
}

/**
 * An operator's HTTP endpoint writes the records, in the shape of lego's `httpreq` provider (so existing
 * handlers work): `POST <url>/present` and `POST <url>/cleanup` with `{"fqdn": "_acme-challenge.a.example.com.",
 * "value": "<TXT value>"}`. Any 2xx is success; the handler MUST make both idempotent. The URL comes from an
 * API caller, so it may not reach loopback, private or link-local addresses nor Gatehouse's own services unless
 * `allow` lists them, redirects are not followed, and the handler's answer body never reaches an error message.
 */
export function createWebhookProvider(options: WebhookProviderOptions): DnsProvider {
  const timeoutMs = options.timeoutMs ?? 30_000;

  /** `<base path>/<action>`, built on the parsed URL so nothing in the base can move the action elsewhere. */
  function targetOf(action: 'present' | 'cleanup'): URL {
    const target = new URL(options.url);
    target.pathname = `${target.pathname.replace(/\/+$/, '')}/${action}`;
    return target;
  }

  async function call(action: 'present' | 'cleanup', fqdn: string, value: string): Promise<void> {
    // Even an empty `?` or `#` is refused: the action is appended to the path, and nothing may move it.
    if (/[?#]/.test(options.url))
      throw new DnsProviderError(
        'refused',
        'the DNS webhook URL has a query or fragment (the path is fixed)',
      );
    const target = targetOf(action);
    // Named without credentials, query or fragment: this text reaches the API and mails.
    const shown = `${target.protocol}//${target.host}${target.pathname}`;
    const answer = await guardedPost(
      target,
      {
        headers: {
          'content-type': 'application/json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        body: JSON.stringify({ fqdn: `${fqdn.replace(/\.$/, '')}.`, value }),
      },
      { timeoutMs, what: `the DNS webhook ${shown}`, allow: options.allow, resolve: options.resolve },
    );
    const { status } = answer;
    if (status >= 200 && status < 300) return;
    if (status >= 300 && status < 400)
      throw new DnsProviderError(
        'refused',
        `the DNS webhook ${shown} answered with a redirect (${status}), which is not followed: register the final URL`,
      );
    if (status === 401 || status === 403)
      throw new DnsProviderError(
        'auth',
        `the DNS webhook ${shown} refused our credentials (${status}): check the provider's token`,
      );
    if (status >= 500) throw new DnsProviderError('server', `the DNS webhook ${shown} failed (${status})`);
    throw new DnsProviderError(
      'refused',
      `the DNS webhook ${shown} refused to ${action} ${fqdn} (${status}): see the handler's logs`,
    );
  }

  return {
    kind: 'webhook',
    present: (fqdn, value) => call('present', fqdn, value),
    cleanup: (fqdn, value) => call('cleanup', fqdn, value),
  };
}
