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
  deploymentRows,
  emittedEvents,
  fetchOk,
  httpdCommand,
  removeStackContainers,
  testDocker,
  testImage,
  testStack,
} from './support.ts';

const suffix = Math.random().toString(36).slice(2, 8);

describe('recovery', { timeout: 120_000 }, () => {
  const stack = testStack('recovery');
  const docker: Docker = testDocker();
  let database: TestDatabase;
  let nats: TestNatsServer;
  let deployer: DeployerProcess | undefined;

  beforeAll(async () => {
    [database, nats] = await Promise.all([createTestDatabase('deployer_recovery'), startNatsServer()]);
    deployer = await startDeployer({ database, nats, stack });
  });
  afterAll(async () => {
    await deployer?.stop();
    await removeStackContainers(docker, stack);
    await Promise.all([database?.drop(), nats?.stop()]);
  });

  function failWithOutput(error: unknown): never {
    throw new Error(`${String(error)}\n--- deployer output ---\n${deployer?.output().slice(-4000)}`, {
      cause: error,
    });
  }

  async function runningApp(label: string) {
    const port = await freePort();
    const app = await createApp(database.db, {
      name: `${label}-${suffix}`,
      image: testImage,
      port,
      command: httpdCommand(port, label),
    });
    await waitFor('app answers', () => fetchOk(port), { timeoutMs: 30_000 }).catch(failWithOutput);
    // The container answers a moment before the deployer commits its `running` row; a kill in between is
    // (rightly) a failed start, not a dead container: wait for the commit.
    await waitFor('running row', async () =>
      (await deploymentRows(database.db, app.id)).some((row) => row.status === 'running'),
    ).catch(failWithOutput);
    const [container] = await appContainers(docker, stack, app.id);
    return { app, port, containerId: container!.Id };
  }

  it('deployer - a container killed by hand is reported as container-died and recreated', async () => {
    const { app, port, containerId } = await runningApp('killed');
    await docker.getContainer(containerId).kill();

    const failed = await waitFor('deployments.failed', async () => {
      const events = await emittedEvents(database.db, app.id, 'deployments.failed');
      return events.length > 0 && events;
    }).catch(failWithOutput);
    expect(failed[0]!.data).toMatchObject({ appId: app.id, revision: 1, reason: 'container-died' });
    expect(await waitFor('answers again', () => fetchOk(port), { timeoutMs: 30_000 })).toBe('killed');

    const started = await waitFor('second deployments.started', async () => {
      const events = await emittedEvents(database.db, app.id, 'deployments.started');
      return events.length === 2 && events;
    }).catch(failWithOutput);
    const [replacement] = await appContainers(docker, stack, app.id);
    expect(replacement!.Id).not.toBe(containerId);
    expect(replacement!.State).toBe('running');
    expect(started[1]!.data).toMatchObject({ containerId: replacement!.Id, upstream: { port } });
    const rows = await deploymentRows(database.db, app.id);
    expect(rows.map((row) => [row.status, row.error_reason])).toEqual([
      ['exited', null],
      ['failed', 'container-died'],
      ['running', null],
    ]);
    expect(deployer?.output()).toContain('container died');
  });

  it('deployer - a container removed by hand is recreated', async () => {
    const { app, port, containerId } = await runningApp('removed');
    await docker.getContainer(containerId).remove({ force: true });
    await waitFor('container-died row', async () => {
      const rows = await deploymentRows(database.db, app.id);
      return rows.some((row) => row.error_reason === 'container-died');
    }).catch(failWithOutput);
    expect(await waitFor('answers again', () => fetchOk(port), { timeoutMs: 30_000 })).toBe('removed');
  });

  it('deployer - at start, a missing container is recreated and a container of a deleted app is removed', async () => {
    const { app, port, containerId } = await runningApp('restart');
    const orphan = await runningApp('orphan');
    await deployer?.stop();
    deployer = undefined;
    await docker.getContainer(containerId).remove({ force: true });
    // The app is deleted while deployer is down and its event never arrives: only reconcile can see it.
    await database.db.deleteFrom('apps').where('id', '=', orphan.app.id).execute();

    deployer = await startDeployer({ database, nats, stack });
    expect(
      await waitFor('answers again', () => fetchOk(port), { timeoutMs: 30_000 }).catch(failWithOutput),
    ).toBe('restart');
    await waitFor(
      'orphan removed',
      async () => (await appContainers(docker, stack, orphan.app.id)).length === 0,
    ).catch(failWithOutput);
    const rows = await deploymentRows(database.db, app.id);
    expect(rows.map((row) => row.error_reason)).toContain('container-died');
  });
});
