import { randomInt } from 'node:crypto';
import type { DnsProvider } from '../dns-provider.ts';
import { DnsProviderError } from '../dns-provider-error.ts';
import {
  type DecodedMessage,
  decodeMessage,
  encodeQuery,
  encodeTxtUpdate,
  rcodeName,
  TYPE_SOA,
} from './message.ts';
import { type DnsServer, exchange, serverLabel } from './transport.ts';
import { signMessage, type TsigAlgorithm, type TsigKey, verifyResponse } from './tsig.ts';

export interface Rfc2136ProviderOptions {
  /** The primary server that accepts updates (BIND, Knot, PowerDNS, …). */
  server: DnsServer;
  /** The zone to update. When absent it is found by SOA lookup against `server` and cached per name. */
  zone?: string;
  keyName: string;
  keyAlgorithm: TsigAlgorithm;
  /** The TSIG secret, base64 (as in BIND's `key` statement). */
  keySecret: string;
  /** Per attempt; UDP is tried twice. Default 5000 ms. */
  timeoutMs?: number;
  /** TTL of the TXT records written, seconds. Default 60. */
  ttl?: number;
  /** Always use TCP (for servers or networks that drop UDP). Default false: UDP, TCP when needed. */
  forceTcp?: boolean;
}

export interface Rfc2136Provider extends DnsProvider {
  readonly kind: 'rfc2136';
  /** The zone that holds `fqdn`: the configured one, or the one found by SOA lookup. */
  findZone(fqdn: string): Promise<string>;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_TTL = 60;

function withoutDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/**
 * A DnsProvider that writes TXT records by RFC 2136 dynamic update, signed with TSIG (RFC 8945). Every
 * request, SOA lookups included, is signed and every answer's TSIG verified. `present` of a value already
 * there and `cleanup` of a value already gone both succeed (RFC 2136 makes both no-ops), so both are safe to
 * retry. Failures throw DnsProviderError.
 */
export function createRfc2136Provider(options: Rfc2136ProviderOptions): Rfc2136Provider {
  const secret = Buffer.from(options.keySecret, 'base64');
  if (secret.length === 0)
    throw new DnsProviderError('auth', `TSIG key ${options.keyName} has an empty secret`);
  const key: TsigKey = { name: options.keyName, algorithm: options.keyAlgorithm, secret };
  const server = options.server;
  const label = serverLabel(server);
  const exchangeOptions = {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    forceTcp: options.forceTcp ?? false,
  };
  const zones = new Map<string, Promise<string>>();

  /** Signs, sends, decodes and verifies one request; returns the answer when its TSIG checks out. */
  async function send(message: Buffer, zoneForMessages: string | undefined): Promise<DecodedMessage> {
    const signed = signMessage(message, key);
    const raw = await exchange(server, signed.message, exchangeOptions);
    const answer = decodeMessage(raw);
    if (!answer.response || answer.id !== message.readUInt16BE(0)) {
      throw new DnsProviderError(
        'protocol',
        `DNS server at ${label} sent an answer that does not match the request`,
      );
    }
    const verification = verifyResponse(raw, answer, key, signed.mac);
    if (verification.ok) return answer;
    switch (verification.reason) {
      case 'tsig-error':
        if (verification.errorName === 'BADTIME') {
          throw new DnsProviderError(
            'auth',
            `DNS server at ${label} rejected the TSIG time (BADTIME): this host's clock differs from the server's by more than 300 s`,
          );
        }
        throw authError(verification.errorName);
      case 'missing':
        // NOTAUTH without TSIG: some servers answer an unknown key that way.
        if (answer.rcode === 9) throw authError('NOTAUTH', zoneForMessages);
        throw new DnsProviderError(
          'protocol',
          `DNS server at ${label} answered ${rcodeName(answer.rcode)} without a TSIG signature; refusing an unauthenticated answer`,
        );
      case 'wrong-key':
        throw new DnsProviderError(
          'protocol',
          `DNS server at ${label} answered ${verification.detail}, not ${key.name}`,
        );
      case 'bad-mac':
        throw new DnsProviderError(
          'protocol',
          `the TSIG signature of the answer from ${label} does not verify: the answer was altered or forged`,
        );
      case 'bad-time':
        throw new DnsProviderError(
          'protocol',
          `the answer from ${label} was signed ${verification.skewSeconds} s away from this host's clock (fudge 300 s)`,
        );
    }
  }

  function authError(what: string, zone?: string): DnsProviderError {
    const where = zone ? ` for zone ${withoutDot(zone)}` : '';
    return new DnsProviderError(
      'auth',
      `DNS server at ${label} rejected the TSIG key ${key.name}${where} (${what}): check keyName, keyAlgorithm and keySecret`,
    );
  }

  /** Maps an update's RCODE to success or an error that says what to check. */
  function checkUpdateRcode(answer: DecodedMessage, zone: string, fqdn: string): void {
    const zoneName = withoutDot(zone);
    switch (answer.rcode) {
      case 0:
        return;
      case 9:
        // The answer's TSIG verified, so the server knows our key: NOTAUTH here means the zone is not its own.
        throw new DnsProviderError(
          'auth',
          `DNS server at ${label} accepted the TSIG key ${key.name} but is not authoritative for zone ${zoneName} (NOTAUTH): check the zone and that ${label} is its primary server`,
        );
      case 5:
        throw new DnsProviderError(
          'refused',
          `DNS server at ${label} refused the update of ${fqdn} in zone ${zoneName}: does the update-policy of key ${key.name} allow TXT there?`,
        );
      case 10:
        throw new DnsProviderError(
          'refused',
          `DNS server at ${label} says ${fqdn} is not in zone ${zoneName} (NOTZONE): check the configured zone`,
        );
      case 2:
        throw new DnsProviderError(
          'server',
          `DNS server at ${label} failed the update of ${fqdn} (SERVFAIL)`,
        );
      default:
        throw new DnsProviderError(
          'protocol',
          `DNS server at ${label} answered the update of ${fqdn} with ${rcodeName(answer.rcode)}`,
        );
    }
  }

  /** Asks for the SOA of `fqdn`, then of each parent; the owner of the SOA in the answer or authority wins. */
  async function lookupZone(fqdn: string): Promise<string> {
    const labels = withoutDot(fqdn).split('.');
    for (let index = 0; index < labels.length; index++) {
      const candidate = `${labels.slice(index).join('.')}.`;
      const answer = await send(encodeQuery(randomInt(0x10000), candidate, TYPE_SOA), undefined);
      if (answer.rcode === 2) {
        throw new DnsProviderError(
          'server',
          `DNS server at ${label} failed the SOA lookup of ${candidate} (SERVFAIL)`,
        );
      }
      if (answer.rcode === 0 || answer.rcode === 3) {
        const soa = [...answer.answers, ...answer.authority].find((record) => record.type === TYPE_SOA);
        // The root's SOA (a server that also answers for ".") says only that no zone of ours holds the name.
        if (soa && withoutDot(soa.name) !== '') return withoutDot(soa.name);
      }
      // REFUSED (not authoritative here) or no SOA: try the parent.
    }
    throw new DnsProviderError(
      'refused',
      `DNS server at ${label} serves no zone that contains ${fqdn}: configure the zone or point to its primary server`,
    );
  }

  function findZone(fqdn: string): Promise<string> {
    if (options.zone !== undefined) return Promise.resolve(withoutDot(options.zone));
    const name = withoutDot(fqdn).toLowerCase();
    let zone = zones.get(name);
    if (!zone) {
      zone = lookupZone(name);
      zones.set(name, zone);
      zone.catch(() => zones.delete(name));
    }
    return zone;
  }

  async function update(fqdn: string, value: string, action: 'add' | 'delete'): Promise<void> {
    const zone = await findZone(fqdn);
    const message = encodeTxtUpdate({
      id: randomInt(0x10000),
      zone,
      name: withoutDot(fqdn),
      value,
      action,
      ttl: options.ttl ?? DEFAULT_TTL,
    });
    const answer = await send(message, zone);
    checkUpdateRcode(answer, zone, withoutDot(fqdn));
  }

  /** A signed SOA query of the zone: a wrong key answers BADSIG/BADKEY, which `send` turns into `auth`. */
  async function verify(fqdn: string): Promise<void> {
    const zone = await findZone(fqdn);
    const answer = await send(encodeQuery(randomInt(0x10000), `${zone}.`, TYPE_SOA), zone);
    if (answer.rcode === 5 || answer.rcode === 9) checkUpdateRcode(answer, `${zone}.`, withoutDot(fqdn));
  }

  return {
    kind: 'rfc2136',
    findZone,
    verify,
    present: (fqdn, value) => update(fqdn, value, 'add'),
    cleanup: (fqdn, value) => update(fqdn, value, 'delete'),
  };
}
