import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRfc2136Provider,
  DnsProviderError,
  type Rfc2136Provider,
  type Rfc2136ProviderOptions,
} from '../src/challenges/rfc2136/index.ts';
import { decodeMessage, encodeTxtUpdate } from '../src/challenges/rfc2136/message.ts';
import { exchange } from '../src/challenges/rfc2136/transport.ts';
import { signMessage, verifyResponse } from '../src/challenges/rfc2136/tsig.ts';

// Against the testbed's BIND (TESTBED.md): zones example.test and delegated.test, key acme-key (hmac-sha256)
// allowed `zonesub TXT`. A second, private named with an hmac-sha512 key is started below.
const [bindHost = '127.0.0.1', bindPort = '5353'] = (process.env.BIND_SERVER ?? '127.0.0.1:5353').split(':');
const BIND = { host: bindHost, port: Number(bindPort) };
const KEY_NAME = process.env.BIND_TSIG_NAME ?? 'acme-key';
const KEY_SECRET = process.env.BIND_TSIG_SECRET ?? '';
const RUN = `r${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

function provider(overrides: Partial<Rfc2136ProviderOptions> = {}): Rfc2136Provider {
  return createRfc2136Provider({
    server: BIND,
    keyName: KEY_NAME,
    keyAlgorithm: 'hmac-sha256',
    keySecret: KEY_SECRET,
    timeoutMs: 2000,
    ...overrides,
  });
}

/** Every value presented, so afterAll can remove what a failed test left behind. */
const written: { provider: Rfc2136Provider; fqdn: string; value: string }[] = [];
async function present(p: Rfc2136Provider, fqdn: string, value: string): Promise<void> {
  written.push({ provider: p, fqdn, value });
  await p.present(fqdn, value);
}

/** The TXT values at `name` as `dig` sees them on the server (character-strings joined). */
async function dig(name: string, server = BIND): Promise<string[]> {
  const { stdout } = await promisify(execFile)('dig', [
    `@${server.host}`,
    '-p',
    String(server.port),
    '+short',
    '+norecurse',
    '+tcp',
    'TXT',
    name,
  ]);
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]).join(''))
    .sort();
}

async function rejection(promise: Promise<unknown>): Promise<DnsProviderError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DnsProviderError);
  return error as DnsProviderError;
}

type UdpAction = 'forward' | 'drop' | 'truncate' | 'tamper';

interface Proxy {
  port: number;
  udpPackets: number;
  tcpConnections: number;
  close(): Promise<void>;
}

/**
 * A UDP and TCP relay in front of BIND on one port. `onUdp` decides per datagram whether to forward it,
 * drop it, answer it with TC set (no records) or forward it and flip a byte of BIND's answer. TCP is
 * always relayed untouched.
 */
/**
 * A UDP+TCP proxy in front of BIND on one port number. The UDP port is picked by the kernel and the TCP
 * listener takes the same number; under a parallel test run another process may hold that TCP port, so a
 * clash starts over on a new pair instead of failing.
 */
async function startProxy(onUdp: (index: number) => UdpAction): Promise<Proxy> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startProxyOnce(onUdp);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw error;
    }
  }
}

async function startProxyOnce(onUdp: (index: number) => UdpAction): Promise<Proxy> {
  const udp: UdpSocket = createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const port = udp.address().port;
  const proxy: Proxy = { port, udpPackets: 0, tcpConnections: 0, close: async () => {} };
  udp.on('message', (packet, client) => {
    const action = onUdp(proxy.udpPackets++);
    if (action === 'drop') return;
    if (action === 'truncate') {
      const answer = Buffer.alloc(12);
      packet.copy(answer, 0, 0, 2);
      answer.writeUInt16BE(0x8000 | (packet.readUInt16BE(2) & 0x7800) | 0x0200, 2);
      udp.send(answer, client.port, client.address);
      return;
    }
    const upstream = createSocket('udp4');
    upstream.on('message', (answer) => {
      upstream.close();
      if (action === 'tamper') answer[answer.length - 20] = answer[answer.length - 20]! ^ 0xff;
      udp.send(answer, client.port, client.address);
    });
    upstream.send(packet, BIND.port, BIND.host);
  });
  const tcp: Server = createServer((socket) => {
    proxy.tcpConnections++;
    const upstream = tcpConnect(BIND.port, BIND.host);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, '127.0.0.1', () => {
        tcp.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    udp.close();
    throw error;
  }
  proxy.close = async () => {
    udp.close();
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  };
  return proxy;
}

describe('rfc2136', () => {
  afterAll(async () => {
    await Promise.allSettled(written.map(({ provider: p, fqdn, value }) => p.cleanup(fqdn, value)));
  });

  it('rfc2136 - present writes a TXT record that dig sees, cleanup removes it', async () => {
    const p = provider();
    const fqdn = `_acme-challenge.one-${RUN}.example.test`;
    const value = 'Xw5zX0Q9mzRzq1nQk3Gv3lVYb5Q4K9uYxA0pW1sL2d8';
    await present(p, fqdn, value);
    expect(await dig(fqdn)).toEqual([value]);
    await p.present(fqdn, value); // again: a no-op, not a duplicate
    expect(await dig(fqdn)).toEqual([value]);
    await p.cleanup(fqdn, value);
    expect(await dig(fqdn)).toEqual([]);
    await p.cleanup(fqdn, value); // already gone: still succeeds
  });

  it('rfc2136 - two values on one name: cleanup removes only its own', async () => {
    const p = provider();
    const fqdn = `_acme-challenge.two-${RUN}.example.test`;
    await present(p, fqdn, 'value-for-wildcard');
    await present(p, fqdn, 'value-for-base-name');
    expect(await dig(fqdn)).toEqual(['value-for-base-name', 'value-for-wildcard']);
    await p.cleanup(fqdn, 'value-for-wildcard');
    expect(await dig(fqdn)).toEqual(['value-for-base-name']);
    await p.cleanup(fqdn, 'value-for-base-name');
    expect(await dig(fqdn)).toEqual([]);
  });

  it('rfc2136 - zone discovery by SOA finds example.test, delegated.test, and no zone outside them', async () => {
    const p = provider();
    expect(await p.findZone('_acme-challenge.a.b.example.test')).toBe('example.test');
    expect(await p.findZone('_acme-challenge.example.test')).toBe('example.test');
    expect(await p.findZone('_acme-challenge.x.delegated.test')).toBe('delegated.test');
    expect(await p.findZone('delegated.test')).toBe('delegated.test');
    const fqdn = `_acme-challenge.deep.${RUN}.delegated.test`;
    await present(p, fqdn, 'in-delegated');
    expect(await dig(fqdn)).toEqual(['in-delegated']);
    await p.cleanup(fqdn, 'in-delegated');
    expect(await dig(fqdn)).toEqual([]);
    const outside = await rejection(p.findZone('_acme-challenge.elsewhere.invalid'));
    expect(outside.code).toBe('refused');
    expect(outside.message).toMatch(/serves no zone that contains _acme-challenge\.elsewhere\.invalid/);
  });

  it('rfc2136 - a wrong secret is an auth error that names the key, and nothing is written', async () => {
    const fqdn = `_acme-challenge.wrong-${RUN}.example.test`;
    const wrongSecret = randomBytes(32).toString('base64');
    for (const p of [
      provider({ keySecret: wrongSecret, zone: 'example.test' }),
      provider({ keySecret: wrongSecret }),
    ]) {
      const error = await rejection(p.present(fqdn, 'should-not-appear'));
      expect(error.code).toBe('auth');
      expect(error.retryable).toBe(false);
      expect(error.message).toBe(
        `DNS server at 127.0.0.1:${BIND.port} rejected the TSIG key ${KEY_NAME} (BADSIG): check keyName, keyAlgorithm and keySecret`,
      );
    }
    const unknownKey = await rejection(
      provider({ keyName: 'no-such-key', zone: 'example.test' }).present(fqdn, 'x'),
    );
    expect(unknownKey.code).toBe('auth');
    expect(unknownKey.message).toMatch(/rejected the TSIG key no-such-key \(BADKEY\)/);
    // BIND's acme-key is hmac-sha256: the same secret under hmac-sha512 is another (unknown) key.
    const wrongAlgorithm = await rejection(
      provider({ keyAlgorithm: 'hmac-sha512', zone: 'example.test' }).present(fqdn, 'x'),
    );
    expect(wrongAlgorithm.message).toMatch(/\(BADKEY\)/);
    expect(await dig(fqdn)).toEqual([]);
  });

  it('rfc2136 - a zone the server does not serve, and a name outside the configured zone, are refused clearly', async () => {
    const notServed = await rejection(
      provider({ zone: 'not-here.test' }).present('_acme-challenge.not-here.test', 'x'),
    );
    expect(notServed.code).toBe('auth');
    expect(notServed.message).toMatch(
      /accepted the TSIG key acme-key but is not authoritative for zone not-here\.test/,
    );
    const notInZone = await rejection(
      provider({ zone: 'example.test' }).present('_acme-challenge.delegated.test', 'x'),
    );
    expect(notInZone.code).toBe('refused');
    expect(notInZone.message).toMatch(/is not in zone example\.test \(NOTZONE\)/);
  });

  it("rfc2136 - BIND's answer carries a TSIG that verifies, and fails with one byte altered", async () => {
    const key = {
      name: KEY_NAME,
      algorithm: 'hmac-sha256' as const,
      secret: Buffer.from(KEY_SECRET, 'base64'),
    };
    const fqdn = `_acme-challenge.raw-${RUN}.example.test`;
    const update = encodeTxtUpdate({
      id: 0x5151,
      zone: 'example.test',
      name: fqdn,
      value: 'raw',
      action: 'delete',
      ttl: 0,
    });
    const signed = signMessage(update, key);
    const raw = await exchange(BIND, signed.message, { timeoutMs: 2000 });
    const answer = decodeMessage(raw);
    expect(answer.rcode).toBe(0);
    expect(answer.tsig?.mac.length).toBe(32);
    expect(verifyResponse(raw, answer, key, signed.mac)).toEqual({ ok: true });
    for (const offset of [2, 3, 14, raw.length - 8]) {
      const tampered = Buffer.from(raw);
      tampered[offset] = tampered[offset]! ^ 0x04;
      expect(
        verifyResponse(tampered, decodeMessage(tampered), key, signed.mac),
        `byte ${offset}`,
      ).toMatchObject({
        ok: false,
      });
    }
    // Verified against another request's MAC: an answer cannot be replayed onto a new request.
    expect(verifyResponse(raw, answer, key, Buffer.alloc(32))).toEqual({ ok: false, reason: 'bad-mac' });
  });

  it('rfc2136 - an answer altered on the way is rejected as a protocol error', async () => {
    const proxy = await startProxy(() => 'tamper');
    try {
      const p = provider({ server: { host: '127.0.0.1', port: proxy.port }, zone: 'example.test' });
      const fqdn = `_acme-challenge.tamper-${RUN}.example.test`;
      written.push({ provider: provider(), fqdn, value: 'tampered' });
      const error = await rejection(p.present(fqdn, 'tampered'));
      expect(error.code).toBe('protocol');
      expect(error.message).toMatch(/TSIG signature of the answer from 127\.0\.0\.1:\d+ does not verify/);
    } finally {
      await proxy.close();
    }
  });

  it('rfc2136 - a message over 512 bytes goes over TCP', async () => {
    const p = provider();
    const fqdn = `_acme-challenge.big-${RUN}.example.test`;
    const value = `${RUN}-${'v'.repeat(900)}`; // three character-strings
    await present(p, fqdn, value);
    expect(await dig(fqdn)).toEqual([value]);
    await p.cleanup(fqdn, value);
    expect(await dig(fqdn)).toEqual([]);
  });

  it('rfc2136 - a truncated UDP answer is repeated over TCP; forceTcp skips UDP', async () => {
    const proxy = await startProxy(() => 'truncate');
    try {
      const server = { host: '127.0.0.1', port: proxy.port };
      const fqdn = `_acme-challenge.tc-${RUN}.example.test`;
      const p = provider({ server, zone: 'example.test' });
      await present(p, fqdn, 'after-tc');
      expect(proxy.udpPackets).toBe(1);
      expect(proxy.tcpConnections).toBe(1);
      expect(await dig(fqdn)).toEqual(['after-tc']);
      const forced = provider({ server, forceTcp: true });
      await forced.cleanup(fqdn, 'after-tc'); // SOA lookup and update, both over TCP
      expect(proxy.udpPackets).toBe(1);
      expect(proxy.tcpConnections).toBeGreaterThanOrEqual(3);
      expect(await dig(fqdn)).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('rfc2136 - a lost UDP datagram is retried once; two losses are a retryable timeout', async () => {
    const loseFirst = await startProxy((index) => (index === 0 ? 'drop' : 'forward'));
    const loseAll = await startProxy(() => 'drop');
    try {
      const fqdn = `_acme-challenge.retry-${RUN}.example.test`;
      const p = provider({
        server: { host: '127.0.0.1', port: loseFirst.port },
        zone: 'example.test',
        timeoutMs: 300,
      });
      await present(p, fqdn, 'after-retry');
      expect(loseFirst.udpPackets).toBe(2);
      expect(await dig(fqdn)).toEqual(['after-retry']);
      await provider().cleanup(fqdn, 'after-retry');

      const silent = provider({
        server: { host: '127.0.0.1', port: loseAll.port },
        zone: 'example.test',
        timeoutMs: 200,
      });
      const error = await rejection(silent.present(fqdn, 'never'));
      expect(error.code).toBe('timeout');
      expect(error.retryable).toBe(true);
      expect(error.message).toBe(
        `DNS server at 127.0.0.1:${loseAll.port} did not answer over UDP within 200 ms`,
      );
      expect(loseAll.udpPackets).toBe(2);
    } finally {
      await loseFirst.close();
      await loseAll.close();
    }
  });
});

/** Free port for the private named (UDP and TCP share it); the race with other processes is accepted. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('rfc2136 with hmac-sha512', () => {
  // The testbed's BIND has only an hmac-sha256 key, so a private named is started with an hmac-sha512 key,
  // a zone it may write TXT anywhere in, and a zone where it may write only one name.
  const secret = randomBytes(64).toString('base64');
  let directory: string;
  let named: ChildProcess;
  let server: { host: string; port: number };

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'rfc2136-named-'));
    server = { host: '127.0.0.1', port: await freePort() };
    const zone = (origin: string) =>
      `$ORIGIN ${origin}.\n$TTL 60\n@ IN SOA ns.${origin}. hostmaster.${origin}. ( 1 3600 600 86400 1 )\n@ IN NS ns.${origin}.\nns IN A 127.0.0.1\n`;
    await writeFile(join(directory, 'sha512.test.zone'), zone('sha512.test'));
    await writeFile(join(directory, 'locked.test.zone'), zone('locked.test'));
    await writeFile(
      join(directory, 'named.conf'),
      `options {
  directory "${directory}";
  pid-file "${directory}/named.pid";
  session-keyfile "${directory}/session.key";
  managed-keys-directory "${directory}";
  listen-on port ${server.port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
key "acme-512" { algorithm hmac-sha512; secret "${secret}"; };
zone "sha512.test" { type primary; file "${directory}/sha512.test.zone"; update-policy { grant acme-512. zonesub TXT; }; };
zone "locked.test" { type primary; file "${directory}/locked.test.zone"; update-policy { grant acme-512. name allowed.locked.test. TXT; }; };
`,
    );
    named = spawn('named', ['-g', '-c', join(directory, 'named.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    named.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    const deadline = Date.now() + 10_000;
    // The first log line already says "running on Linux"; this one comes once the zones are served.
    while (!log.includes('all zones loaded')) {
      if (Date.now() > deadline || named.exitCode !== null)
        throw new Error(`private named did not start:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  afterAll(async () => {
    named?.kill();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  const sha512 = (overrides: Partial<Rfc2136ProviderOptions> = {}) =>
    provider({ server, keyName: 'acme-512', keyAlgorithm: 'hmac-sha512', keySecret: secret, ...overrides });

  it('rfc2136 - hmac-sha512 presents, finds the zone and cleans up against a real BIND', async () => {
    const p = sha512();
    const fqdn = `_acme-challenge.a.${RUN}.sha512.test`;
    expect(await p.findZone(fqdn)).toBe('sha512.test');
    await p.present(fqdn, 'signed-with-sha512');
    expect(await dig(fqdn, server)).toEqual(['signed-with-sha512']);
    await p.cleanup(fqdn, 'signed-with-sha512');
    expect(await dig(fqdn, server)).toEqual([]);
    const wrong = await rejection(
      sha512({ keySecret: randomBytes(64).toString('base64') }).present(fqdn, 'x'),
    );
    expect(wrong.code).toBe('auth');
    expect(wrong.message).toMatch(/rejected the TSIG key acme-512 \(BADSIG\)/);
  });

  it("rfc2136 - an update the key's policy does not allow is refused with a hint", async () => {
    const p = sha512();
    const error = await rejection(p.present('_acme-challenge.locked.test', 'x'));
    expect(error.code).toBe('refused');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      `DNS server at 127.0.0.1:${server.port} refused the update of _acme-challenge.locked.test in zone locked.test: does the update-policy of key acme-512 allow TXT there?`,
    );
    expect(await dig('_acme-challenge.locked.test', server)).toEqual([]);
    await p.present('allowed.locked.test', 'allowed');
    expect(await dig('allowed.locked.test', server)).toEqual(['allowed']);
  });
});
