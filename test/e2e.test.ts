import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
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
import { parse } from 'yaml';
import { masterKey, startCertIssuer } from '../services/cert-issuer/test/service.ts';
import { validateTraefikConfig } from '../services/proxy-config/src/traefik/index.ts';
import { type ServiceProcess, startReadyService } from './service-process.ts';

const testImage = process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1';
const apiToken = randomBytes(32).toString('base64');
const suffix = Math.random().toString(36).slice(2, 8);
const apex = `shop-${suffix}.test`;
const www = `www.${apex}`;
const appName = `shop-${suffix}`;
const stack = `test-e2e-${suffix}`;

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

/** Completes a TLS handshake for `servername` against a server built from the files the YAML references. */
async function handshake(certFile: string, keyFile: string, servername: string, ca: string) {
  const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (socket) =>
    socket.end(),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<{ authorized: boolean; subjectAltName: string | undefined }>(
      (resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, servername, ca }, () => {
          resolve({
            authorized: socket.authorized,
            subjectAltName: socket.getPeerCertificate().subjectaltname,
          });
          socket.end();
        });
        socket.on('error', reject);
      },
    );
  } finally {
    server.close();
  }
}

function removeStackContainers(): void {
  try {
    const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=gatehouse.stack=${stack}`], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean);
    if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
  } catch {
    // best effort: nothing to remove or docker unavailable
  }
}

describe('e2e', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let root: string;
  let apiUrl: string;
  let appPort: number;
  const processes: Array<{ name: string; process: ServiceProcess }> = [];

  beforeAll(async () => {
    const http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase('e2e'),
      startNatsServer(),
      startPebble({ httpPort: http01Port }),
    ]);
    root = mkdtempSync(join(tmpdir(), 'gh-e2e-'));
    const base = { DATABASE_URL: database.url, NATS_URL: nats.url };
    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    appPort = await freePort();

    const certIssuer = await startCertIssuer({ database, nats, pebbles: [pebble], http01Port });
    processes.push({ name: 'cert-issuer', process: certIssuer });
    const started = await Promise.all([
      startReadyService('api', {
        ...base,
        API_LISTEN: `127.0.0.1:${apiPort}`,
        GATEHOUSE_API_TOKEN: apiToken,
        GATEHOUSE_MASTER_KEY: masterKey,
      }).then((process) => ({ name: 'api', process })),
      startReadyService('deployer', {
        ...base,
        DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
        DOCKER_NETWORK: 'host',
        GATEHOUSE_STACK: stack,
        IMAGE_PULL: 'never',
        DEPLOY_READY_TIMEOUT: '15s',
      }).then((process) => ({ name: 'deployer', process })),
      startReadyService('proxy-config', {
        ...base,
        TRAEFIK_DYNAMIC_DIR: join(root, 'dynamic'),
        TRAEFIK_CERTS_DIR: join(root, 'certs'),
        GATEHOUSE_MASTER_KEY: masterKey,
        HTTP01_UPSTREAM_URL: `http://127.0.0.1:${http01Port}`,
        EDGE_NODE: 'edge-e2e',
      }).then((process) => ({ name: 'proxy-config', process })),
    ]);
    processes.push(...started);
  });

  afterAll(async () => {
    await Promise.all(processes.map(({ process }) => process.stop()));
    removeStackContainers();
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
    if (root) rmSync(root, { recursive: true, force: true });
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
        headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
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
