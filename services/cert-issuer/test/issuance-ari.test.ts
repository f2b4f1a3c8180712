import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certsRenewalDue, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
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
import { type CertIssuerProcess, startCertIssuer } from './service.ts';
import { certificateRow, requestCertificate, verifyChain } from './support.ts';

const suffix = Math.random().toString(36).slice(2, 8);
const name = (label: string) => `${label}-${suffix}.test`;

/**
 * A minimal ARI front for Pebble 2.4.0 (which has no ARI): an HTTPS proxy, with Pebble's own listener
 * certificate, that adds `renewalInfo` to the directory, records every decoded newOrder payload that created an order and, when
 * told to, rejects a newOrder carrying `replaces` with a problem document (as a CA does for a certificate
 * that was already replaced). The Host header is passed through, so Pebble builds every URL (and checks
 * every JWS `url`) against the proxy's address. (shared/testing's ari-proxy had not landed when this was
 * written; this is only what these tests need.)
 */
interface AriProxy {
  directoryUrl: string;
  newOrders: Array<{ identifiers: Array<{ value: string }>; replaces?: string }>;
  rejectReplaces: { type: string; detail: string } | undefined;
  close(): Promise<void>;
}

async function startAriProxy(pebble: TestPebble): Promise<AriProxy> {
  const config = JSON.parse(readFileSync(pebble.configPath, 'utf8')) as {
    pebble: { certificate: string; privateKey: string };
  };
  const upstream = new URL(pebble.directoryUrl);
  const agent = new Agent({ ca: pebble.listenerCaPem, keepAlive: true });
  const proxy: AriProxy = {
    directoryUrl: '',
    newOrders: [],
    rejectReplaces: undefined,
    close: async () => {},
  };
  let newOrderPath = '/order-plz';

  const server: Server = createServer(
    { cert: readFileSync(config.pebble.certificate), key: readFileSync(config.pebble.privateKey) },
    async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const origin = `https://${req.headers.host}`;

      let newOrder: AriProxy['newOrders'][number] | undefined;
      if (req.method === 'POST' && req.url === newOrderPath) {
        const jws = JSON.parse(body.toString('utf8')) as { payload: string };
        newOrder = JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8'));
        if (newOrder?.replaces && proxy.rejectReplaces) {
          proxy.newOrders.push(newOrder);
          res.writeHead(409, { 'content-type': 'application/problem+json' });
          res.end(JSON.stringify({ ...proxy.rejectReplaces, status: 409 }));
          return;
        }
      }
      if (req.url?.startsWith('/renewal-info/')) {
        const now = Date.now();
        res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '3600' });
        res.end(
          JSON.stringify({
            suggestedWindow: {
              start: new Date(now + 86_400_000).toISOString(),
              end: new Date(now + 2 * 86_400_000).toISOString(),
            },
          }),
        );
        return;
      }

      const forwarded = httpsRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
          agent,
        },
        async (answer) => {
          const parts: Buffer[] = [];
          for await (const part of answer) parts.push(part as Buffer);
          let out = Buffer.concat(parts);
          const headers = { ...answer.headers };
          if (req.method === 'GET' && req.url === upstream.pathname) {
            const directory = JSON.parse(out.toString('utf8')) as Record<string, unknown>;
            newOrderPath = new URL(String(directory.newOrder)).pathname;
            directory.renewalInfo = `${origin}/renewal-info/`;
            out = Buffer.from(JSON.stringify(directory));
            delete headers['content-length'];
          }
          // Only orders Pebble created count: a badNonce (Pebble rejects 5% of nonces) is sent again.
          if (newOrder && answer.statusCode === 201) proxy.newOrders.push(newOrder);
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(out);
        },
      );
      forwarded.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      forwarded.end(body);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  proxy.directoryUrl = `https://127.0.0.1:${port}${upstream.pathname}`;
  proxy.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    agent.destroy();
  };
  return proxy;
}

