import { hostPort, type OutboundAllowlist } from '@gatehouse/config';
import { z } from 'zod';
import { createCloudflareProvider } from './cloudflare/index.ts';
import type { DnsProvider } from './dns-provider.ts';
import { DnsProviderError } from './dns-provider-error.ts';
import { createExecProvider } from './exec/index.ts';
import { createRfc2136Provider } from './rfc2136/index.ts';
import { createWebhookProvider, type ResolveHost } from './webhook/index.ts';

/** A `dns_providers` row with its secret opened. */
export interface DnsProviderSpec {
  zone: string;
  kind: string;
  config: Record<string, unknown>;
  secret: string | undefined;
}

/** What the operator allows providers registered through the API to do (cert-issuer's configuration). */
export interface DnsProviderPolicy {
  /** `DNS_EXEC_DIR`: exec programs run only from here; undefined refuses them. */
  execDir?: string | undefined;
  /** `DNS_WEBHOOK_ALLOW`: internal hosts and networks webhooks may reach. */
  webhookAllow?: OutboundAllowlist | undefined;
  /** How webhook host names are resolved (and checked). */
  resolveHost?: ResolveHost | undefined;
}

const cloudflareConfig = z.object({
  zoneId: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
});
const webhookConfig = z.object({ url: z.url({ protocol: /^https?$/ }) });
const execConfig = z.object({ command: z.string().regex(/^\/\S+$/) });

const rfc2136Config = z.object({
  server: z.string(),
  keyName: z.string().min(1),
  keyAlgorithm: z.enum(['hmac-sha256', 'hmac-sha512']),
});

/**
 * Builds the provider a row describes. The api validated the row when it was stored; this checks again
 * (rows outlive code versions) and turns a bad row into a DnsProviderError naming the zone, not a crash.
 */
export function buildDnsProvider(spec: DnsProviderSpec, policy: DnsProviderPolicy = {}): DnsProvider {
  const invalid = (detail: string) =>
    new DnsProviderError(
      'auth',
      `the ${spec.kind} DNS provider for zone ${spec.zone} is misconfigured (${detail}): register it again through /v1/dns-providers`,
    );
  switch (spec.kind) {
    case 'rfc2136': {
      const config = rfc2136Config.safeParse(spec.config);
      if (!config.success || !spec.secret)
        throw invalid(config.success ? 'no keySecret' : config.error.message);
      // The same host:port rule the api stored it by (IPv6 in brackets).
      const server = hostPort.safeParse(config.data.server);
      if (!server.success) throw invalid(`"${config.data.server}" is not host:port`);
      return createRfc2136Provider({
        server: server.data,
        keyName: config.data.keyName,
        keyAlgorithm: config.data.keyAlgorithm,
        keySecret: spec.secret,
      });
    }
    case 'cloudflare': {
      const config = cloudflareConfig.safeParse(spec.config);
      if (!config.success || !spec.secret)
        throw invalid(config.success ? 'no apiToken' : config.error.message);
      return createCloudflareProvider({ apiToken: spec.secret, zone: spec.zone, zoneId: config.data.zoneId });
    }
    case 'webhook': {
      const config = webhookConfig.safeParse(spec.config);
      if (!config.success) throw invalid(config.error.message);
      return createWebhookProvider({
        url: config.data.url,
        token: spec.secret,
        allow: policy.webhookAllow,
        resolve: policy.resolveHost,
      });
    }
    case 'exec': {
      const config = execConfig.safeParse(spec.config);
      if (!config.success) throw invalid(config.error.message);
      return createExecProvider({ command: config.data.command, directory: policy.execDir });
    }
    default:
      throw invalid(`unknown kind ${spec.kind}`);
  }
}
