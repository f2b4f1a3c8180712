/**
 * A small client for pebble-challtestsrv's management API (the mock DNS Pebble resolves through; see
 * ../shared/TESTBED.md). Callers pass plain names (`_acme-challenge.x.test`, no trailing dot, any case):
 * the client lowercases them and adds the trailing dot where the API wants one (every record mutation;
 * /set-txt silently ignores a name without it) and leaves it off where it must not be (/dns-request-history).
 *
 * One challtestsrv serves every test file running in parallel: use names unique to your test.
 */

export interface CaaPolicy {
  /** `issue`, `issuewild`, `iodef`, … */
  tag: string;
  /** For example `letsencrypt.org` or `pebble.letsencrypt.org; validationmethods=dns-01`. */
  value: string;
}

export interface DnsRequestEvent {
  /** Name with trailing dot as asked, Qtype (1 A, 16 TXT, 28 AAAA, 257 CAA, …), Qclass (1 IN). */
  Question: { Name: string; Qtype: number; Qclass: number };
}

export interface ChalltestsrvClient {
  /** The management base URL, for example http://127.0.0.1:8055. */
  readonly url: string;
  /** Adds a TXT value for `host` (values accumulate: a wildcard and its base name can share one name). */
  setTxt(host: string, value: string): Promise<void>;
  /** Removes every TXT value of `host`. */
  clearTxt(host: string): Promise<void>;
  /** Adds A records for `host` (accumulate; without any, every name answers the default 127.0.0.1). */
  addA(host: string, addresses: string[]): Promise<void>;
  clearA(host: string): Promise<void>;
  /** Adds CAA records for `host` (flag 0). */
  addCaa(host: string, policies: CaaPolicy[]): Promise<void>;
  clearCaa(host: string): Promise<void>;
  /** Every query for `host` answers SERVFAIL, overriding other mocks. */
  setServfail(host: string): Promise<void>;
  clearServfail(host: string): Promise<void>;
  /** `host` becomes a CNAME to `target` (the answer then carries target's mocked records). */
  setCname(host: string, target: string): Promise<void>;
  clearCname(host: string): Promise<void>;
  /** DNS queries challtestsrv received for `host`, oldest first. */
  dnsRequestHistory(host: string): Promise<DnsRequestEvent[]>;
  clearDnsRequestHistory(host: string): Promise<void>;
}

/** `x.Test.` / `x.test` -> `x.test.` */
const fqdn = (host: string) => `${bare(host)}.`;
/** `x.Test.` / `x.test` -> `x.test` */
const bare = (host: string) => {
  const name = host.trim().toLowerCase().replace(/\.+$/, '');
  if (!name) throw new Error(`challtestsrv: empty host name ${JSON.stringify(host)}`);
  return name;
};

/** A client for the challtestsrv at `baseUrl` (default: env CHALLTESTSRV_URL, else http://127.0.0.1:8055). */
export function challtestsrvClient(baseUrl?: string): ChalltestsrvClient {
  const base = () => (baseUrl ?? process.env.CHALLTESTSRV_URL ?? 'http://127.0.0.1:8055').replace(/\/+$/, '');

  async function post(path: string, body: Record<string, unknown>): Promise<string> {
    const url = `${base()}${path}`;
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(
        `challtestsrv ${path} ${JSON.stringify(body)} answered ${response.status}: ${text.trim()}`,
      );
    }
    return text;
  }

  const send = async (path: string, body: Record<string, unknown>) => {
    await post(path, body);
  };

  return {
    get url() {
      return base();
    },
    setTxt: (host, value) => send('/set-txt', { host: fqdn(host), value }),
    clearTxt: (host) => send('/clear-txt', { host: fqdn(host) }),
    addA: async (host, addresses) => {
      if (addresses.length === 0) throw new Error('challtestsrv addA: at least one address');
      await send('/add-a', { host: fqdn(host), addresses });
    },
    clearA: (host) => send('/clear-a', { host: fqdn(host) }),
    addCaa: async (host, policies) => {
      if (policies.length === 0) throw new Error('challtestsrv addCaa: at least one policy');
      await send('/add-caa', { host: fqdn(host), policies });
    },
    clearCaa: (host) => send('/clear-caa', { host: fqdn(host) }),
    setServfail: (host) => send('/set-servfail', { host: fqdn(host) }),
    clearServfail: (host) => send('/clear-servfail', { host: fqdn(host) }),
    setCname: (host, target) => send('/set-cname', { host: fqdn(host), target: fqdn(target) }),
    clearCname: (host) => send('/clear-cname', { host: fqdn(host) }),
    async dnsRequestHistory(host) {
      return JSON.parse(await post('/dns-request-history', { host: bare(host) })) as DnsRequestEvent[];
    },
    clearDnsRequestHistory: (host) => send('/clear-request-history', { host: bare(host), type: 'dns' }),
  };
}

/** The testbed's challtestsrv (CHALLTESTSRV_URL, read at each call). */
export const challtestsrv: ChalltestsrvClient = challtestsrvClient();
