import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { type CertificateFacts, certificateFacts, splitCertificateChain } from './certificate.ts';
import { normalizeName } from './names.ts';

/** An operator's certificate as uploaded: PEM text of the leaf (optionally followed by its chain), the chain, the key. */
export interface CertificateUpload {
  certificate: string;
  chain?: string | undefined;
  privateKey: string;
}

export interface AcceptedCertificate {
  facts: CertificateFacts;
  /** Leaf then intermediates, each PEM block normalised, ready to serve. */
  chainPem: string;
  keyPem: string;
  keyType: 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';
  /** Things the operator should know that do not make the upload unusable (e.g. expires in 3 days). */
  warnings: string[];
}

export type UploadVerdict =
  | { ok: true; certificate: AcceptedCertificate }
  | { ok: false; errors: UploadError[] };

export interface UploadError {
  /** The body field at fault: `certificate`, `chain` or `privateKey`. */
  field: 'certificate' | 'chain' | 'privateKey';
  message: string;
}

const warnWithinMs = 7 * 86_400_000;

/**
 * Checks an uploaded certificate the way a careful operator would before serving it: every PEM block parses,
 * the key is the leaf's key, each certificate is signed by the next one (chain in order, leaf first), the
 * leaf names DNS names that qualify, and it has not expired (a warning when under 7 days remain). Every
 * problem found is reported, each with what to do about it.
 */
export function validateCertificateUpload(upload: CertificateUpload, now = new Date()): UploadVerdict {
  const errors: UploadError[] = [];
  let certificates: X509Certificate[] = [];
  try {
    certificates = splitCertificateChain(`${upload.certificate}\n${upload.chain ?? ''}`);
  } catch (error) {
    errors.push({
      field: upload.chain && upload.certificate.includes('BEGIN CERTIFICATE') ? 'chain' : 'certificate',
      message: `${(error as Error).message}; paste the PEM text including the BEGIN/END lines`,
    });
  }
  let key: KeyObject | undefined;
  try {
    key = createPrivateKey(upload.privateKey);
  } catch {
    errors.push({
      field: 'privateKey',
      message:
        'is not a PEM private key (expected -----BEGIN PRIVATE KEY----- or an RSA/EC key), or it is encrypted; upload it without a passphrase',
    });
  }
  const [leaf, ...intermediates] = certificates;
  if (!leaf) return { ok: false, errors };

  if (key && !leaf.checkPrivateKey(key)) {
    errors.push({
      field: 'privateKey',
      message: `does not belong to the certificate for ${leaf.subject.replace(/\n/g, ', ')}; upload the key the certificate was issued for`,
    });
  }
  const all = [leaf, ...intermediates];
  for (let index = 0; index + 1 < all.length; index++) {
    const child = all[index]!;
    const parent = all[index + 1]!;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      errors.push({
        field: 'chain',
        message: `certificate ${index + 2} (${oneLine(parent.subject)}) did not sign certificate ${index + 1} (${oneLine(child.subject)}); order the chain leaf first, then each issuer`,
      });
      break; // past the first break, every later pair is off by the same mistake
    }
  }

  const facts = certificateFacts(leaf);
  if (facts.names.length === 0) {
    errors.push({
      field: 'certificate',
      message: 'names no DNS host in its subjectAltName; Traefik serves by SNI, so it could never be chosen',
    });
  }
  for (const name of facts.names) {
    const normalized = normalizeName(name);
    if (!normalized.ok)
      errors.push({
        field: 'certificate',
        message: `names "${name}", which is not a host name: ${normalized.reason}`,
      });
  }
  if (facts.notAfter <= now) {
    errors.push({
      field: 'certificate',
      message: `expired on ${facts.notAfter.toISOString()}; upload a current certificate`,
    });
  } else if (facts.notBefore > now) {
    errors.push({
      field: 'certificate',
      message: `is not valid before ${facts.notBefore.toISOString()}; upload it once it is`,
    });
  }
  const keyType = key ? describeKey(key) : undefined;
  if (key && !keyType) {
    errors.push({
      field: 'privateKey',
      message: 'is neither ECDSA (P-256/P-384) nor RSA (2048–4096 bits), which Traefik can serve',
    });
  }
  if (errors.length > 0 || !key || !keyType) return { ok: false, errors };

  const warnings: string[] = [];
  const left = facts.notAfter.getTime() - now.getTime();
  if (left < warnWithinMs) {
    warnings.push(
      `expires in ${Math.max(1, Math.round(left / 3_600_000))} hours (${facts.notAfter.toISOString()}); Gatehouse never renews an uploaded certificate, upload its successor soon`,
    );
  }
  return {
    ok: true,
    certificate: {
      facts,
      chainPem: `${all.map((certificate) => certificate.toString().trim()).join('\n')}\n`,
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      keyType,
      warnings,
    },
  };
}

function describeKey(key: KeyObject): AcceptedCertificate['keyType'] | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ecdsa-p256';
    if (details?.namedCurve === 'secp384r1') return 'ecdsa-p384';
    return undefined;
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details?.modulusLength;
    if (bits === 2048) return 'rsa-2048';
    if (bits === 3072) return 'rsa-3072';
    if (bits === 4096) return 'rsa-4096';
  }
  return undefined;
}

function oneLine(distinguishedName: string): string {
  return distinguishedName.replace(/\n/g, ', ');
}
