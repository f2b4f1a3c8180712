import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDb } from '@gatehouse/db';
import { createTestDatabase, freePort, type TestDatabase } from '@gatehouse/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttp01Probes } from '../src/challenges/http01-probe.ts';
import { createHttp01Responder } from '../src/challenges/http01-responder.ts';
import {
  checkCaa,
  checkHttp01Reachable,
  checkResolves,
  createDnsResolver,
  type DnsResolver,
  runPreflight,
} from '../src/preflight/index.ts';

const challtestsrv = process.env.CHALLTESTSRV_URL ?? 'http://127.0.0.1:8055';
const pebbleIdentity = 'pebble.letsencrypt.org';

/** Calls challtestsrv's management API; every change is undone after the test. */
const undo: Array<() => Promise<void>> = [];
async function manage(path: string, body: unknown): Promise<void> {
  const response = await fetch(new URL(path, challtestsrv), { method: 'POST', body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`challtestsrv ${path} answered ${response.status}`);
}
async function addCaa(host: string, policies: Array<{ tag: string; value: string }>): Promise<void> {
  undo.push(() => manage('/clear-caa', { host }));
  await manage('/add-caa', { host, policies });
}
async function setServfail(host: string): Promise<void> {
  undo.push(() => manage('/clear-servfail', { host }));
  await manage('/set-servfail', { host });
}
/** challtestsrv skips addresses that do not parse, so this leaves `host` with an empty A answer. */
async function removeAddresses(host: string): Promise<void> {
  undo.push(() => manage('/clear-a', { host }));
  await manage('/add-a', { host, addresses: ['none'] });
}

/** A zone no other test uses: challtestsrv answers every name with 127.0.0.1 unless told otherwise. */
function uniqueZone(): string {
  return `pf-${randomBytes(5).toString('hex')}.test`;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}
function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('preflight', () => {
  let database: TestDatabase;
  let responder: Server;
  let responderPort: number;
  const resolver: DnsResolver = createDnsResolver({
    servers: [{ host: '127.0.0.1', port: 8053 }],
    timeoutMs: 2_000,
  });

  // The key every replica derives from the master key (`box.deriveKey`); a random one here.
  const probeKey = randomBytes(32);
  const probes = createHttp01Probes(probeKey);

  async function probeRows(): Promise<number> {
    const rows = await database.db.selectFrom('http01_tokens').select('token').execute();
    return rows.length;
  }

  beforeAll(async () => {
    database = await createTestDatabase('preflight');
    responder = createHttp01Responder(database.db, { probes }).listen(0, '127.0.0.1');
    await new Promise((resolve) => responder.once('listening', resolve));
    responderPort = (responder.address() as AddressInfo).port;
  });
  afterEach(async () => {
    for (const step of undo.splice(0).reverse()) await step();
  });
  afterAll(async () => {
    await close(responder);
    await database.drop();
  });

  it('preflight - a name that resolves passes, and must point here when public IPs are set', async () => {
    const name = `shop.${uniqueZone()}`;
    expect(await checkResolves(name, { resolver })).toEqual({
      name,
      check: 'dns',
      ok: true,
      detail: `${name} resolves to 127.0.0.1`,
    });
    expect((await checkResolves(name, { resolver, expectedAddresses: ['127.0.0.1'] })).ok).toBe(true);
    expect(
      await checkResolves(name, { resolver, expectedAddresses: ['203.0.113.10', '2001:db8::1'] }),
    ).toMatchObject({
      ok: false,
      detail: `${name} resolves to 127.0.0.1, not to this server (203.0.113.10, 2001:db8::1): point its A or AAAA records at this server`,
    });
  });

  it('preflight - a name without addresses or with a broken DNS server fails with what to fix', async () => {
    const empty = `shop.${uniqueZone()}`;
    await removeAddresses(empty);
    expect(await checkResolves(empty, { resolver })).toMatchObject({
      ok: false,
      detail: `${empty} has no A or AAAA record via 127.0.0.1:8053: create an A or AAAA record pointing at this server`,
    });
    const broken = `shop.${uniqueZone()}`;
    await setServfail(broken);
    expect(await checkResolves(broken, { resolver })).toMatchObject({
      ok: false,
      detail: `${broken} could not be resolved (SERVFAIL) via 127.0.0.1:8053: check the name's DNS servers`,
    });
  });

  it('preflight - a wildcard is resolved as a random label under its parent', async () => {
    const zone = uniqueZone();
    const result = await checkResolves(`*.${zone}`, { resolver });
    expect(result.ok).toBe(true);
    expect(result.detail).toMatch(
      new RegExp(`^\\*\\.${zone} \\(checked as gh-[0-9a-f]{10}\\.${zone}\\) resolves`),
    );
  });

  it('preflight - an unresponsive DNS server fails the check instead of hanging', async () => {
    const silent: Socket = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const port = silent.address().port;
      const slow = createDnsResolver({ servers: [{ host: '127.0.0.1', port }], timeoutMs: 300 });
      const result = await checkResolves('shop.test', { resolver: slow });
      expect(result).toMatchObject({ ok: false, check: 'dns' });
      expect(result.detail).toContain(`127.0.0.1:${port} did not answer (timeout)`);
    } finally {
      silent.close();
    }
  });

  it('preflight - CAA naming the CA permits it; naming another CA forbids it with the record to add', async () => {
    const allowed = `shop.${uniqueZone()}`;
    await addCaa(allowed, [
      { tag: 'issue', value: 'Pebble.LetsEncrypt.org; accounturi=https://ca.test/acct/1' },
    ]);
    expect(await checkCaa(allowed, { resolver, caaIdentities: [pebbleIdentity] })).toEqual({
      name: allowed,
      check: 'caa',
      ok: true,
      detail: `CAA at ${allowed} permits ${pebbleIdentity}`,
    });

    const other = `shop.${uniqueZone()}`;
    await addCaa(other, [{ tag: 'issue', value: 'letsencrypt.org' }]);
    expect(await checkCaa(other, { resolver, caaIdentities: [pebbleIdentity] })).toEqual({
      name: other,
      check: 'caa',
      ok: false,
      detail: `CAA at ${other} allows only letsencrypt.org; add \`0 issue "${pebbleIdentity}"\``,
    });

    const none = `shop.${uniqueZone()}`;
    await addCaa(none, [{ tag: 'issue', value: ';' }]);
    expect(await checkCaa(none, { resolver, caaIdentities: [pebbleIdentity] })).toMatchObject({
      ok: false,
      detail: `CAA at ${none} forbids every CA (\`0 issue ";"\`); replace it with \`0 issue "${pebbleIdentity}"\``,
    });
  });

  it('preflight - CAA climbs to the nearest parent with records', async () => {
    const zone = uniqueZone();
    await addCaa(zone, [{ tag: 'issue', value: 'letsencrypt.org' }]);
    expect(await checkCaa(`a.b.${zone}`, { resolver, caaIdentities: [pebbleIdentity] })).toMatchObject({
      ok: false,
      detail: `CAA at ${zone} allows only letsencrypt.org; add \`0 issue "${pebbleIdentity}"\``,
    });
    // A nearer set wins over the parent's.
    await addCaa(`b.${zone}`, [{ tag: 'issue', value: pebbleIdentity }]);
    expect(await checkCaa(`a.b.${zone}`, { resolver, caaIdentities: [pebbleIdentity] })).toMatchObject({
      ok: true,
      detail: `CAA at b.${zone} permits ${pebbleIdentity}`,
    });
    // No CAA anywhere above a fresh zone: any CA may issue.
    const open = uniqueZone();
    expect(await checkCaa(`www.${open}`, { resolver, caaIdentities: [pebbleIdentity] })).toMatchObject({
      ok: true,
      detail: `no CAA records at www.${open} or its parents: any CA may issue`,
    });
  });

  it('preflight - issuewild governs wildcard names, issue the others', async () => {
    const zone = uniqueZone();
    await addCaa(zone, [
      { tag: 'issue', value: pebbleIdentity },
      { tag: 'issuewild', value: 'letsencrypt.org' },
    ]);
    expect(await checkCaa(`*.${zone}`, { resolver, caaIdentities: [pebbleIdentity] })).toMatchObject({
      ok: false,
      detail: `CAA at ${zone} allows only letsencrypt.org for wildcards; add \`0 issuewild "${pebbleIdentity}"\``,
    });
    expect((await checkCaa(zone, { resolver, caaIdentities: [pebbleIdentity] })).ok).toBe(true);
    expect((await checkCaa(`www.${zone}`, { resolver, caaIdentities: [pebbleIdentity] })).ok).toBe(true);

    // Without issuewild, issue governs wildcards too.
    const plain = uniqueZone();
    await addCaa(plain, [{ tag: 'issue', value: pebbleIdentity }]);
    expect((await checkCaa(`*.${plain}`, { resolver, caaIdentities: [pebbleIdentity] })).ok).toBe(true);
  });

  it('preflight - CAA is skipped for a CA without identities and fails on SERVFAIL', async () => {
    const zone = uniqueZone();
    await addCaa(zone, [{ tag: 'issue', value: 'letsencrypt.org' }]);
    expect(await checkCaa(zone, { resolver, caaIdentities: [] })).toMatchObject({
      ok: true,
      detail: 'skipped: the CA publishes no CAA identities, so CAA records cannot be checked against it',
    });

    const broken = `shop.${uniqueZone()}`;
    await setServfail(broken);
    expect(await checkCaa(broken, { resolver, caaIdentities: [pebbleIdentity] })).toMatchObject({
      ok: false,
      detail:
        `CAA lookup for ${broken} failed (SERVFAIL) via 127.0.0.1:8053: CAs refuse to issue when CAA cannot be ` +
        `read; check the DNS servers of ${broken}`,
    });
  });

  it('preflight - the HTTP-01 self-check passes through the responder and stores no probe row', async () => {
    const name = `shop.${uniqueZone()}`;
    const result = await checkHttp01Reachable(name, {
      probes,
      resolver,
      httpPort: responderPort,
      timeoutMs: 5_000,
    });
    expect(result).toEqual({
      name,
      check: 'http-01',
      ok: true,
      detail: `http://${name}:${responderPort}/.well-known/acme-challenge/… served the probe token at 127.0.0.1:${responderPort}`,
    });
    expect(await probeRows()).toBe(0);
  });

  it('preflight - the HTTP-01 self-check fails clearly when nothing listens or something else answers', async () => {
    const name = `shop.${uniqueZone()}`;
    const closedPort = await freePort();
    expect(
      await checkHttp01Reachable(name, { probes, resolver, httpPort: closedPort, timeoutMs: 5_000 }),
    ).toMatchObject({
      ok: false,
      detail:
        `http://${name}:${closedPort}/.well-known/acme-challenge/… could not be reached at 127.0.0.1:${closedPort} ` +
        `(connection refused): is port ${closedPort} open and routed to Gatehouse?`,
    });
    expect(await probeRows()).toBe(0);

    // Another web server on the port: a 404, then a 200 with some other page.
    let status = 404;
    const other = createServer((_request, response) => {
      response.statusCode = status;
      response.end('<html>welcome</html>');
    });
    const otherPort = await listen(other);
    try {
      expect(
        await checkHttp01Reachable(name, {
          probes,
          resolver,
          httpPort: otherPort,
          timeoutMs: 5_000,
        }),
      ).toMatchObject({
        ok: false,
        detail: `http://${name}:${otherPort}/.well-known/acme-challenge/… answered 404 at 127.0.0.1:${otherPort}: is port ${otherPort} routed to Gatehouse?`,
      });
      status = 200;
      const wrongBody = await checkHttp01Reachable(name, {
        probes,
        resolver,
        httpPort: otherPort,
        timeoutMs: 5_000,
      });
      expect(wrongBody.ok).toBe(false);
      expect(wrongBody.detail).toContain('answered 200');
      expect(wrongBody.detail).toContain('route /.well-known/acme-challenge/ to Gatehouse');
    } finally {
      await close(other);
    }
    expect(await probeRows()).toBe(0);
  });

  it('preflight - the HTTP-01 self-check and the address check are skipped for wildcards and DNS-01 orders', async () => {
    const zone = uniqueZone();
    expect(
      await checkHttp01Reachable(`*.${zone}`, { probes, resolver, httpPort: 1, timeoutMs: 1_000 }),
    ).toEqual({
      name: `*.${zone}`,
      check: 'http-01',
      ok: true,
      detail: 'skipped: wildcard names are validated by DNS-01',
    });
    const outcome = await runPreflight([`www.${zone}`], {
      mode: 'enforce',
      challenge: 'dns-01',
      resolver,
      caaIdentities: [pebbleIdentity],
      httpPort: await freePort(),
      probes,
      timeoutMs: 5_000,
    });
    expect(outcome.ok).toBe(true);
    expect(outcome.results.find((result) => result.check === 'http-01')).toMatchObject({
      ok: true,
      detail: 'skipped: the order uses DNS-01',
    });
    expect(outcome.results.find((result) => result.check === 'dns')).toMatchObject({
      ok: true,
      detail: 'skipped: DNS-01 does not need the name to resolve',
    });
  });

  it('preflight - an IP address skips DNS and CAA, is probed at itself, and must be one of PUBLIC_IPS when set', async () => {
    const base = {
      mode: 'enforce' as const,
      challenge: 'http-01' as const,
      resolver,
      caaIdentities: [pebbleIdentity],
      httpPort: responderPort,
      probes,
      timeoutMs: 5_000,
    };
    const here = await runPreflight(['127.0.0.1'], { ...base, expectedAddresses: ['127.0.0.1'] });
    expect(here.ok).toBe(true);
    expect(here.results).toEqual([
      { name: '127.0.0.1', check: 'dns', ok: true, detail: 'skipped: an IP address is not looked up in DNS' },
      { name: '127.0.0.1', check: 'caa', ok: true, detail: 'skipped: CAA does not apply to IP addresses' },
      {
        name: '127.0.0.1',
        check: 'http-01',
        ok: true,
        detail: `http://127.0.0.1:${responderPort}/.well-known/acme-challenge/… served the probe token at 127.0.0.1:${responderPort}`,
      },
    ]);
    const elsewhere = await runPreflight(['127.0.0.1'], { ...base, expectedAddresses: ['203.0.113.10'] });
    expect(elsewhere.blocking).toEqual([
      {
        name: '127.0.0.1',
        check: 'dns',
        ok: false,
        detail: "127.0.0.1 is not one of this server's addresses (203.0.113.10)",
      },
    ]);
    // Nothing answers HTTP-01 at ::1 here (the responder listens on 127.0.0.1 only): the probe says so.
    const v6 = await runPreflight(['::1'], { ...base, expectedAddresses: undefined });
    expect(v6.blocking.map((result) => [result.check, result.detail])).toEqual([
      [
        'http-01',
        expect.stringMatching(
          new RegExp(
            `^http://\\[::1\\]:${responderPort}/.* could not be reached at \\[::1\\]:${responderPort}`,
          ),
        ),
      ],
    ]);
    expect(await probeRows()).toBe(0);
  });

  it('preflight - enforce blocks on a failed check, advisory only reports, off runs nothing', async () => {
    const good = `shop.${uniqueZone()}`;
    const forbidden = `shop.${uniqueZone()}`;
    await addCaa(forbidden, [{ tag: 'issue', value: 'letsencrypt.org' }]);
    const base = {
      challenge: 'http-01' as const,
      resolver,
      caaIdentities: [pebbleIdentity],
      expectedAddresses: ['127.0.0.1'],
      httpPort: responderPort,
      probes,
      timeoutMs: 5_000,
    };

    const passing = await runPreflight([good], { ...base, mode: 'enforce' });
    expect(passing.ok).toBe(true);
    expect(passing.blocking).toEqual([]);
    expect(passing.results.map((result) => [result.name, result.check, result.ok])).toEqual([
      [good, 'dns', true],
      [good, 'caa', true],
      [good, 'http-01', true],
    ]);

    const enforced = await runPreflight([good, forbidden], { ...base, mode: 'enforce' });
    expect(enforced.ok).toBe(false);
    expect(enforced.results).toHaveLength(6);
    expect(enforced.blocking).toEqual([
      {
        name: forbidden,
        check: 'caa',
        ok: false,
        detail: `CAA at ${forbidden} allows only letsencrypt.org; add \`0 issue "${pebbleIdentity}"\``,
      },
    ]);

    const advisory = await runPreflight([good, forbidden], { ...base, mode: 'advisory' });
    expect(advisory.ok).toBe(true);
    expect(advisory.blocking).toEqual(enforced.blocking);
    expect(advisory.results).toHaveLength(6);

    expect(await runPreflight([good, forbidden], { ...base, mode: 'off' })).toEqual({
      ok: true,
      blocking: [],
      results: [],
    });
    expect(await probeRows()).toBe(0);
  });

  it('preflight - a check that hangs is cut off at the bound and leaves no probe row', async () => {
    // Accepts connections and never answers, like a firewall that drops port 80 after the handshake.
    const hanging = createServer(() => {});
    const port = await listen(hanging);
    try {
      const name = `shop.${uniqueZone()}`;
      const outcome = await runPreflight([name], {
        mode: 'enforce',
        challenge: 'http-01',
        resolver,
        caaIdentities: [],
        httpPort: port,
        probes,
        timeoutMs: 500,
      });
      expect(outcome.ok).toBe(false);
      expect(outcome.blocking).toHaveLength(1);
      expect(outcome.blocking[0]).toMatchObject({ name, check: 'http-01', ok: false });
      expect(outcome.blocking[0]?.detail).toMatch(/did not (answer|finish) .*within \d+ ms/);
      expect(await probeRows()).toBe(0);
    } finally {
      await close(hanging);
    }
  });

  it('preflight - a probe is answered by another replica with the same key, without Postgres', async () => {
    // A second responder, as on another replica: the same probe key, its own memory, and a database that is
    // down (every query fails), so an answer can only come from the probe's own tag.
    const down = createDb({ connectionString: `postgres://x:y@127.0.0.1:${await freePort()}/none` });
    const replica = createHttp01Responder(down, { probes: createHttp01Probes(Buffer.from(probeKey)) }).listen(
      0,
      '127.0.0.1',
    );
    await new Promise((resolve) => replica.once('listening', resolve));
    const replicaPort = (replica.address() as AddressInfo).port;
    try {
      const name = `shop.${uniqueZone()}`;
      expect(
        await checkHttp01Reachable(name, { probes, resolver, httpPort: replicaPort, timeoutMs: 5_000 }),
      ).toEqual({
        name,
        check: 'http-01',
        ok: true,
        detail: `http://${name}:${replicaPort}/.well-known/acme-challenge/… served the probe token at 127.0.0.1:${replicaPort}`,
      });
    } finally {
      await close(replica);
      await down.destroy();
    }
  });

  it('preflight - a responder with another key does not answer the probe (404)', async () => {
    const stranger = createHttp01Responder(database.db, {
      probes: createHttp01Probes(randomBytes(32)),
    }).listen(0, '127.0.0.1');
    await new Promise((resolve) => stranger.once('listening', resolve));
    const strangerPort = (stranger.address() as AddressInfo).port;
    try {
      const name = `shop.${uniqueZone()}`;
      expect(
        await checkHttp01Reachable(name, { probes, resolver, httpPort: strangerPort, timeoutMs: 5_000 }),
      ).toMatchObject({
        ok: false,
        detail: `http://${name}:${strangerPort}/.well-known/acme-challenge/… answered 404 at 127.0.0.1:${strangerPort}: is port ${strangerPort} routed to Gatehouse?`,
      });
    } finally {
      await close(stranger);
    }
  });
});
