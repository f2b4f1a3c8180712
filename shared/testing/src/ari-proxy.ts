import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestPebble } from './pebble.ts';

/**
 * A minimal ARI front for Pebble 2.4.0 (which has no ARI): an HTTPS proxy, with Pebble's own listener
 * certificate, that adds `renewalInfo` to the directory, records every decoded newOrder payload that created an order and, when
 * told to, rejects a newOrder carrying `replaces` with a problem document (as a CA does for a certificate
 * that was already replaced). The Host header is passed through, so Pebble builds every URL (and checks
 * every JWS `url`) against the proxy's address. `renewalInfo` answers what `window` says (by default a window
 * one to two days ahead) with `Retry-After: retryAfterSeconds`, and records each certificate id asked about.
 */
export interface AriProxy {
  directoryUrl: string;
  newOrders: Array<{
    identifiers: Array<{ type: string; value: string }>;
    replaces?: string;
    profile?: string;
  }>;
  rejectReplaces: { type: string; detail: string } | undefined;
  /**
   * Profiles advertised as the directory's `meta.profiles` (draft-ietf-acme-profiles), name → description;
   * undefined: none (as Pebble 2.4.0). Pebble ignores the `profile` an order carries: the proxy only records it.
   */
  profiles: Record<string, string> | undefined;
  /** When set, a newOrder carrying a `profile` is refused with this problem (e.g. `invalidProfile`). */
  rejectProfile: { type: string; detail: string } | undefined;
  /** The suggested window for a certificate id (RFC 9773 §4.2); the default is one to two days ahead. */
  window: (certId: string) => { start: Date; end: Date };
  retryAfterSeconds: number;
  /** Certificate ids asked about, in order, with the time of each request. */
  renewalInfoRequests: Array<{ certId: string; at: Date }>;
  close(): Promise<void>;
}

export async function startAriProxy(pebble: TestPebble): Promise<AriProxy> {
  const config = JSON.parse(readFileSync(pebble.configPath, 'utf8')) as {
    pebble: { certificate: string; privateKey: string };
  };
  const upstream = new URL(pebble.directoryUrl);
  const agent = new Agent({ ca: pebble.listenerCaPem, keepAlive: true });
  const proxy: AriProxy = {
    directoryUrl: '',
    newOrders: [],
    rejectReplaces: undefined,
    profiles: undefined,
    rejectProfile: undefined,
    window: () => ({ start: new Date(Date.now() + 86_400_000), end: new Date(Date.now() + 2 * 86_400_000) }),
    retryAfterSeconds: 3600,
    renewalInfoRequests: [],
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
        if (newOrder?.profile && proxy.rejectProfile) {
          proxy.newOrders.push(newOrder);
          res.writeHead(400, { 'content-type': 'application/problem+json' });
          res.end(JSON.stringify({ ...proxy.rejectProfile, status: 400 }));
          return;
        }
        if (newOrder?.replaces && proxy.rejectReplaces) {
          proxy.newOrders.push(newOrder);
          res.writeHead(409, { 'content-type': 'application/problem+json' });
          res.end(JSON.stringify({ ...proxy.rejectReplaces, status: 409 }));
          return;
        }
      }
      if (req.url?.startsWith('/renewal-info/')) {
        const certId = decodeURIComponent(req.url.slice('/renewal-info/'.length));
        proxy.renewalInfoRequests.push({ certId, at: new Date() });
        const { start, end } = proxy.window(certId);
        res.writeHead(200, {
          'content-type': 'application/json',
          'retry-after': String(proxy.retryAfterSeconds),
        });
        res.end(JSON.stringify({ suggestedWindow: { start: start.toISOString(), end: end.toISOString() } }));
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
            if (proxy.profiles) {
              directory.meta = { ...(directory.meta as object | undefined), profiles: proxy.profiles };
            }
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

/**
 * The ARI certificate identifier of the chain's leaf as openssl reads it (RFC 9773 §4.1), independent of
 * shared/pki's DER reader, so a test compares two implementations rather than one with itself.
 */
export function opensslAriCertId(chainPem: string): string {
  const text = execFileSync('openssl', ['x509', '-noout', '-serial', '-ext', 'authorityKeyIdentifier'], {
    input: chainPem,
  }).toString();
  const serialHex = /serial=([0-9A-F]+)/i.exec(text)![1]!;
  const akiHex = /Authority Key Identifier:\s*(?:keyid:)?([0-9A-F:]+)/i.exec(text)![1]!.replaceAll(':', '');
  let serial = Buffer.from(serialHex.length % 2 ? `0${serialHex}` : serialHex, 'hex');
  if (serial[0]! & 0x80) serial = Buffer.concat([Buffer.from([0]), serial]); // DER INTEGER, positive
  return `${Buffer.from(akiHex, 'hex').toString('base64url')}.${serial.toString('base64url')}`;
}
