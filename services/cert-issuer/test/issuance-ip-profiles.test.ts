import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { checkServerIdentity, connect, createServer, type PeerCertificate } from 'node:tls';
import { createSecretBox, splitCertificateChain } from '@gatehouse/pki';
import {
  announceRenewalDue,
  attemptsOf,
  type CertIssuerProcess,
  certificateRow,
  emittedEvents,
  masterKey,
  requestCertificate,
  startCertIssuer,
  verifyChain,
} from '@gatehouse/service-harness';
import {
  type AriProxy,
  createTestDatabase,
  freePort,
  startAriProxy,
  startNatsServer,
  startPebble,
  type TestDatabase,
  type TestNatsServer,
  type TestPebble,
  waitFor,
} from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const suffix = Math.random().toString(36).slice(2, 8);
const name = (label: string) => `${label}-${suffix}.test`;

// Pebble 2.4.0 (Debian's package) validates and issues for `ip` identifiers (RFC 8738) over HTTP-01, but has no
// profiles: the proxy in front of it advertises Let's Encrypt's `meta.profiles` and records each newOrder's
// `profile`. So these tests prove which profile cert-issuer asks for and that IP certificates are really issued and
// served, not that a CA shapes a certificate by profile.
const letsEncryptProfiles = {
  classic: 'The same profile you are accustomed to',
  tlsserver: 'https://letsencrypt.org/2025/01/09/acme-profiles/',
  shortlived: 'https://letsencrypt.org/2025/01/16/6-day-and-ip-certs/',
};

/** A real TLS handshake to `host` (an IP address: no SNI), served the issued chain and key, trusting only `rootPem`. */
async function handshakeTo(host: string, chainPem: string, keyPem: string, rootPem: string) {
  const server = createServer({ cert: chainPem, key: keyPem }, (socket) => socket.end());
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<{ authorized: boolean; peer: PeerCertificate }>((resolve, reject) => {
      // No servername: Node checks the certificate against the IP address itself (iPAddress SANs).
      const socket = connect({ host, port, ca: rootPem }, () => {
        resolve({ authorized: socket.authorized, peer: socket.getPeerCertificate() });
        socket.end();
      });
      socket.on('error', reject);
    });
  } finally {
    server.close();
  }
}

