import type { IssueErrorKind } from './contracts.ts';

/**
 * An issuance error kind in plain words, and what an admin should look at. One source for the notifier's mails,
 * the api's "why no certificate?" hint, the dashboard and the CLI, so they never tell an operator different things.
 */
export interface Explanation {
  what: string;
  check: string[];
}

const explanations: Record<IssueErrorKind, Explanation> = {
  validation: {
    what: 'the CA could not verify that this server controls the names',
    check: [
      'DNS: the names must resolve to this server (A/AAAA records)',
      'port 80 must reach this server from the internet (firewall, port forwarding, another proxy in front)',
      'for DNS-01: the TXT record must be publicly visible',
    ],
  },
  dns: {
    what: 'a DNS lookup failed (no record, SERVFAIL, or no answer in time)',
    check: [
      'DNS: the names and their zone must resolve publicly',
      "for DNS-01: the DNS provider's records must reach the zone's nameservers",
    ],
  },
  policy: {
    what: 'the CA refuses to issue for these names (its policy or blocklist); retrying will not help',
    check: ['the names are public and spelled right', 'CAA records allow this CA'],
  },
  'rate-limited': {
    what: "the CA's rate limit for this account or domain is spent",
    check: [
      'rate limit: wait for the time given below; avoid deleting and re-adding apps, each is a new order',
    ],
  },
  connection: {
    what: 'the CA could not be reached',
    check: ["this server's outbound network and DNS", 'the ACME directory URL (ACME_DIRECTORY_URL)'],
  },
  'ca-server': {
    what: 'the CA answered with a server error',
    check: ["the CA's status page; Gatehouse retries on its own"],
  },
  preflight: {
    what: "Gatehouse's own checks found a problem before asking the CA (no order was placed)",
    check: [
      'DNS: the names must resolve to this server',
      'port 80: /.well-known/acme-challenge/ must reach Gatehouse',
      'CAA records must allow this CA',
    ],
  },
  'dns-provider-auth': {
    what: 'the DNS provider rejected the credentials Gatehouse has for the zone (no order was placed)',
    check: [
      'the DNS provider registered through /v1/dns-providers: key name, algorithm, secret or API token',
    ],
  },
  internal: {
    what: 'Gatehouse failed internally',
    check: ["cert-issuer's logs"],
  },
};

/** The explanation of an error kind; a kind this version does not know (a newer writer) gets a generic one. */
export function explainErrorKind(kind: string): Explanation {
  return (
    (explanations as Record<string, Explanation>)[kind] ?? {
      what: `an error of kind ${kind}`,
      check: ["cert-issuer's logs"],
    }
  );
}
