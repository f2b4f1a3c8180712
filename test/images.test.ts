import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@gatehouse/service-harness';
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

const run = promisify(execFile);
const suffix = Math.random().toString(36).slice(2, 8);
const services = ['api', 'deployer', 'cert-issuer', 'renewal-scheduler', 'proxy-config', 'notifier'] as const;
type Service = (typeof services)[number];
const testImage = process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1';
const stackLabel = `test-img-${suffix}`;
const volume = (name: string) => `gh-img-${suffix}-${name}`;
const container = (service: Service) => `gh-img-${suffix}-${service}`;

function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

// Issue 13, item 1: the six service images, built here by scripts/images on a base made from Debian packages,
// run as containers (host networking) against this run's Postgres database, NATS and Pebble, and issue a
// certificate end to end. Builds the images first (a few seconds when Docker's layer cache has them).
describe('images', { timeout: 1_500_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  let scratch: string;
  const apiToken = randomBytes(32).toString('base64');
  const masterKey = randomBytes(32).toString('base64');
  const healthPorts = {} as Record<Service, number>;
  let apiUrl = '';

  function logsOf(service: Service): string {
    try {
      return execFileSync('docker', ['logs', '--tail', '60', container(service)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      return String(error);
    }
  }

  beforeAll(async () => {
    // No skipping: without Docker, debootstrap or the registry this fails with the script's message.
    await run('bash', [join(repoRoot, 'scripts', 'images')], {
      env: process.env,
      timeout: 1_200_000,
      maxBuffer: 64 * 1024 * 1024,
    }).catch((error: { stderr?: string }) => {
      throw new Error(`scripts/images failed:\n${error.stderr ?? error}`);
    });
    const http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase(`images_${suffix}`),
      startNatsServer(),
      startPebble({ httpPort: http01Port }),
    ]);
    // Files the containers read are bind-mounted; the `node` user must be able to read them.
    scratch = mkdtempSync(join(tmpdir(), 'gh-images-'));
    const caPath = join(scratch, 'pebble-ca.pem');
    copyFileSync(pebble.listenerCaPath, caPath);
    execFileSync('chmod', ['0644', caPath]);
    for (const service of services) healthPorts[service] = await freePort();
    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    const socket = (process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');
    const common = [
      `DATABASE_URL=${database.url}`,
      `NATS_URL=${nats.url}`,
      'LOG_LEVEL=info',
      `GATEHOUSE_MASTER_KEY=${masterKey}`,
    ];
    const perService: Record<Service, { env: string[]; args: string[] }> = {
      api: { env: [`API_LISTEN=127.0.0.1:${apiPort}`, `GATEHOUSE_API_TOKEN=${apiToken}`], args: [] },
      deployer: {
        env: [
          'DOCKER_HOST=unix:///var/run/docker.sock',
          'DOCKER_NETWORK=host',
          `GATEHOUSE_STACK=${stackLabel}`,
          'IMAGE_PULL=never',
        ],
        // The socket's group, as compose does with DOCKER_GID.
        args: ['-v', `${socket}:/var/run/docker.sock`, '--group-add', String(statSync(socket).gid)],
      },
      'cert-issuer': {
        env: [
          `HTTP01_LISTEN=127.0.0.1:${http01Port}`,
          `ACME_DIRECTORY_URL=${pebble.directoryUrl}`,
          'ACME_EMAIL=admin@gatehouse.test',
          'ACME_CA_BUNDLE=/run/gatehouse/pebble-ca.pem',
          'DNS_RESOLVERS=127.0.0.1:8053',
          `PREFLIGHT_HTTP_PORT=${http01Port}`,
        ],
        args: ['-v', `${caPath}:/run/gatehouse/pebble-ca.pem:ro`],
      },
      'renewal-scheduler': {
        env: ['ACME_CA_BUNDLE=/run/gatehouse/pebble-ca.pem'],
        args: ['-v', `${caPath}:/run/gatehouse/pebble-ca.pem:ro`],
      },
      'proxy-config': {
        env: [
          'TRAEFIK_DYNAMIC_DIR=/etc/traefik/dynamic',
          'TRAEFIK_CERTS_DIR=/etc/traefik/certs',
          `HTTP01_UPSTREAM_URL=http://127.0.0.1:${http01Port}`,
          `EDGE_NODE=${stackLabel}`,
        ],
        // Named volumes, as in compose: they take the image directories' owner (node) when first mounted.
        args: [
          '-v',
          `${volume('dynamic')}:/etc/traefik/dynamic`,
          '-v',
          `${volume('certs')}:/etc/traefik/certs`,
        ],
      },
      notifier: { env: [], args: [] },
    };
    for (const service of services) {
      const { env, args } = perService[service];
      docker(
        'run',
        '-d',
        '--name',
        container(service),
        '--network',
        'host',
        '--init',
        // The image's own HEALTHCHECK command, probed more often than its 15 s so the test does not wait.
        '--health-interval',
        '2s',
        ...[...common, `HEALTH_LISTEN=127.0.0.1:${healthPorts[service]}`, ...env].flatMap((e) => ['-e', e]),
        ...args,
        `gatehouse/${service}:local`,
      );
    }
  }, 1_500_000);

  afterAll(async () => {
    for (const service of services) {
      try {
        docker('rm', '-f', container(service));
      } catch {
        // never started
      }
    }
    try {
      const apps = docker('ps', '-aq', '--filter', `label=gatehouse.stack=${stackLabel}`)
        .split('\n')
        .filter(Boolean);
      if (apps.length > 0) docker('rm', '-f', ...apps);
      docker('volume', 'rm', '-f', volume('dynamic'), volume('certs'));
    } catch {
      // docker gone: nothing left to remove
    }
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }, 120_000);

  it('images - the six service images run as the node user, report healthy, issue a certificate end to end, write proxy files into a volume with the right owner and modes, and drain on SIGTERM with exit 0', async () => {
    // Healthy, per the image's HEALTHCHECK (GET /healthz on HEALTH_LISTEN).
    for (const service of services) {
      await waitFor(
        `${service} healthy`,
        () => docker('inspect', '-f', '{{.State.Health.Status}}', container(service)) === 'healthy',
        { timeoutMs: 90_000, intervalMs: 500 },
      ).catch(() => {
        throw new Error(`${service} is not healthy:\n${logsOf(service)}`);
      });
      expect(docker('inspect', '-f', '{{.Config.User}}', container(service))).toBe('node');
      // Every process of the container (the init and node) runs as uid 1000.
      const uids = docker(
        'exec',
        container(service),
        'sh',
        '-c',
        "grep -h '^Uid:' /proc/[0-9]*/status | sort -u",
      );
      expect(uids.split('\n').map((line) => line.split(/\s+/)[1])).toEqual(['1000']);
    }

    // A certificate end to end through the containers: api → cert-issuer (Pebble) → proxy-config's volume.
    const appPort = await freePort();
    const name = `img-${suffix}`;
    const domain = `${name}.test`;
    const response = await fetch(`${apiUrl}/v1/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name,
        image: testImage,
        port: appPort,
        domains: [`https://${domain}`],
        command: ['sh', '-c', `exec httpd -f -h / -p 127.0.0.1:${appPort}`],
      }),
    });
    expect(response.status, await response.clone().text()).toBe(201);
    const proxy = container('proxy-config');
    const entries = await waitFor(
      'the certificate listed in the app file in the volume',
      () => {
        let yaml: string;
        try {
          yaml = docker('exec', proxy, 'cat', `/etc/traefik/dynamic/app-${name}.yml`);
        } catch {
          return false;
        }
        const certificates =
          (parse(yaml) as { tls?: { certificates?: Array<{ certFile: string; keyFile: string }> } }).tls
            ?.certificates ?? [];
        return certificates.length > 0 && certificates;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    ).catch(() => {
      throw new Error(
        `no certificate in the volume:\n${services.map((s) => `${s}:\n${logsOf(s)}`).join('\n')}`,
      );
    });
    const certificates = (await (
      await fetch(`${apiUrl}/v1/certificates?name=${domain}`, {
        headers: { authorization: `Bearer ${apiToken}` },
      })
    ).json()) as { certificates: Array<{ status: string; issuer: string }> };
    expect(certificates.certificates[0]).toMatchObject({ status: 'valid', issuer: pebble.directoryUrl });

    // Owner and modes in the volume: everything node's (1000), keys 0600, the YAML readable by Traefik.
    const entry = entries[0]!;
    const stat = (path: string) => docker('exec', proxy, 'stat', '-c', '%u:%g %a', path);
    expect(stat('/etc/traefik/dynamic')).toMatch(/^1000:1000 /);
    expect(stat('/etc/traefik/certs')).toMatch(/^1000:1000 /);
    expect(stat(entry.keyFile)).toBe('1000:1000 600');
    expect(stat(entry.certFile)).toBe('1000:1000 644');
    expect(stat(`/etc/traefik/dynamic/app-${name}.yml`)).toBe('1000:1000 644');
    expect(docker('exec', proxy, 'cat', entry.certFile)).toContain('BEGIN CERTIFICATE');

    // SIGTERM (docker stop) drains each service and it exits 0, saying so in its log.
    for (const service of services) {
      docker('stop', '-t', '30', container(service));
      expect(docker('inspect', '-f', '{{.State.ExitCode}}', container(service)), logsOf(service)).toBe('0');
      expect(logsOf(service)).toContain('"msg":"stopped"');
    }
  });
});
