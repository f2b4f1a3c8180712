import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSecretBox, dnsProviderSecretContext, splitCertificateChain } from '@gatehouse/pki';
import {
  attemptsOf,
  type CertIssuerProcess,
  certificateRow,
  masterKey,
  requestCertificate,
  startCertIssuer,
  verifyChain,
} from '@gatehouse/service-harness';
import {
  createTestDatabase,
  freePort,
  startNatsServer,
  startPebble,
  type TestDatabase,
  type TestNatsServer,
  type TestPebble,
  waitFor,
} from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// DNS-01 end to end against the testbed's BIND (TESTBED.md): Pebble resolves through BIND, so the CA
// validates against the real authoritative server; cert-issuer writes by RFC 2136 and checks propagation
// on the zone's nameservers (NS ns.example.test → 127.0.0.1, asked on BIND's port). The zones hold what
// these tests need: `_acme-challenge.alias.example.test` CNAME → `_acme-challenge.alias.delegated.test`,
// and lagging.test, whose only nameserver (127.0.0.2) never answers.
const BIND = process.env.BIND_SERVER ?? '127.0.0.1:5353';
const BIND_PORT = BIND.split(':')[1]!;
const TSIG_NAME = process.env.BIND_TSIG_NAME ?? 'acme-key';
const TSIG_SECRET = process.env.BIND_TSIG_SECRET ?? '';
const box = createSecretBox(Buffer.from(masterKey, 'base64'));

