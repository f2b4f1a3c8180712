import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificateChain {
  /** PEM of the leaf for the given names. */
  leaf: string;
  intermediate: string;
  root: string;
  /** PEM of the leaf's private key (PKCS#8, unencrypted). */
  key: string;
}

/**
 * A root → intermediate → leaf chain (ECDSA P-256) made with openssl, the leaf valid for `days` with `names`
 * as its subjectAltName: what an operator uploads as a custom certificate. Needs `openssl` on PATH.
 */
export function makeCertificateChain(
  names: readonly string[],
  options: { days?: number } = {},
): TestCertificateChain {
  const dir = mkdtempSync(join(tmpdir(), 'gh-test-chain-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    run(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'root.key',
      '-out',
      'root.pem',
      '-subj',
      `/CN=${names[0]} root`,
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    run('req', ...ec, '-keyout', 'int.key', '-out', 'int.csr', '-subj', `/CN=${names[0]} intermediate`);
    writeFileSync(
      join(dir, 'int.ext'),
      'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n',
    );
    run(
      'x509',
      '-req',
      '-in',
      'int.csr',
      '-CA',
      'root.pem',
      '-CAkey',
      'root.key',
      '-CAcreateserial',
      '-out',
      'int.pem',
      '-days',
      '30',
      '-extfile',
      'int.ext',
    );
    run('req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${names[0]}`);
    writeFileSync(join(dir, 'leaf.ext'), `subjectAltName=${names.map((name) => `DNS:${name}`).join(',')}\n`);
    run(
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'int.pem',
      '-CAkey',
      'int.key',
      '-CAcreateserial',
      '-out',
      'leaf.pem',
      '-days',
      String(options.days ?? 20),
      '-extfile',
      'leaf.ext',
    );
    const read = (name: string) => readFileSync(join(dir, name), 'utf8');
    return {
      leaf: read('leaf.pem'),
      intermediate: read('int.pem'),
      root: read('root.pem'),
      key: read('leaf.key'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
