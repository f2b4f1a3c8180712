import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

/**
 * Where Gatehouse may send a request on behalf of an API caller (a DNS webhook today). API token holders are
 * trusted to run Gatehouse, not to make its services talk to what only they can reach: loopback, private and
 * link-local networks (cloud metadata at 169.254.169.254), and the compose services by name. An operator opts
 * single hosts or networks back in with an allowlist (`DNS_WEBHOOK_ALLOW`).
 */
export interface OutboundAllowlist {
  /** Host names allowed as written (lower case, no trailing dot). */
  hosts: ReadonlySet<string>;
  /** Addresses and networks allowed. */
  addresses: BlockList;
  /** The list as the operator gave it, for messages. */
  entries: readonly string[];
}

/** The names Gatehouse's own containers answer to on the compose network (compose.yaml). */
export const internalServiceNames: readonly string[] = [
  'postgres',
  'nats',
  'traefik',
  'jaeger',
  'mailpit',
  'api',
  'deployer',
  'cert-issuer',
  'renewal-scheduler',
  'proxy-config',
  'notifier',
  'localhost',
];

/** Networks no outbound request may reach unless allowed, with the reason shown to the caller. */
const forbidden: ReadonlyArray<[network: string, prefix: number, family: 'ipv4' | 'ipv6', reason: string]> = [
  ['0.0.0.0', 8, 'ipv4', 'an unspecified address'],
  ['127.0.0.0', 8, 'ipv4', 'a loopback address'],
  ['10.0.0.0', 8, 'ipv4', 'a private address'],
  ['172.16.0.0', 12, 'ipv4', 'a private address'],
  ['192.168.0.0', 16, 'ipv4', 'a private address'],
  ['100.64.0.0', 10, 'ipv4', 'a shared (carrier-grade NAT) address'],
  ['169.254.0.0', 16, 'ipv4', 'a link-local address'],
  ['192.0.0.0', 24, 'ipv4', 'an IETF protocol address'],
  ['198.18.0.0', 15, 'ipv4', 'a benchmarking address'],
  ['224.0.0.0', 4, 'ipv4', 'a multicast address'],
  ['240.0.0.0', 4, 'ipv4', 'a reserved address'],
  ['::', 128, 'ipv6', 'an unspecified address'],
  ['::1', 128, 'ipv6', 'a loopback address'],
  ['fc00::', 7, 'ipv6', 'a private (unique local) address'],
  ['fe80::', 10, 'ipv6', 'a link-local address'],
  ['ff00::', 8, 'ipv6', 'a multicast address'],
  ['64:ff9b::', 96, 'ipv6', 'a NAT64 address'],
];

/** `::ffff:10.0.0.1` (or `::ffff:a00:1`, as URLs write it) is 10.0.0.1 to the kernel: judge the IPv4 inside. */
function unmapped(address: string): string {
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (dotted) return dotted[1]!;
  const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return address;
  const high = Number.parseInt(hex[1]!, 16);
  const low = Number.parseInt(hex[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** Why `address` (an IP literal) is no place for an outbound request, or undefined when it is a public one. */
export function forbiddenAddressReason(address: string): string | undefined {
  const ip = unmapped(address.replace(/^\[|\]$/g, ''));
  const family = isIP(ip);
  if (family === 0) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [network, prefix, networkFamily, reason] of forbidden) {
    if (networkFamily !== type) continue;
    const list = new BlockList();
    list.addSubnet(network, prefix, networkFamily);
    if (list.check(ip, type)) return reason;
  }
  return undefined;
}

function normalizeHost(host: string): string {
  return host
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** Whether the allowlist names `host` itself (a name, or an address it covers). */
export function allowsHost(allow: OutboundAllowlist | undefined, host: string): boolean {
  if (!allow) return false;
  const name = normalizeHost(host);
  if (allow.hosts.has(name)) return true;
  const ip = unmapped(name);
  const family = isIP(ip);
  return family !== 0 && allow.addresses.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Whether a host as written in a URL may be called: refused when it is a forbidden address literal, one of the
 * compose services' names, or a single-label name (resolved by search domains to who knows what), unless allowed.
 * Names that pass still have their resolved addresses checked at connect time (`checkResolvedAddress`).
 */
export function forbiddenHostReason(allow: OutboundAllowlist | undefined, host: string): string | undefined {
  if (allowsHost(allow, host)) return undefined;
  const name = normalizeHost(host);
  if (isIP(unmapped(name)) !== 0) return forbiddenAddressReason(name);
  if (internalServiceNames.includes(name) || name.endsWith('.localhost'))
    return "one of Gatehouse's own services";
  if (!name.includes('.')) return 'a single-label name (not a public DNS name)';
  if (/\.(internal|local|home\.arpa|localdomain|lan)$/.test(name)) return 'an internal DNS name';
  return undefined;
}

/** Why an address `host` resolved to may not be called (undefined: it may). */
export function checkResolvedAddress(
  allow: OutboundAllowlist | undefined,
  host: string,
  address: string,
): string | undefined {
  if (allowsHost(allow, host) || allowsHost(allow, address)) return undefined;
  const reason = forbiddenAddressReason(address);
  return reason ? `${host} resolves to ${address}, ${reason}` : undefined;
}

/**
 * `DNS_WEBHOOK_ALLOW`-style list: comma-separated host names, IP addresses and CIDR networks
 * (`hooks.lan,127.0.0.1,10.1.0.0/16`).
 */
export const outboundAllowlist = z.string().transform((value, ctx): OutboundAllowlist => {
  const hosts = new Set<string>();
  const addresses = new BlockList();
  const entries = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  for (const entry of entries) {
    const cidr = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(entry);
    const family = isIP(cidr ? cidr[1]! : entry);
    if (cidr && family !== 0 && Number(cidr[2]) <= (family === 4 ? 32 : 128)) {
      addresses.addSubnet(cidr[1]!, Number(cidr[2]), family === 4 ? 'ipv4' : 'ipv6');
    } else if (!cidr && family !== 0) {
      addresses.addAddress(entry, family === 4 ? 'ipv4' : 'ipv6');
    } else if (!cidr && /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.?$/.test(entry)) {
      hosts.add(normalizeHost(entry));
    } else {
      ctx.addIssue({
        code: 'custom',
        message: `"${entry}" is not a host name, an IP address or a CIDR network such as 10.0.0.0/8`,
      });
      return z.NEVER;
    }
  }
  return { hosts, addresses, entries };
});