/** The TXT values at `name` as BIND serves them. */
async function dig(name: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('dig', [
    '@127.0.0.1',
    '-p',
    BIND_PORT,
    '+short',
    '+norecurse',
    'TXT',
    name,
  ]);
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

/** DNS_EXEC_DIR of the cert-issuer under test: exec providers' programs must live here. */
const execDir = mkdtempSync(join(tmpdir(), 'dns-exec-'));

describe('DNS-01 providers', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let issuer: CertIssuerProcess;
  beforeAll(async () => {
    [database, nats, pebble] = await Promise.all([
      createTestDatabase('dns01_providers'),
      startNatsServer(),
      startPebble({ httpPort: await freePort(), dnsServer: BIND }),
    ]);
    issuer = await startCertIssuer({
      database,
      nats,
      pebbles: [pebble],
      env: {
        // No test DNS: only the providers registered below can write records.
        DNS01_PROVIDER: '',
        DNS_RESOLVERS: BIND,
        DNS01_NAMESERVER_PORT: BIND_PORT,
        DNS01_PROPAGATION_TIMEOUT: '3s',
        DNS01_PROPAGATION_INTERVAL: '200ms',
        ISSUANCE_RETRY_LADDER: '1h',
        DNS_EXEC_DIR: execDir,
      },
    });
  });
  afterAll(async () => {
    rmSync(execDir, { recursive: true, force: true });
    await issuer?.stop();
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
  });

  /** Registers an RFC 2136 provider the way the api stores it: the secret sealed apart from the config. */
  async function registerProvider(zone: string, secret = TSIG_SECRET): Promise<string> {
    const id = randomUUID();
    await database.db.deleteFrom('dns_providers').where('zone', '=', zone).execute();
    await database.db
      .insertInto('dns_providers')
      .values({
        id,
        zone,
        kind: 'rfc2136',
        config: JSON.stringify({ server: BIND, keyName: TSIG_NAME, keyAlgorithm: 'hmac-sha256' }),
        secret_encrypted: box.seal(secret, dnsProviderSecretContext(id)),
      })
      .execute();
    return id;
  }

  async function clearProviders(): Promise<void> {
    await database.db.deleteFrom('dns_providers').execute();
    // The registry trusts its list for 5 s; wait it out so the next test sees only its own providers.
    await new Promise((resolve) => setTimeout(resolve, 5_200));
  }

  async function waitForOutcome(id: string) {
    return waitFor(
      `certificate ${id} settled`,
      async () => {
        const row = await certificateRow(database.db, id);
        return (row.status === 'valid' || row.last_error_kind !== null) && row;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    ).catch((error) => {
      throw new Error(issuer.output().slice(-3000), { cause: error });
    });
  }

  it('*.example.test + example.test: TXT records written by RFC 2136, certificate issued, records gone afterwards', async () => {
    await registerProvider('example.test');
    const id = await requestCertificate(database.db, ['*.example.test', 'example.test']);
    const row = await waitForOutcome(id);
    expect(row.last_error_message).toBeNull();
    expect(row.status).toBe('valid');
    expect(verifyChain(row.chain_pem!, await pebble.rootPem())).toEqual({ ok: true });
    const san = splitCertificateChain(row.chain_pem!)[0]!.subjectAltName;
    expect(san).toContain('DNS:*.example.test');
    expect(san).toContain('DNS:example.test');
    const attempts = await attemptsOf(database.db, id);
    expect(attempts.at(-1)).toMatchObject({ outcome: 'success', challenge_type: 'dns-01' });
    expect(await dig('_acme-challenge.example.test')).toEqual([]);
  });

  it('_acme-challenge.alias.example.test CNAME to delegated.test: the TXT lands there and issuance succeeds', async () => {
    await clearProviders();
    // Only delegated.test can be written: success proves the record went where the CNAME points.
    await registerProvider('delegated.test');
    const id = await requestCertificate(database.db, ['alias.example.test'], { challenge: 'dns-01' });
    const row = await waitForOutcome(id);
    expect(row.last_error_message).toBeNull();
    expect(row.status).toBe('valid');
    expect(issuer.output()).toContain('_acme-challenge.alias.delegated.test');
    expect(await dig('_acme-challenge.alias.delegated.test')).toEqual([]);
  });

  it('auto: HTTP-01 cannot work here (nothing answers on port 80), so DNS-01 through the zone’s provider gets the certificate', async () => {
    await clearProviders();
    await registerProvider('example.test');
    const id = await requestCertificate(database.db, ['auto.example.test'], { challenge: 'auto' });
    const row = await waitForOutcome(id);
    expect(row.last_error_message).toBeNull();
    expect(row.status).toBe('valid');
    const attempts = await attemptsOf(database.db, id);
    expect(attempts.map((attempt) => [attempt.challenge_type, attempt.outcome, attempt.error_kind])).toEqual([
      ['http-01', 'failure', 'preflight'],
      ['dns-01', 'success', null],
    ]);
  });

  it('a wrong TSIG secret: failure kind dns-provider-auth with a clear message, and no CA order placed', async () => {
    await clearProviders();
    await registerProvider('example.test', Buffer.alloc(32, 7).toString('base64'));
    const id = await requestCertificate(database.db, ['*.example.test', 'example.test']);
    const row = await waitForOutcome(id);
    expect(row.status).not.toBe('valid');
    expect(row.last_error_kind).toBe('dns-provider-auth');
    expect(row.last_error_message).toMatch(
      /rejected the TSIG key acme-key.*check keyName, keyAlgorithm and keySecret/,
    );
    expect(row.last_error_message).not.toContain(TSIG_SECRET);
    const orders = await database.db
      .selectFrom('orders')
      .select('id')
      .where('certificate_id', '=', id)
      .execute();
    expect(orders).toEqual([]);
    const attempts = await attemptsOf(database.db, id);
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.every((attempt) => attempt.error_kind === 'dns-provider-auth')).toBe(true);
  });

  it('an exec provider (the operator’s script, here nsupdate) writes and removes the records, and issuance succeeds', async () => {
    await clearProviders();
    const dir = execDir;
    const log = join(dir, 'calls.log');
    const command = join(dir, 'dns-hook.sh');
    // lego's exec contract: `<script> present|cleanup <fqdn.> <value>`.
    writeFileSync(
      command,
      `#!/bin/sh
echo "$1 $2" >> ${log}
case $1 in
  present) op="update add $2 60 TXT "$3"" ;;
  cleanup) op="update delete $2 TXT "$3"" ;;
esac
printf 'server 127.0.0.1 ${BIND_PORT}\n%s\nsend\n' "$op" | nsupdate -k ${process.env.BIND_TSIG_FILE}
`,
    );
    chmodSync(command, 0o755);
    try {
      const id = randomUUID();
      await database.db
        .insertInto('dns_providers')
        .values({ id, zone: 'delegated.test', kind: 'exec', config: JSON.stringify({ command }) })
        .execute();
      const cert = await requestCertificate(database.db, ['hook.delegated.test'], { challenge: 'dns-01' });
      const row = await waitForOutcome(cert);
      expect(row.last_error_message).toBeNull();
      expect(row.status).toBe('valid');
      expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
        'present _acme-challenge.hook.delegated.test.',
        'cleanup _acme-challenge.hook.delegated.test.',
      ]);
      expect(await dig('_acme-challenge.hook.delegated.test')).toEqual([]);
    } finally {
      rmSync(log, { force: true });
    }
  });

  it('an exec provider whose program lies outside DNS_EXEC_DIR is refused: nothing runs, no order, a clear error', async () => {
    await clearProviders();
    const outside = mkdtempSync(join(tmpdir(), 'dns-exec-outside-'));
    const marker = join(outside, 'ran');
    const command = join(outside, 'hook.sh');
    writeFileSync(command, `#!/bin/sh\ntouch ${marker}\n`);
    chmodSync(command, 0o755);
    try {
      await database.db
        .insertInto('dns_providers')
        .values({
          id: randomUUID(),
          zone: 'delegated.test',
          kind: 'exec',
          config: JSON.stringify({ command }),
        })
        .execute();
      const id = await requestCertificate(database.db, ['outside.delegated.test'], { challenge: 'dns-01' });
      const row = await waitForOutcome(id);
      expect(row.status).not.toBe('valid');
      expect(row.last_error_message).toContain(`must be a program inside ${execDir} (DNS_EXEC_DIR)`);
      expect(() => readFileSync(marker)).toThrow();
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('a webhook provider pointing at loopback is refused without DNS_WEBHOOK_ALLOW: the handler is never called', async () => {
    await clearProviders();
    const { createServer } = await import('node:http');
    let called = 0;
    const server = createServer((_req, res) => {
      called++;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      await database.db
        .insertInto('dns_providers')
        .values({
          id: randomUUID(),
          zone: 'delegated.test',
          kind: 'webhook',
          config: JSON.stringify({ url: `http://127.0.0.1:${port}/dns` }),
        })
        .execute();
      const id = await requestCertificate(database.db, ['hooked.delegated.test'], { challenge: 'dns-01' });
      const row = await waitForOutcome(id);
      expect(row.status).not.toBe('valid');
      expect(row.last_error_message).toContain('points at a loopback address');
      expect(called).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a propagation timeout: a clear failure, and the record written is removed again', async () => {
    await clearProviders();
    await registerProvider('lagging.test');
    const id = await requestCertificate(database.db, ['app.lagging.test'], { challenge: 'dns-01' });
    const row = await waitForOutcome(id);
    expect(row.status).not.toBe('valid');
    expect(row.last_error_kind).toBe('dns');
    expect(row.last_error_message).toMatch(
      /_acme-challenge\.app\.lagging\.test did not appear on the authoritative nameservers of lagging\.test within 3 s \(not visible on 127\.0\.0\.2:\d+\)/,
    );
    expect(await dig('_acme-challenge.app.lagging.test')).toEqual([]);
  });
});
