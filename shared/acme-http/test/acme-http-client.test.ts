import { setImmediate } from 'node:timers/promises';
import { freePort, startPebble, type TestPebble } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AcmeHttpClient, createAcmeHttpClient } from '../src/index.ts';

// Against the test bed's real Pebble: the shared client trusts a private CA, reads and caches the directory,
// and keeps its connection alive between requests.
describe('acme http client', () => {
  let pebble: TestPebble;
  let client: AcmeHttpClient;

  beforeAll(async () => {
    pebble = await startPebble({ httpPort: await freePort() });
    client = createAcmeHttpClient({ caBundlePem: pebble.listenerCaPem, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    client?.close();
    await pebble?.stop();
  });

  it('acme http client - reads the directory of a CA trusted through caBundlePem, once', async () => {
    const first = await client.directory(pebble.directoryUrl);
    expect(first.newOrder).toMatch(/^https:\/\//);
    expect(await client.directory(pebble.directoryUrl)).toBe(first);
  });

  it('acme http client - reuses one kept-alive connection for requests one after another', async () => {
    const sockets = new Set<unknown>();
    const onFree = (socket: unknown) => sockets.add(socket);
    client.agent.on('free', onFree);
    try {
      for (let i = 0; i < 3; i++) {
        const answer = await client.get(pebble.directoryUrl);
        expect(answer.status).toBe(200);
        await setImmediate();
      }
    } finally {
      client.agent.off('free', onFree);
    }
    expect(sockets.size).toBe(1);
  });

  it('acme http client - without the CA bundle, Pebble is not trusted', async () => {
    const untrusting = createAcmeHttpClient({ timeoutMs: 5_000 });
    try {
      await expect(untrusting.get(pebble.directoryUrl)).rejects.toThrow(/certificate/i);
    } finally {
      untrusting.close();
    }
  });

  it('acme http client - a directory that is not ACME is refused, naming the URL', async () => {
    const order = (await client.directory(pebble.directoryUrl)).newNonce;
    await expect(client.directory(order)).rejects.toThrow(/is not an ACME directory|answered/);
  });
});
