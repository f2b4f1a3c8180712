import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, type TestPebble, tlsHandshake, waitFor } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateTraefikConfig } from '../services/proxy-config/src/traefik/index.ts';
import { startStack, type TestStack } from './stack.ts';

const testImage = process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1';
const suffix = Math.random().toString(36).slice(2, 8);
const apex = `shop-${suffix}.test`;
const www = `www.${apex}`;
const appName = `shop-${suffix}`;

interface TraefikRouter {
  entryPoints?: string[];
  rule: string;
  priority?: number;
  middlewares?: string[];
  service?: string;
  tls?: unknown;
}
interface TraefikFile {
  http?: {
    routers?: Record<string, TraefikRouter>;
    middlewares?: Record<string, { redirectScheme?: { scheme: string; permanent?: boolean } }>;
    services?: Record<string, { loadBalancer?: { servers?: Array<{ url: string }> } }>;
  };
  tls?: { certificates?: Array<{ certFile: string; keyFile: string }> };
}

/** A TLS handshake for `servername` against the files the YAML references, trusting only `ca`. */
async function handshake(certFile: string, keyFile: string, servername: string, ca: string) {
  const { authorized, peer } = await tlsHandshake({ certFile, keyFile }, servername, ca);
  return { authorized, subjectAltName: peer.subjectaltname };
}

describe('e2e', { timeout: 240_000 }, () => {
  let stack: TestStack;
  let root: string;
  let apiUrl: string;
  let pebble: TestPebble;
  let appPort: number;
  let processes: TestStack['processes'] = [];

  beforeAll(async () => {
    stack = await startStack({ label: `test-e2e-${suffix}` });
    ({ root, apiUrl, pebble, processes } = stack);
    appPort = await freePort();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  function readYaml(file: string): TraefikFile | undefined {
    const path = join(root, 'dynamic', file);
    return existsSync(path) ? (parse(readFileSync(path, 'utf8')) as TraefikFile) : undefined;
  }

  it('e2e - a posted app with https domains runs, gets a Pebble certificate and validated Traefik routes with an HTTP→HTTPS redirect that spares the challenge path', async () => {
    try {
      const posted = Date.now();
      const response = await fetch(`${apiUrl}/v1/apps`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.apiToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: appName,
          image: testImage,
          port: appPort,
          domains: [`https://${apex}`, `https://${www}`],
          command: [
            'sh',
            '-c',
            `mkdir -p /www && echo hello > /www/index.html && exec httpd -f -h /www -p 127.0.0.1:${appPort}`,
          ],
        }),
      });
      expect(response.status, await response.clone().text()).toBe(201);

      // The container answers on its port.
      const body = await waitFor(
        'the container answering',
        async () => {
          const answer = await fetch(`http://127.0.0.1:${appPort}/`, {
            signal: AbortSignal.timeout(1_000),
          }).catch(() => undefined);
          return answer?.status === 200 && (await answer.text()).trim();
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(body).toBe('hello');

      // A servable certificate file: listed in the app's YAML, and the file is there.
      const file = `app-${appName}.yml`;
      const listed = await waitFor(
        'the certificate listed in the app file',
        () => {
          const entries = readYaml(file)?.tls?.certificates ?? [];
          return (
            entries.length > 0 &&
            entries.every((e) => existsSync(e.certFile) && existsSync(e.keyFile)) &&
            entries
          );
        },
        { timeoutMs: 180_000, intervalMs: 100 },
      );
      const elapsedMs = Date.now() - posted;
      console.log(`e2e: POST /v1/apps to a servable certificate file in ${elapsedMs} ms`);

      // The generated YAML validates.
      const app = readYaml(file)!;
      const core = readYaml('gatehouse-core.yml')!;
      expect(validateTraefikConfig(app as never)).toEqual({ ok: true });
      expect(validateTraefikConfig(core as never)).toEqual({ ok: true });

      // The app's service routes to the container's port.
      const upstreams = Object.values(app.http?.services ?? {}).flatMap(
        (service) => service.loadBalancer?.servers?.map((server) => server.url) ?? [],
      );
      expect(upstreams).toContain(`http://127.0.0.1:${appPort}`);

      // A TLS server from the referenced files completes a handshake for the apex that verifies against Pebble's root.
      const rootPem = await pebble.rootPem();
      const entry = listed[0]!;
      // The file holds the leaf and its chain: Pebble's root alone must verify it.
      expect(readFileSync(entry.certFile, 'utf8').match(/BEGIN CERTIFICATE/g)?.length).toBeGreaterThan(1);
      const apexHandshake = await handshake(entry.certFile, entry.keyFile, apex, rootPem);
      expect(apexHandshake.authorized).toBe(true);
      expect(apexHandshake.subjectAltName).toContain(`DNS:${apex}`);
      expect(apexHandshake.subjectAltName).toContain(`DNS:${www}`);
      expect((await handshake(entry.certFile, entry.keyFile, www, rootPem)).authorized).toBe(true);

      // Port 80: the app's web router redirects both hosts to HTTPS...
      const webRouters = Object.entries(app.http?.routers ?? {}).filter(([, router]) =>
        router.entryPoints?.includes('web'),
      );
      expect(webRouters.length).toBeGreaterThan(0);
      for (const host of [apex, www]) {
        const router = webRouters.find(([, r]) => r.rule.includes(`\`${host}\``));
        expect(router, `a web router for ${host}`).toBeDefined();
        const middlewares = router![1].middlewares ?? [];
        // `name@file` names a middleware of any file in the directory: the redirect lives in the core file.
        const resolve = (name: string) => {
          const local = name.replace(/@file$/, '');
          return app.http?.middlewares?.[local] ?? core.http?.middlewares?.[local];
        };
        expect(
          middlewares.some((name) => resolve(name)?.redirectScheme?.scheme === 'https'),
          `${host}'s web router redirects to https`,
        ).toBe(true);
      }
      // ...except the challenge path: the core's ACME router outranks every app router on `web`.
      const acme = Object.values(core.http?.routers ?? {}).find((router) =>
        router.rule.includes('PathPrefix(`/.well-known/acme-challenge/`)'),
      );
      expect(acme).toBeDefined();
      expect(acme!.entryPoints).toEqual(['web']);
      const appPriorities = webRouters.map(([, router]) => router.priority ?? router.rule.length);
      expect(acme!.priority).toBeGreaterThan(Math.max(...appPriorities));
      const acmeService = core.http?.services?.[acme!.service!];
      expect(acmeService?.loadBalancer?.servers?.map((server) => server.url)).toEqual([
        `http://127.0.0.1:${pebble.httpPort}`,
      ]);
    } catch (error) {
      for (const { name, process } of processes) console.error(`--- ${name} output ---\n${process.output()}`);
      throw error;
    }
  });
});
