import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PemPair {
  certPem: string;
  keyPem: string;
}

/**
 * A self-signed ECDSA P-256 certificate (the fallback a site serves instead of going dark). Made with
 * openssl because Node has no X.509 writer; `dnsNames` become the subjectAltName.
 */
export function createSelfSignedCertificate(options: {
  commonName: string;
  dnsNames?: string[];
  days?: number;
}): PemPair {
  const dir = mkdtempSync(join(tmpdir(), 'gh-selfsigned-'));
  const altNames = options.dnsNames?.length
    ? ['-addext', `subjectAltName=${options.dnsNames.map((name) => `DNS:${name}`).join(',')}`]
    : [];
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        String(options.days ?? 3650),
        '-subj',
        `/CN=${options.commonName}`,
        ...altNames,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      keyPem: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
