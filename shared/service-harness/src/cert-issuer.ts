import { randomBytes } from 'node:crypto';
import type { TestDatabase, TestNatsServer, TestPebble } from '@gatehouse/testing';
import { freePort, waitFor } from '@gatehouse/testing';
import { type ServiceProcess, startServiceProcess } from './service-process.ts';

export const masterKey = randomBytes(32).toString('base64');

export interface CertIssuerProcess extends ServiceProcess {
  healthUrl: string;
}

/**
 * Starts a real cert-issuer process against the test's database, NATS and Pebble. Quick retries and
 * a short retry ladder keep failure tests fast; everything else is the production configuration.
 */
export async function startCertIssuer(options: {
  database: TestDatabase;
  nats: TestNatsServer;
  pebbles: TestPebble[];
  /** Port Pebble connects to for HTTP-01; only one replica needs to listen there. */
  http01Port?: number;
  env?: Record<string, string>;
}): Promise<CertIssuerProcess> {
  // A free port is not reserved: another process may take it between freePort() and the child's listen. Such a
  // start fails at once with "already in use"; it is tried again with new ports (a port the caller fixed stays).
  for (let attempt = 1; ; attempt++) {
    const healthPort = await freePort();
    const http01Port = options.http01Port ?? (await freePort());
    const child = startServiceProcess('cert-issuer', {
      DATABASE_URL: options.database.url,
      NATS_URL: options.nats.url,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
      HEALTH_LISTEN: `127.0.0.1:${healthPort}`,
      HTTP01_LISTEN: `127.0.0.1:${http01Port}`,
      GATEHOUSE_MASTER_KEY: masterKey,
      ACME_DIRECTORY_URL: options.pebbles.map((pebble) => pebble.directoryUrl).join(','),
      ACME_EMAIL: 'admin@gatehouse.test',
      ACME_CA_BUNDLE: options.pebbles[0]!.listenerCaPath,
      DNS01_PROVIDER: `challtestsrv:${process.env.CHALLTESTSRV_URL ?? 'http://127.0.0.1:8055'}`,
      DNS_RESOLVERS: '127.0.0.1:8053',
      PREFLIGHT_HTTP_PORT: String(options.pebbles[0]!.httpPort),
      ISSUANCE_QUICK_RETRY: '200ms',
      ISSUANCE_RETRY_LADDER: '1s,2s,3s',
      ISSUANCE_LEASE: '5s',
      ...options.env,
    });
    const healthUrl = `http://127.0.0.1:${healthPort}`;
    let exited = false;
    void child.exited.then(() => {
      exited = true;
    });
    // Ready, or exited (a start that failed ends the wait at once instead of after the timeout).
    const outcome = await waitFor(
      'cert-issuer ready',
      async () =>
        exited
          ? 'exited'
          : (await fetch(`${healthUrl}/readyz`).catch(() => undefined))?.status === 200 && 'ready',
      { timeoutMs: 30_000, intervalMs: 100 },
    ).catch((error: unknown) => error);
    if (outcome === 'ready') return { ...child, healthUrl };
    await child.stop().catch(() => undefined);
    const raced = [healthPort, ...(options.http01Port === undefined ? [http01Port] : [])].some((port) =>
      child.output().includes(`127.0.0.1:${port} is already in use`),
    );
    if (raced && attempt < 3) continue;
    throw new Error(`cert-issuer did not become ready:\n${child.output()}`, { cause: outcome });
  }
}
