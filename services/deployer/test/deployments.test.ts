import { appsUpdated, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import {
  createTestDatabase,
  freePort,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
  waitFor,
} from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeployerProcess, startDeployer } from './service.ts';
import {
  appContainers,
  createApp,
  type Docker,
  deleteApp,
  deploymentRows,
  emittedEvents,
  fetchOk,
  httpdCommand,
  removeStackContainers,
  republish,
  testDocker,
  testImage,
  testStack,
  updateApp,
} from './support.ts';

const suffix = Math.random().toString(36).slice(2, 8);
const appName = (label: string) => `${label}-${suffix}`;

describe('deployments', { timeout: 120_000 }, () => {
  const stack = testStack('deployments');
  const docker: Docker = testDocker();
  let database: TestDatabase;
  let nats: TestNatsServer;
  let deployer: DeployerProcess;

  beforeAll(async () => {
    [database, nats] = await Promise.all([createTestDatabase('deployer'), startNatsServer()]);
    deployer = await startDeployer({ database, nats, stack });
  });
  afterAll(async () => {
    await deployer?.stop();
    await removeStackContainers(docker, stack);
    await Promise.all([database?.drop(), nats?.stop()]);
  });

  function failWithOutput(error: unknown): never {
    throw new Error(`${String(error)}\n--- deployer output ---\n${deployer.output().slice(-4000)}`, {
      cause: error,
    });
  }

  it('deployer - apps.created starts a labelled container that answers, and deployments.started carries the upstream', async () => {
    const port = await freePort();
    const app = await createApp(database.db, {
      name: appName('web'),
      image: testImage,
      port,
      env: { GREETING: 'hi' },
      command: httpdCommand(port, 'first'),
    });
    expect(
      await waitFor('app answers', () => fetchOk(port), { timeoutMs: 30_000 }).catch(failWithOutput),
    ).toBe('first');
    const started = await waitFor('deployments.started', async () => {
      const events = await emittedEvents(database.db, app.id, 'deployments.started');
      return events.length > 0 && events;
    }).catch(failWithOutput);
    expect(started).toHaveLength(1);
    expect(started[0]!.data).toMatchObject({
      appId: app.id,
      revision: 1,
      upstream: { host: '127.0.0.1', port },
    });

    const [container] = await appContainers(docker, stack, app.id);
    expect(container?.Names).toEqual([`/gatehouse-app-${app.name}-r1`]);
    expect(container?.Labels).toMatchObject({
      'gatehouse.app': app.name,
      'gatehouse.app-id': app.id,
      'gatehouse.revision': '1',
      'gatehouse.managed': 'true',
    });
    const info = await docker.getContainer(container!.Id).inspect();
    expect(info.Config.Env).toEqual(expect.arrayContaining(['GREETING=hi', `PORT=${port}`]));
    expect(info.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
    expect(info.HostConfig.NetworkMode).toBe('host');

    const rows = await deploymentRows(database.db, app.id);
    expect(rows.at(-1)).toMatchObject({
      status: 'running',
      revision: 1,
      container_id: container!.Id,
      upstream_host: '127.0.0.1',
      upstream_port: port,
    });
    expect((started[0]!.data as { containerId: string }).containerId).toBe(container!.Id);
  });

  it('deployer - apps.updated starts the new container, waits until it answers, then removes the old one; one of them always answers', async () => {
    const oldPort = await freePort();
    const app = await createApp(database.db, {
      name: appName('switch'),
      image: testImage,
      port: oldPort,
      command: httpdCommand(oldPort, 'old'),
    });
    await waitFor('old answers', () => fetchOk(oldPort), { timeoutMs: 30_000 }).catch(failWithOutput);

    const newPort = await freePort();
    const updated = await updateApp(database.db, app, {
      port: newPort,
      env: { VERSION: '2' },
      command: httpdCommand(newPort, 'new'),
    });
    // Poll through the switch: at every moment the old or the new container answers.
    let gaps = 0;
    await waitFor(
      'switch complete',
      async () => {
        const [oldBody, newBody] = await Promise.all([fetchOk(oldPort), fetchOk(newPort)]);
        if (oldBody === undefined && newBody === undefined) gaps++;
        return newBody === 'new' && oldBody === undefined;
      },
      { timeoutMs: 40_000, intervalMs: 20 },
    ).catch(failWithOutput);
    expect(gaps).toBe(0);

    const containers = await waitFor('old container removed', async () => {
      const list = await appContainers(docker, stack, app.id);
      return list.length === 1 && list;
    }).catch(failWithOutput);
    expect(containers[0]!.Labels['gatehouse.revision']).toBe('2');
    expect(containers[0]!.Names).toEqual([`/gatehouse-app-${app.name}-r2`]);

    // The outcome is committed after the old container is removed: wait for it.
    const started = await waitFor('second deployments.started', async () => {
      const events = await emittedEvents(database.db, app.id, 'deployments.started');
      return events.length === 2 && events;
    }).catch(failWithOutput);
    expect(started.map((event) => event.data)).toEqual([
      expect.objectContaining({ revision: 1, upstream: { host: '127.0.0.1', port: oldPort } }),
      expect.objectContaining({ revision: updated.revision, upstream: { host: '127.0.0.1', port: newPort } }),
    ]);
    const rows = await deploymentRows(database.db, app.id);
    expect(rows.map((row) => [row.revision, row.status])).toEqual([
      [1, 'replaced'],
      [2, 'running'],
    ]);
  });

  it('deployer - a missing image fails with image-missing in the deployments row and deployments.failed', async () => {
    const port = await freePort();
    const app = await createApp(database.db, {
      name: appName('ghost'),
      image: `gatehouse-test/does-not-exist-${suffix}:1`,
      port,
      command: null,
    });
    const failed = await waitFor('deployments.failed', async () => {
      const events = await emittedEvents(database.db, app.id, 'deployments.failed');
      return events.length > 0 && events;
    }).catch(failWithOutput);
    expect(failed[0]!.data).toMatchObject({ appId: app.id, revision: 1, reason: 'image-missing' });
    expect(String(failed[0]!.data.message)).toContain('does-not-exist');
    const rows = await deploymentRows(database.db, app.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'failed', error_reason: 'image-missing' });
    expect(await appContainers(docker, stack, app.id)).toEqual([]);
    expect(await emittedEvents(database.db, app.id, 'deployments.started')).toEqual([]);
  });

  it('deployer - a container that exits at once fails with start-failed and is not left behind', async () => {
    const port = await freePort();
    const app = await createApp(database.db, {
      name: appName('crash'),
      image: testImage,
      port,
      command: ['sh', '-c', 'echo cannot start; exit 3'],
    });
    const failed = await waitFor('deployments.failed', async () => {
      const events = await emittedEvents(database.db, app.id, 'deployments.failed');
      return events.length > 0 && events;
    }).catch(failWithOutput);
    expect(failed[0]!.data).toMatchObject({ reason: 'start-failed' });
    const rows = await deploymentRows(database.db, app.id);
    expect(rows.at(-1)).toMatchObject({ status: 'failed', error_reason: 'start-failed' });
    expect(await appContainers(docker, stack, app.id)).toEqual([]);
  });

  it('deployer - apps.deleted stops and removes the container and records removed', async () => {
    const port = await freePort();
    const app = await createApp(database.db, {
      name: appName('gone'),
      image: testImage,
      port,
      command: httpdCommand(port),
    });
    await waitFor('app answers', () => fetchOk(port), { timeoutMs: 30_000 }).catch(failWithOutput);
    await deleteApp(database.db, app);
    await waitFor(
      'container removed',
      async () => (await appContainers(docker, stack, app.id)).length === 0,
      {
        timeoutMs: 30_000,
      },
    ).catch(failWithOutput);
    expect(await fetchOk(port)).toBeUndefined();
    const removed = await waitFor('deployments.removed', async () => {
      const events = await emittedEvents(database.db, app.id, 'deployments.removed');
      return events.length > 0 && events;
    });
    expect(removed[0]!.data).toMatchObject({ appId: app.id, revision: 2 });
    const rows = await deploymentRows(database.db, app.id);
    expect(rows.at(-1)).toMatchObject({ status: 'removed', revision: 2 });
  });

  it('deployer - a repeated event or an older revision arriving late changes nothing', async () => {
    const firstPort = await freePort();
    const app = await createApp(database.db, {
      name: appName('again'),
      image: testImage,
      port: firstPort,
      command: httpdCommand(firstPort, 'one'),
    });
    await waitFor('r1 answers', () => fetchOk(firstPort), { timeoutMs: 30_000 }).catch(failWithOutput);
    const secondPort = await freePort();
    const updated = await updateApp(database.db, app, {
      port: secondPort,
      command: httpdCommand(secondPort, 'two'),
    });
    await waitFor('r2 answers', () => fetchOk(secondPort), { timeoutMs: 30_000 }).catch(failWithOutput);
    await waitFor(
      'r2 started',
      async () => (await emittedEvents(database.db, app.id, 'deployments.started')).length === 2,
    );

    await republish(database.db, updated, 'updated');
    await republish(database.db, app, 'created');
    // Every apps.* event written so far has been handled once processed_events counts them all.
    await waitFor('consumer idle', async () => {
      const pending = await database.db
        .selectFrom('processed_events')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow();
      const outbox = await database.db
        .selectFrom('outbox')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('type', 'like', 'apps.%')
        .executeTakeFirstOrThrow();
      return pending.n === outbox.n;
    });

    expect(await fetchOk(secondPort)).toBe('two');
    expect(await fetchOk(firstPort)).toBeUndefined();
    const containers = await appContainers(docker, stack, app.id);
    expect(containers.map((container) => container.Labels['gatehouse.revision'])).toEqual(['2']);
    expect(await emittedEvents(database.db, app.id, 'deployments.started')).toHaveLength(2);
    expect((await deploymentRows(database.db, app.id)).map((row) => row.status)).toEqual([
      'replaced',
      'running',
    ]);
  });

  it('deployer - app containers run with no-new-privileges, without NET_RAW, and with the app’s memory and process limits', async () => {
    const port = await freePort();
    // The container serves its own /proc/self/status: what the kernel enforces, not only what was asked.
    const command = [
      'sh',
      '-c',
      `mkdir -p /www && grep -E '^(NoNewPrivs|CapBnd)' /proc/self/status > /www/index.html && exec httpd -f -h /www -p 127.0.0.1:${port}`,
    ];
    const app = await createApp(database.db, {
      name: appName('confined'),
      image: testImage,
      port,
      command,
      memoryMb: 64,
      pidsLimit: 40,
    });
    const status = await waitFor('app answers', () => fetchOk(port), { timeoutMs: 30_000 }).catch(
      failWithOutput,
    );
    expect(status).toMatch(/NoNewPrivs:\s+1/);
    const capBnd = BigInt(`0x${/CapBnd:\s+([0-9a-f]+)/.exec(status!)![1]}`);
    const netRaw = 1n << 13n; // CAP_NET_RAW
    expect(capBnd & netRaw).toBe(0n);
    const [container] = await appContainers(docker, stack, app.id);
    const info = await docker.getContainer(container!.Id).inspect();
    expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges:true']);
    expect(info.HostConfig.CapDrop).toEqual(['NET_RAW']);
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.MemorySwap).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.PidsLimit).toBe(40);
  });

  it('deployer - an apps.updated whose contents differ from Postgres (forged image, command, env) deploys what Postgres holds', async () => {
    const port = await freePort();
    const app = await createApp(database.db, {
      name: appName('forged'),
      image: testImage,
      port,
      env: { REAL: 'yes' },
      command: httpdCommand(port, 'real'),
    });
    await waitFor('r1 answers', () => fetchOk(port), { timeoutMs: 30_000 }).catch(failWithOutput);
    const forgedPort = await freePort();
    // What a publisher on the bus could claim: another image, command and env, at the current revision.
    await database.db.transaction().execute(async (trx) => {
      for (const revision of [app.revision]) {
        await enqueue(
          trx,
          createEvent(appsUpdated, {
            source: 'api',
            subject: app.id,
            data: {
              appId: app.id,
              name: app.name,
              image: 'evil/image:1',
              port: forgedPort,
              domains: [],
              env: { INJECTED: 'x' },
              command: httpdCommand(forgedPort, 'forged'),
              revision,
            },
          }),
        );
      }
    });
    await waitFor('forged events handled', async () => {
      const handled = await database.db
        .selectFrom('processed_events')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow();
      const written = await database.db
        .selectFrom('outbox')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('type', 'like', 'apps.%')
        .executeTakeFirstOrThrow();
      return handled.n === written.n;
    }).catch(failWithOutput);
    expect(await fetchOk(port)).toBe('real');
    expect(await fetchOk(forgedPort)).toBeUndefined();
    const containers = await appContainers(docker, stack, app.id);
    expect(containers).toHaveLength(1);
    const info = await docker.getContainer(containers[0]!.Id).inspect();
    expect(info.Config.Image).toBe(testImage);
    expect(info.Config.Env).toEqual(expect.arrayContaining(['REAL=yes']));
    expect(info.Config.Env.join(' ')).not.toContain('INJECTED');
  });

  it('deployer - on the host network an update on the same port replaces the container (old stopped first)', async () => {
    const port = await freePort();
    const app = await createApp(database.db, {
      name: appName('sameport'),
      image: testImage,
      port,
      command: httpdCommand(port, 'before'),
    });
    await waitFor('r1 answers', () => fetchOk(port), { timeoutMs: 30_000 }).catch(failWithOutput);
    await updateApp(database.db, app, { env: { MODE: 'after' }, command: httpdCommand(port, 'after') });
    expect(
      await waitFor('r2 answers', async () => (await fetchOk(port)) === 'after' && 'after', {
        timeoutMs: 30_000,
      }).catch(failWithOutput),
    ).toBe('after');
    const containers = await waitFor('one container left', async () => {
      const list = await appContainers(docker, stack, app.id);
      return list.length === 1 && list;
    });
    expect(containers[0]!.Labels['gatehouse.revision']).toBe('2');
    const info = await docker.getContainer(containers[0]!.Id).inspect();
    expect(info.Config.Env).toContain('MODE=after');
  });
});