/** The ARI identifier as openssl reads it (independent of cert-issuer's DER reader). */
function opensslAriId(chainPem: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ari-'));
  try {
    const path = join(dir, 'leaf.pem');
    writeFileSync(path, chainPem);
    const text = execFileSync('openssl', [
      'x509',
      '-in',
      path,
      '-noout',
      '-serial',
      '-ext',
      'authorityKeyIdentifier',
    ]).toString();
    const serialHex = /serial=([0-9A-F]+)/i.exec(text)![1]!;
    const akiHex = /Authority Key Identifier:\s*(?:keyid:)?([0-9A-F:]+)/i.exec(text)![1]!.replaceAll(':', '');
    let serial = Buffer.from(serialHex.length % 2 ? `0${serialHex}` : serialHex, 'hex');
    if (serial[0]! & 0x80) serial = Buffer.concat([Buffer.from([0]), serial]); // DER INTEGER, positive
    return `${Buffer.from(akiHex, 'hex').toString('base64url')}.${serial.toString('base64url')}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('issuance - ARI replaces', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let proxy: AriProxy;
  let issuer: CertIssuerProcess;
  beforeAll(async () => {
    const http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase('issuance_ari'),
      startNatsServer(),
      startPebble({ httpPort: http01Port }),
    ]);
    proxy = await startAriProxy(pebble);
    issuer = await startCertIssuer({
      database,
      nats,
      pebbles: [pebble],
      http01Port,
      env: { ACME_DIRECTORY_URL: proxy.directoryUrl },
    });
  });
  afterAll(async () => {
    await issuer?.stop();
    await proxy?.close();
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
  });

  async function waitForNewSerial(id: string, previousSerial: string | null) {
    return waitFor(
      `certificate ${id} valid with a new serial`,
      async () => {
        const row = await certificateRow(database.db, id);
        return row.status === 'valid' && row.serial !== previousSerial && row;
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

  /** What renewal-scheduler does when the ARI window opens: renew-at now, then `certs.renewal-due`. */
  async function renewalDue(id: string, names: string[]) {
    await database.db.transaction().execute(async (trx) => {
      await trx.updateTable('certificates').set({ renew_at: new Date() }).where('id', '=', id).execute();
      await enqueue(
        trx,
        createEvent(certsRenewalDue, {
          source: 'test',
          subject: id,
          data: { certificateId: id, names, reason: 'ari' },
        }),
      );
    });
  }

  function ordersFor(names: string[]) {
    return proxy.newOrders.filter((order) =>
      order.identifiers.some((identifier) => identifier.value === names[0]),
    );
  }

  it('ari - a renewal order carries replaces = the old certificate’s ARI id; a first order carries none', async () => {
    const names = [name('renew')];
    const id = await requestCertificate(database.db, names, { challenge: 'http-01' });
    const first = await waitForNewSerial(id, null);
    expect(ordersFor(names)).toHaveLength(1);
    expect(ordersFor(names)[0]!.replaces).toBeUndefined();

    await renewalDue(id, names);
    const renewed = await waitForNewSerial(id, first.serial);
    expect(verifyChain(renewed.chain_pem!, await pebble.rootPem())).toEqual({ ok: true });
    const orders = ordersFor(names);
    expect(orders).toHaveLength(2);
    expect(orders[1]!.replaces).toBe(opensslAriId(first.chain_pem!));
  });

  it('ari - a newOrder rejected as alreadyReplaced is placed once more without replaces and succeeds', async () => {
    const names = [name('rejected')];
    const id = await requestCertificate(database.db, names, { challenge: 'http-01' });
    const first = await waitForNewSerial(id, null);

    proxy.rejectReplaces = {
      type: 'urn:ietf:params:acme:error:alreadyReplaced',
      detail: 'the certificate named in replaces has already been replaced',
    };
    try {
      await renewalDue(id, names);
      await waitForNewSerial(id, first.serial);
    } finally {
      proxy.rejectReplaces = undefined;
    }
    const renewalOrders = ordersFor(names).slice(1);
    expect(renewalOrders.map((order) => order.replaces)).toEqual([opensslAriId(first.chain_pem!), undefined]);
    const failures = await database.db
      .selectFrom('order_attempts')
      .select('outcome')
      .where('certificate_id', '=', id)
      .where('outcome', '=', 'failure')
      .execute();
    expect(failures).toEqual([]);
  });

  it('ari - a certificate from another CA directory is renewed without replaces', async () => {
    const names = [name('other-ca')];
    const id = await requestCertificate(database.db, names, { challenge: 'http-01' });
    const first = await waitForNewSerial(id, null);
    await database.db
      .updateTable('certificates')
      .set({ issuer: 'https://another-ca.test/directory' })
      .where('id', '=', id)
      .execute();

    await renewalDue(id, names);
    await waitForNewSerial(id, first.serial);
    expect(ordersFor(names).map((order) => order.replaces)).toEqual([undefined, undefined]);
  });
});
