import { randomUUID } from 'node:crypto';
import type { Database } from '@gatehouse/db';
import { createEvent, deploymentsFailed, deploymentsRemoved, deploymentsStarted } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import type { Logger } from '@gatehouse/telemetry';
import type Docker from 'dockerode';
import type { Transaction } from 'kysely';
import {
  type AppSpec,
  answers,
  type ContainerOptions,
  listManagedContainers,
  removeAppNetwork,
  removeContainer,
  startAppContainer,
  waitUntilAnswers,
} from '../docker/app-containers.ts';
import { containerName } from '../docker/labels.ts';
import { DeployError } from '../errors.ts';
import {
  findLatestDeployment,
  findNewestRevision,
  insertDeployment,
  lockApp,
  retireRunningDeployments,
} from './deployment.repository.ts';

/** Event `source` of everything deployer emits. */
const source = 'deployer';

export interface AppDeployerOptions {
  docker: Docker;
  container: ContainerOptions;
  /** Fixed upstream host, or undefined for "127.0.0.1 on host networking, else the container name". */
  upstreamHost: string | undefined;
  readyTimeoutMs: number;
}

/** What `converge` found and did, for logs and tests. */
export type ConvergeOutcome = 'stale' | 'up-to-date' | 'failed-before' | 'deployed' | 'failed';

export interface AppDeployer {
  /**
   * Makes Docker run `app`'s revision, then records the outcome (row + event) in `trx`. Takes the
   * app's lock first, so consumer and reconcile never work on one app at once. Converges after a
   * crash: containers are found by name and labels before any is created. MUST be called inside a
   * transaction whose commit publishes the events. Retryable errors (Docker or Postgres down) throw.
   */
  converge(trx: Transaction<Database>, app: AppSpec, logger: Logger): Promise<ConvergeOutcome>;
  /** Stops and removes every container of the app, then records `removed` and `deployments.removed`. */
  remove(trx: Transaction<Database>, app: { appId: string; revision: number }, logger: Logger): Promise<void>;
}

