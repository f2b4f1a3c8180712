import { randomBytes } from 'node:crypto';
import type { KeyType } from '@gatehouse/events';
import { buildCertificate, type CertificateIssuer, type PemPair } from './build-certificate.ts';

/**
 * The local CA's certificates (issue 15), after Caddy's local CA: a long-lived root that operators install in
 * their trust stores once, a short-lived intermediate that signs (so a leaked signing key is worth little and
 * the root key is opened only to make the next intermediate), and short-lived leaves renewed by the same
 * lifetime rule as ACME certificates (1/2 of the lifetime for certificates under 10 days).
 */
export const localCaLifetimes = {
  rootMs: 3650 * 86_400_000,
  intermediateMs: 30 * 86_400_000,
  leafMs: 7 * 86_400_000,
} as const;

/** Certificates start this far in the past, so a client whose clock lags a little still accepts them. */
const backdateMs = 5 * 60_000;

/** The local CA's root: self-signed, may sign one level of CAs (the intermediates). */
export function createLocalCaRoot(now = new Date()): Promise<PemPair> {
  return buildCertificate({
    commonName: `Gatehouse Local CA Root ${randomBytes(4).toString('hex')}`,
    notBefore: new Date(now.getTime() - backdateMs),
    notAfter: new Date(now.getTime() + localCaLifetimes.rootMs),
    ca: { pathLength: 1 },
  });
}

/**
 * An intermediate signed by `root`, for {@link localCaLifetimes}.intermediateMs but never past the root's own
 * end (a chain is only as valid as its shortest link). May sign leaves only.
 */
export function createLocalCaIntermediate(
  root: CertificateIssuer & { notAfter: Date },
  now = new Date(),
): Promise<PemPair> {
  const end = Math.min(now.getTime() + localCaLifetimes.intermediateMs, root.notAfter.getTime());
  return buildCertificate({
    commonName: `Gatehouse Local CA Intermediate ${now.toISOString().slice(0, 10)} ${randomBytes(3).toString('hex')}`,
    notBefore: new Date(now.getTime() - backdateMs),
    notAfter: new Date(end),
    ca: { pathLength: 0 },
    issuer: root,
  });
}

/**
 * When an intermediate is replaced: after 2/3 of its lifetime, so every leaf it signed (7 days) still ends
 * before it does and a replica that missed a rotation has a third of the lifetime to catch up.
 */
export function intermediateRotateAt(notBefore: Date, notAfter: Date): Date {
  return new Date(notBefore.getTime() + ((notAfter.getTime() - notBefore.getTime()) * 2) / 3);
}

/**
 * A leaf for `names` (host names and IP addresses) signed by the intermediate: `certPem` is the chain a server
 * sends, leaf then intermediate (the root stays in the client's trust store). Never outlives the intermediate.
 */
export async function signLocalCaLeaf(options: {
  names: readonly string[];
  keyType: KeyType;
  intermediate: CertificateIssuer & { notAfter: Date };
  now?: Date;
}): Promise<PemPair> {
  const now = options.now ?? new Date();
  const end = Math.min(now.getTime() + localCaLifetimes.leafMs, options.intermediate.notAfter.getTime());
  const leaf = await buildCertificate({
    commonName: options.names[0]!,
    names: [...options.names],
    notBefore: new Date(now.getTime() - backdateMs),
    notAfter: new Date(end),
    keyType: options.keyType,
    issuer: options.intermediate,
  });
  return { certPem: `${leaf.certPem}${options.intermediate.certPem.trimEnd()}\n`, keyPem: leaf.keyPem };
}