describe('issuance - IP certificates and a profile per domain', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let proxy: AriProxy;
  let issuer: CertIssuerProcess;

  beforeAll(async () => {
    const http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase('ip_profiles'),
      startNatsServer(),
      startPebble({ httpPort: http01Port }),
    ]);
    proxy = await startAriProxy(pebble);
    proxy.profiles = letsEncryptProfiles;
    issuer = await startCertIssuer({
      database,
      nats,
      pebbles: [pebble],
      http01Port,
      // `[::]` takes IPv4 too (dual stack), so the CA reaches the responder at 127.0.0.1 and at ::1.
      env: {
        ACME_DIRECTORY_URL: proxy.directoryUrl,
        ACME_PROFILE: 'tlsserver',
        HTTP01_LISTEN: `[::]:${http01Port}`,
      },
    });
  });
  afterAll(async () => {
    await issuer?.stop();
    await proxy?.close();
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
  });

  async function waitForNewSerial(id: string, previous: string | null) {
    return waitFor(
      `certificate ${id} issued with a serial other than ${previous}`,
      async () => {
        const row = await certificateRow(database.db, id);
        return row.status === 'valid' && row.serial !== previous && row;
      },
      { timeoutMs: 45_000, intervalMs: 100 },
    ).catch(async (error) => {
      const row = await certificateRow(database.db, id);
      throw new Error(
        `status ${row.status}, last error ${row.last_error_kind}: ${row.last_error_message}\n${issuer.output().slice(-3000)}`,
        { cause: error },
      );
    });
  }

  function ordersFor(first: string) {
    return proxy.newOrders.filter((order) =>
      order.identifiers.some((identifier) => identifier.value === first),
    );
  }

  it('profiles - a domain’s profile overrides ACME_PROFILE, is stored and emitted, and a renewal keeps it', async () => {
    const names = [name('classic')];
    const id = await requestCertificate(database.db, names, { challenge: 'http-01', profile: 'classic' });
    const first = await waitForNewSerial(id, null);
    expect(first.profile).toBe('classic');
    const issued = (await emittedEvents(database.db, 'certs.issued')).filter(
      (event) => event.data.certificateId === id,
    );
    expect(issued.map((event) => event.data.profile)).toEqual(['classic']);

    // What renewal-scheduler does when a certificate is due: renew-at now, then `certs.renewal-due`.
    await announceRenewalDue(
      database.db,
      { id, names },
      { reason: 'lifetime', set: { renew_at: new Date() } },
    );
    const renewed = await waitForNewSerial(id, first.serial);
    expect(renewed.profile).toBe('classic');
    expect(ordersFor(names[0]!).map((order) => order.profile)).toEqual(['classic', 'classic']);
    const jobs = await database.db
      .selectFrom('issuance_jobs')
      .select(['reason', 'profile'])
      .where('certificate_id', '=', id)
      .orderBy('created_at')
      .execute();
    expect(jobs).toEqual([
      { reason: 'new', profile: 'classic' },
      { reason: 'renewal', profile: 'classic' },
    ]);
  });

  it('profiles - without a domain profile an order carries ACME_PROFILE', async () => {
    const names = [name('default')];
    const id = await requestCertificate(database.db, names, { challenge: 'http-01' });
    expect((await waitForNewSerial(id, null)).profile).toBe('tlsserver');
    expect(ordersFor(names[0]!).map((order) => order.profile)).toEqual(['tlsserver']);
  });

  it('ip - 127.0.0.1 and ::1 by HTTP-01 as `ip` identifiers under shortlived; a TLS handshake to each verifies its IP SAN', async () => {
    // Both forms name the same addresses as the normalized ones: the api sends canonical names (normalizeName).
    const names = ['127.0.0.1', '::1'];
    const id = await requestCertificate(database.db, names, { challenge: 'auto' });
    const row = await waitForNewSerial(id, null);

    const orders = ordersFor('127.0.0.1');
    expect(orders).toHaveLength(1);
    expect(orders[0]!.identifiers).toEqual([
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
    ]);
    expect(orders[0]!.profile).toBe('shortlived');
    expect(row.profile).toBe('shortlived');
    // DNS and CAA do not apply to an address; the HTTP-01 path was probed at the address itself.
    expect(row.preflight?.map((result) => `${result.name} ${result.check} ${result.ok}`)).toEqual([
      '127.0.0.1 dns true',
      '127.0.0.1 caa true',
      '127.0.0.1 http-01 true',
      '::1 dns true',
      '::1 caa true',
      '::1 http-01 true',
    ]);
    expect((await attemptsOf(database.db, id)).map((attempt) => attempt.challenge_type)).toEqual(['http-01']);

    const rootPem = await pebble.rootPem();
    expect(verifyChain(row.chain_pem!, rootPem)).toEqual({ ok: true });
    const leaf = splitCertificateChain(row.chain_pem!)[0]!;
    expect(leaf.subjectAltName?.split(', ').sort()).toEqual([
      'IP Address:0:0:0:0:0:0:0:1',
      'IP Address:127.0.0.1',
    ]);
    expect(new X509Certificate(leaf.raw).checkIP('127.0.0.1')).toBe('127.0.0.1');

    const keyPem = createSecretBox(Buffer.from(masterKey, 'base64')).openText(
      row.private_key_encrypted!,
      `certificate:${id}`,
    );
    for (const host of ['127.0.0.1', '::1']) {
      const { authorized, peer } = await handshakeTo(host, row.chain_pem!, keyPem, rootPem);
      expect(authorized, host).toBe(true);
      expect(peer.serialNumber.toLowerCase()).toBe(leaf.serialNumber.toLowerCase());
      expect(checkServerIdentity(host, peer), host).toBeUndefined();
    }
    // The check is real: an address the certificate does not name is refused.
    const { peer } = await handshakeTo('127.0.0.1', row.chain_pem!, keyPem, rootPem);
    expect(checkServerIdentity('127.0.0.2', peer)?.message).toMatch(
      /IP: 127\.0\.0\.2 is not in the cert's list/,
    );
  });

  it('ip - an IP address asked for with DNS-01 fails as policy, without an order', async () => {
    const id = await requestCertificate(database.db, ['127.0.0.1'], { challenge: 'dns-01' });
    const row = await waitFor(
      'certificate failed',
      async () => {
        const current = await certificateRow(database.db, id);
        return current.status === 'failed' && current;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(row.last_error_kind).toBe('policy');
    expect(row.last_error_message).toMatch(/only be validated by HTTP-01/);
  });
});
