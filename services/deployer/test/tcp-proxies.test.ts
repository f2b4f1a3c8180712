import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildTcpProxyStandInImage,
  createTestDatabase,
  freePort,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
  waitFor,
} from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpProxyContainerName } from '../src/docker/labels.ts';
import { type DeployerProcess, startDeployer } from './service.ts';
import {
  createApp,
  type Docker,
  deleteApp,
  httpdCommand,
  removeStackContainers,
  testDocker,
  testImage,
  testStack,
  updateApp,
} from './support.ts';

/**
 * The deployer process end to end for TCP proxies: an app event (as the api emits it with the app's TCP ports
 * committed) makes the running deployer create the port's proxy container, and `apps.deleted` removes it. The
 * Traefik image is stood in for (see buildTcpProxyStandInImage): it serves the mounted directory on the port.
 */
describe('deployer tcp proxies', { timeout: 120_000 }, () => {
  const stack = testStack('tcp');
  const docker: Docker = testDocker();
  let database: TestDatabase;
  let nats: TestNatsServer;
  let deployer: DeployerProcess;
  let root: string;

  beforeAll(async () => {
    const image = await buildTcpProxyStandInImage(testImage);
    root = mkdtempSync(join(tmpdir(), 'gh-deployer-tcp-'));
    for (const dir of ['dynamic', 'certs']) mkdirSync(join(root, dir));
    writeFileSync(join(root, 'dynamic', 'marker.yml'), 'marker\n');
    [database, nats] = await Promise.all([createTestDatabase('deployer_tcp'), startNatsServer()]);
    deployer = await startDeployer({
      database,
      nats,
      stack,
      env: {
        TCP_PROXY_IMAGE: image,
        TCP_PROXY_DYNAMIC_DIR: join(root, 'dynamic'),
        TCP_PROXY_CERTS_DIR: join(root, 'certs'),
        TCP_PROXY_CERTS_PATH: join(root, 'certs'),
      },
    });
  });
  afterAll(async () => {
    await deployer?.stop();
    await removeStackContainers(docker, stack);
    await Promise.all([database?.drop(), nats?.stop()]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const proxyState = async (port: number) =>
    (await docker.listContainers({ all: true, filters: { name: [tcpProxyContainerName(stack, port)] } }))[0];

  it('deployer - an app event brings up a proxy per declared port, and apps.deleted takes it down', async () => {
    const appPort = await freePort();
    const publicPort = await freePort();
    const app = await createApp(database.db, {
      name: `tcp-${stack.slice(-6)}`,
      image: testImage,
      port: appPort,
      command: httpdCommand(appPort),
    });
    // What a PATCH with `tcp` does: the ports and the new revision in one transaction, then apps.updated.
    await database.db
      .insertInto('app_tcp_ports')
      .values({ public_port: publicPort, app_id: app.id, target_port: null, tls: false })
      .execute();
    const updated = await updateApp(database.db, app, {});
    await waitFor(
      'the proxy answering on its public port',
      async () => {
        const response = await fetch(`http://127.0.0.1:${publicPort}/marker.yml`).catch(() => undefined);
        return response?.status === 200;
      },
      { timeoutMs: 60_000 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${deployer.output().slice(-3000)}`);
    });
    const container = await proxyState(publicPort);
    expect(container?.Labels).toMatchObject({
      'gatehouse.role': 'tcp-proxy',
      'gatehouse.app-id': app.id,
      'gatehouse.tcp-port': String(publicPort),
    });
    // The app's own container is still the only revision container (the proxy is not mistaken for one). The
    // patch's new revision replaces it meanwhile, so for a moment there may be none or two running: wait it out.
    const revisionContainers = async () =>
      (
        await docker.listContainers({
          filters: { label: [`gatehouse.stack=${stack}`, `gatehouse.app-id=${app.id}`] },
        })
      ).filter((c) => c.Labels['gatehouse.role'] !== 'tcp-proxy');
    await waitFor(
      'one revision container beside the proxy',
      async () => (await revisionContainers()).length === 1,
      {
        timeoutMs: 30_000,
      },
    ).catch(async (error: unknown) => {
      throw new Error(
        `${String(error)}: ${(await revisionContainers()).map((c) => c.Names.join(',')).join('; ')}`,
      );
    });
    // And it stays one: the proxy never starts a second one.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await revisionContainers()).toHaveLength(1);

    await deleteApp(database.db, updated);
    await waitFor('the proxy removed', async () => (await proxyState(publicPort)) === undefined, {
      timeoutMs: 60_000,
    });
  });
});