export function createAppDeployer(options: AppDeployerOptions): AppDeployer {
  const { docker } = options;
  const hostNetwork = options.container.network === 'host';

  function upstreamOf(app: AppSpec): { host: string; port: number } {
    const host = options.upstreamHost ?? (hostNetwork ? '127.0.0.1' : containerName(app.name, app.revision));
    return { host, port: app.port };
  }

  async function recordFailure(
    trx: Transaction<Database>,
    app: AppSpec,
    error: DeployError,
    containerId: string | null,
  ): Promise<void> {
    const deploymentId = randomUUID();
    await insertDeployment(trx, {
      id: deploymentId,
      appId: app.id,
      revision: app.revision,
      status: 'failed',
      containerId,
      error: { reason: error.reason, message: error.message },
    });
    await enqueue(
      trx,
      createEvent(deploymentsFailed, {
        source,
        subject: app.id,
        data: {
          appId: app.id,
          deploymentId,
          revision: app.revision,
          reason: error.reason,
          message: error.message,
        },
      }),
    );
  }

  async function converge(
    trx: Transaction<Database>,
    app: AppSpec,
    logger: Logger,
  ): Promise<ConvergeOutcome> {
    const log = logger.child({ app_id: app.id, app: app.name, revision: app.revision });
    await lockApp(trx, app.id);
    if ((await findNewestRevision(trx, app.id)) > app.revision) {
      log.info('older revision than deployed, ignored');
      return 'stale';
    }
    let containers = await listManagedContainers(docker, options.container.stack, app.id);
    const latest = await findLatestDeployment(trx, app.id);
    if (latest?.revision === app.revision) {
      if (latest.status === 'failed' && latest.error_reason !== 'container-died') {
        // Same spec, same outcome: a new revision (an update) is what retries it.
        return 'failed-before';
      }
      if (latest.status === 'running') {
        const current = containers.find((container) => container.id === latest.container_id);
        if (current?.state === 'running') {
          await removeOtherRevisions(app, containers, log);
          return 'up-to-date';
        }
        log.warn({ container_id: latest.container_id, state: current?.state ?? 'gone' }, 'container died');
        await retireRunningDeployments(trx, app.id, 'exited');
        await recordFailure(
          trx,
          app,
          new DeployError(
            'container-died',
            `container ${containerName(app.name, app.revision)} ${current ? `is ${current.state}` : 'was removed'}; recreating it`,
          ),
          latest.container_id,
        );
        if (current) await removeContainer(docker, current.id);
        containers = containers.filter((container) => container !== current);
      }
    }

    const upstream = upstreamOf(app);
    const older = containers.filter((container) => container.revision !== app.revision);
    // On the host network two revisions cannot listen on one port: stop the old one first.
    const stopFirst =
      hostNetwork &&
      older.some((container) => container.state === 'running') &&
      (await answers(upstream.host, upstream.port));
    if (stopFirst) {
      log.info('host network and same port: stopping the old container before starting the new one');
      for (const container of older)
        await docker
          .getContainer(container.id)
          .stop({ t: 10 })
          .catch(() => {});
    }

    let containerId: string | null = null;
    try {
      containerId = await startAppContainer(docker, app, options.container);
      await waitUntilAnswers(docker, containerId, upstream, options.readyTimeoutMs);
    } catch (error) {
      if (!(error instanceof DeployError)) throw error;
      log.warn({ reason: error.reason, err: error.message }, 'deployment failed');
      // Keep nothing half-deployed: unless-stopped would otherwise restart a crashing container forever.
      const failed = containerId ?? (await findContainerId(app));
      if (failed) await removeContainer(docker, failed);
      if (stopFirst) {
        for (const container of older)
          await docker
            .getContainer(container.id)
            .start()
            .catch(() => {});
      }
      await recordFailure(trx, app, error, null);
      return 'failed';
    }

    for (const container of older) await removeContainer(docker, container.id);
    await retireRunningDeployments(trx, app.id, 'replaced', containerId);
    const deploymentId = randomUUID();
    await insertDeployment(trx, {
      id: deploymentId,
      appId: app.id,
      revision: app.revision,
      status: 'running',
      containerId,
      upstream,
    });
    await enqueue(
      trx,
      createEvent(deploymentsStarted, {
        source,
        subject: app.id,
        data: { appId: app.id, deploymentId, containerId, upstream, revision: app.revision },
      }),
    );
    log.info(
      { container_id: containerId, upstream_host: upstream.host, upstream_port: upstream.port },
      'deployed',
    );
    return 'deployed';
  }

  async function findContainerId(app: AppSpec): Promise<string | undefined> {
    const containers = await listManagedContainers(docker, options.container.stack, app.id);
    return containers.find((container) => container.revision === app.revision)?.id;
  }

  async function removeOtherRevisions(
    app: AppSpec,
    containers: Awaited<ReturnType<typeof listManagedContainers>>,
    log: Logger,
  ): Promise<void> {
    for (const container of containers) {
      if (container.revision === app.revision) continue;
      log.info({ container_id: container.id, container: container.name }, 'removing old revision');
      await removeContainer(docker, container.id);
    }
  }

  async function remove(
    trx: Transaction<Database>,
    app: { appId: string; revision: number },
    logger: Logger,
  ): Promise<void> {
    const log = logger.child({ app_id: app.appId, revision: app.revision });
    await lockApp(trx, app.appId);
    const containers = await listManagedContainers(docker, options.container.stack, app.appId);
    for (const container of containers) await removeContainer(docker, container.id);
    // An isolated app's own network goes with its last container.
    for (const appName of new Set(containers.map((container) => container.appName)))
      await removeAppNetwork(docker, appName, options.container);
    await retireRunningDeployments(trx, app.appId, 'removed');
    await insertDeployment(trx, {
      id: randomUUID(),
      appId: app.appId,
      revision: app.revision,
      status: 'removed',
    });
    const containerIds = containers.map((container) => container.id);
    await enqueue(
      trx,
      createEvent(deploymentsRemoved, {
        source,
        subject: app.appId,
        data: { appId: app.appId, revision: app.revision, containerIds },
      }),
    );
    log.info({ containers: containerIds.length }, 'app containers removed');
  }

  return { converge, remove };
}
