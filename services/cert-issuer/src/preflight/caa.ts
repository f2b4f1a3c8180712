import type { PreflightResult } from '@gatehouse/db';
import { assertNever } from '@gatehouse/runtime';
import type { ChallengeType } from '../acme/issuer.ts';
import { type CaaRecord, DnsQueryError, type DnsResolver, describeDnsFailure } from './resolver.ts';

/**
 * Tags a CA is known to understand (RFC 8659, RFC 8657 parameters ride on `issue`, RFC 9495's
 * `issuemail`, CA/B Forum contact tags). A critical property with any other tag forbids issuance.
 */
const knownTags = new Set(['issue', 'issuewild', 'iodef', 'issuemail', 'contactemail', 'contactphone']);
const criticalFlag = 0x80;

/** What the relevant CAA set says about one CA for one name. */
export type CaaDecision =
  | { permitted: true; reason: 'no-property' }
  | { permitted: true; reason: 'listed'; issuer: string }
  | { permitted: false; reason: 'not-listed'; tag: 'issue' | 'issuewild'; allowed: string[] }
  | { permitted: false; reason: 'forbids-all'; tag: 'issue' | 'issuewild' }
  | { permitted: false; reason: 'critical'; record: CaaRecord }
  | { permitted: false; reason: 'method'; issuer: string; methods: string[] };

/**
 * RFC 8659 §4 for one non-empty CAA set: `issuewild` (when present, else `issue`) governs wildcard
 * names, `issue` the others. The CA is permitted when one governing property names one of
 * `caaIdentities` (issuer domain before `;`, trimmed, case-insensitive) and, when the property
 * carries RFC 8657 `validationmethods`, lists `challenge`. An empty issuer domain (`;`) matches no
 * CA. A critical property with an unknown tag forbids issuance outright.
 */
export function evaluateCaa(
  records: readonly CaaRecord[],
  request: { wildcard: boolean; caaIdentities: readonly string[]; challenge?: ChallengeType | undefined },
): CaaDecision {
  const critical = records.find(
    (record) => (record.flags & criticalFlag) !== 0 && !knownTags.has(record.tag),
  );
  if (critical) return { permitted: false, reason: 'critical', record: critical };

  const tag =
    request.wildcard && records.some((record) => record.tag === 'issuewild') ? 'issuewild' : 'issue';
  const governing = records
    .filter((record) => record.tag === tag)
    .map((record) => parseIssueValue(record.value));
  if (governing.length === 0) return { permitted: true, reason: 'no-property' };

  const identities = new Set(request.caaIdentities.map((identity) => identity.trim().toLowerCase()));
  const listed = governing.filter((property) => identities.has(property.issuer));
  const usable = listed.find((property) => {
    const methods = property.parameters.get('validationmethods');
    return (
      methods === undefined ||
      request.challenge === undefined ||
      splitMethods(methods).includes(request.challenge)
    );
  });
  if (usable) return { permitted: true, reason: 'listed', issuer: usable.issuer };
  const restricted = listed[0];
  if (restricted) {
    return {
      permitted: false,
      reason: 'method',
      issuer: restricted.issuer,
      methods: splitMethods(restricted.parameters.get('validationmethods') ?? ''),
    };
  }
  const allowed = [
    ...new Set(governing.map((property) => property.issuer).filter((issuer) => issuer !== '')),
  ];
  if (allowed.length === 0) return { permitted: false, reason: 'forbids-all', tag };
  return { permitted: false, reason: 'not-listed', tag, allowed };
}

/** The domains whose CAA sets apply to `name`, nearest first: the name itself, then each parent. */
export function caaLookupNames(name: string): string[] {
  const labels = name.replace(/^\*\./, '').replace(/\.$/, '').split('.');
  return labels.map((_label, index) => labels.slice(index).join('.'));
}

export interface CaaCheckOptions {
  resolver: DnsResolver;
  /** The CA's `meta.caaIdentities`; empty when it publishes none (Pebble), which skips the check. */
  caaIdentities: readonly string[];
  challenge?: ChallengeType | undefined;
}

/**
 * Finds the relevant CAA set by climbing from `name` (without its `*.`) through its parents until
 * a non-empty set appears, and judges it. No CAA anywhere permits any CA. A lookup that fails
 * (SERVFAIL, timeout) fails the check: CAs (Let's Encrypt among them) refuse to issue then.
 */
export async function checkCaa(name: string, options: CaaCheckOptions): Promise<PreflightResult> {
  const result = (ok: boolean, detail: string): PreflightResult => ({ name, check: 'caa', ok, detail });
  if (options.caaIdentities.length === 0) {
    return result(
      true,
      'skipped: the CA publishes no CAA identities, so CAA records cannot be checked against it',
    );
  }
  const wildcard = name.startsWith('*.');
  for (const domain of caaLookupNames(name)) {
    let records: CaaRecord[];
    try {
      records = await options.resolver.resolveCaa(domain);
    } catch (error) {
      if (!(error instanceof DnsQueryError)) throw error;
      return result(
        false,
        `CAA lookup for ${domain} failed (${describeDnsFailure(error.failure)}) via ${options.resolver.description}: ` +
          `CAs refuse to issue when CAA cannot be read; check the DNS servers of ${domain}`,
      );
    }
    if (records.length === 0) continue;
    const decision = evaluateCaa(records, {
      wildcard,
      caaIdentities: options.caaIdentities,
      challenge: options.challenge,
    });
    return result(decision.permitted, describeDecision(decision, domain, options.caaIdentities[0] ?? ''));
  }
  return result(true, `no CAA records at ${name.replace(/^\*\./, '')} or its parents: any CA may issue`);
}

function describeDecision(decision: CaaDecision, domain: string, identity: string): string {
  switch (decision.reason) {
    case 'no-property':
      return `CAA at ${domain} does not restrict issuers for this name`;
    case 'listed':
      return `CAA at ${domain} permits ${decision.issuer}`;
    case 'not-listed':
      return (
        `CAA at ${domain} allows only ${decision.allowed.join(', ')}${decision.tag === 'issuewild' ? ' for wildcards' : ''}; ` +
        `add \`0 ${decision.tag} "${identity}"\``
      );
    case 'forbids-all':
      return `CAA at ${domain} forbids every CA (\`0 ${decision.tag} ";"\`); replace it with \`0 ${decision.tag} "${identity}"\``;
    case 'critical':
      return (
        `CAA at ${domain} has a critical property no CA understands (\`${decision.record.flags} ${decision.record.tag} ` +
        `"${decision.record.value}"\`): remove it or clear its critical flag`
      );
    case 'method':
      return (
        `CAA at ${domain} allows ${decision.issuer} only with validationmethods=${decision.methods.join(',')}; ` +
        'add this challenge type to it or use one of those'
      );
    default:
      return assertNever(decision);
  }
}

/** `issuer-domain-name; key=value; key=value` (RFC 8659 §4.2); the issuer is '' for `;`. */
function parseIssueValue(value: string): { issuer: string; parameters: Map<string, string> } {
  const [issuer = '', ...rest] = value.split(';');
  const parameters = new Map<string, string>();
  for (const part of rest) {
    const separator = part.indexOf('=');
    if (separator <= 0) continue;
    parameters.set(part.slice(0, separator).trim().toLowerCase(), part.slice(separator + 1).trim());
  }
  return { issuer: issuer.trim().toLowerCase(), parameters };
}

function splitMethods(value: string): string[] {
  return value
    .split(',')
    .map((method) => method.trim().toLowerCase())
    .filter((method) => method !== '');
}
