import { readFileSync } from 'node:fs';
import { connect, createServer, type PeerCertificate } from 'node:tls';

/**
 * Completes a real TLS handshake for `servername` against a throw-away server built from a certificate and
 * key file (what Traefik would load from the paths its YAML references), trusting only `trustPem`. Proves
 * the files are a usable pair and shows what a client is served. Rejects when the handshake fails.
 */
export async function tlsHandshake(
  files: { certFile: string; keyFile: string },
  servername: string,
  trustPem: string,
): Promise<{ authorized: boolean; peer: PeerCertificate }> {
  const server = createServer(
    { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) },
    (socket) => socket.end(),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername, ca: trustPem }, () => {
        resolve({ authorized: socket.authorized, peer: socket.getPeerCertificate() });
        socket.end();
      });
      socket.on('error', reject);
    });
  } finally {
    server.close();
  }
}
