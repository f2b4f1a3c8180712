/**
 * Which certificates an app file lists (issue 5). Pure: rows in, choices out, clock injected.
 *
 * Per TLS host name, in order:
 * 1. a valid, unexpired custom certificate covering it (exact name before a one-label wildcard), other than
 *    the operator's fallback wildcard;
 * 2. the app's own certificate while it is not expired and not in fallback (valid, renewing, failed…: the
 *    last good certificate keeps being served while renewal retries);
 * 3. once that certificate is in `fallback` or expired: the operator's fallback wildcard if it covers the
 *    name, else the row's own self-signed fallback.
 *
 * Never two listed certificates that Traefik could both pick for one name: Traefik merges every file's
 * certificates into one store and, for an SNI, prefers an exact name over a wildcard but picks arbitrarily
 * between equals. A certificate that would compete for a name another one won is left out, and the names it
 * alone covered fall to their next choice (or to the default certificate).
 */

/** A certificate row linked to the app (app_certificates). */
export interface AppCertificateRow {
  id: string;
  names: string[];
  status: string;
  source: string;
  chainPem: string | null;
  keySealed: string | null;
  notAfter: Date | null;
  fallbackChainPem: string | null;
  fallbackKeySealed: string | null;
}

/** A valid custom certificate (uploaded by an operator), usable by any app whose names it covers. */
export interface CustomCertificateRow {
  id: string;
  names: string[];
  chainPem: string;
  keySealed: string;
  notAfter: Date;
}

/** One certificate to list: which PEM of which row, still sealed (opened only when its file is written). */
export interface CertificateChoice {
  /** `<certificate id>:chain` or `<certificate id>:fallback`; equal keys are the same PEM pair. */
  key: string;
  certificateId: string;
  names: string[];
  certPem: string;
  keySealed: string;
  /** Which sealed column the key came from (decides the secret-box context). */
  keyColumn: 'private_key_encrypted' | 'fallback_key_encrypted';
}

export interface CertificateSelectionInput {
  /** The names the app answers on websecure (tlsHostnames). */
  hostnames: readonly string[];
  appCertificates: readonly AppCertificateRow[];
  customCertificates: readonly CustomCertificateRow[];
  /** The custom certificate named by the `fallback_certificate_id` setting, if set and valid. */
  operatorFallback: CustomCertificateRow | undefined;
  now: Date;
}

/** Statuses in which a certificate's own chain is never served, whatever its not_after says. */
const NOT_SERVED_STATUSES = new Set(['fallback', 'expired']);

export function selectCertificates(input: CertificateSelectionInput): CertificateChoice[] {
  const ranked = new Map<string, CertificateChoice[]>();
  for (const name of input.hostnames) ranked.set(name, rankCandidates(name, input));

  const excluded = new Set<string>();
  for (;;) {
    const winners = new Map<string, CertificateChoice>();
    for (const [name, candidates] of ranked) {
      const winner = candidates.find((candidate) => !excluded.has(candidate.key));
      if (winner) winners.set(name, winner);
    }
    const listed = new Map<string, CertificateChoice>();
    for (const winner of winners.values()) listed.set(winner.key, winner);
    const competing = [...listed.values()].filter((candidate) =>
      [...winners].some(
        ([name, winner]) => winner.key !== candidate.key && competesFor(candidate.names, winner.names, name),
      ),
    );
    if (competing.length === 0) {
      return [...listed.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
    // Every round drops at least one certificate, so this ends; a competitor never wins back a name.
    for (const candidate of competing) excluded.add(candidate.key);
  }
}

function rankCandidates(name: string, input: CertificateSelectionInput): CertificateChoice[] {
  const out: CertificateChoice[] = [];
  // The operator's fallback wildcard is held back for rule 3: as a plain custom certificate it would
  // otherwise displace every working ACME certificate under its domain.
  const custom = input.customCertificates
    .filter(
      (row) =>
        row.id !== input.operatorFallback?.id &&
        row.notAfter > input.now &&
        coverage(row.names, name) !== 'none',
    )
    .sort(
      (a, b) =>
        rankOf(coverage(a.names, name)) - rankOf(coverage(b.names, name)) ||
        b.notAfter.getTime() - a.notAfter.getTime() ||
        (a.id < b.id ? -1 : 1),
    );
  for (const row of custom) out.push(chainChoice(row.id, row.names, row.chainPem, row.keySealed));

  const own = input.appCertificates
    .filter((row) => coverage(row.names, name) !== 'none')
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const row of own) {
    if (row.source === 'custom') continue; // served through rule 1 when valid
    if (isServable(row, input.now)) {
      out.push(chainChoice(row.id, row.names, row.chainPem!, row.keySealed!));
    }
  }
  for (const row of own) {
    if (row.source === 'custom' || isServable(row, input.now)) continue;
    const expired = row.notAfter !== null && row.notAfter <= input.now;
    if (row.status !== 'fallback' && !expired) continue; // pending: nothing to serve yet
    const wildcard = input.operatorFallback;
    if (wildcard && wildcard.notAfter > input.now && coverage(wildcard.names, name) !== 'none') {
      out.push(chainChoice(wildcard.id, wildcard.names, wildcard.chainPem, wildcard.keySealed));
    } else if (row.fallbackChainPem && row.fallbackKeySealed) {
      out.push({
        key: `${row.id}:fallback`,
        certificateId: row.id,
        names: row.names,
        certPem: row.fallbackChainPem,
        keySealed: row.fallbackKeySealed,
        keyColumn: 'fallback_key_encrypted',
      });
    }
  }
  return out;
}

function isServable(row: AppCertificateRow, now: Date): boolean {
  return (
    row.chainPem !== null &&
    row.keySealed !== null &&
    row.notAfter !== null &&
    row.notAfter > now &&
    !NOT_SERVED_STATUSES.has(row.status)
  );
}

function chainChoice(id: string, names: string[], certPem: string, keySealed: string): CertificateChoice {
  return {
    key: `${id}:chain`,
    certificateId: id,
    names,
    certPem,
    keySealed,
    keyColumn: 'private_key_encrypted',
  };
}

type Coverage = 'exact' | 'wildcard' | 'none';

const rankOf = (c: Coverage) => (c === 'exact' ? 0 : c === 'wildcard' ? 1 : 2);

/** How a certificate's names cover `name`: listed as is, through a one-label wildcard, or not at all. */
export function coverage(certificateNames: readonly string[], name: string): Coverage {
  if (certificateNames.includes(name)) return 'exact';
  if (name.startsWith('*.')) return 'none';
  const dot = name.indexOf('.');
  if (dot <= 0) return 'none';
  return certificateNames.includes(`*.${name.slice(dot + 1)}`) ? 'wildcard' : 'none';
}

/**
 * Whether Traefik could pick `other` instead of `winner` for `name`: it covers the name, and not merely
 * through a wildcard where the winner names it exactly (Traefik prefers the exact match).
 */
function competesFor(other: readonly string[], winner: readonly string[], name: string): boolean {
  const theirs = coverage(other, name);
  if (theirs === 'none') return false;
  return !(theirs === 'wildcard' && coverage(winner, name) === 'exact');
}
