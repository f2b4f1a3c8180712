import type { Db } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import type { Logger } from '@gatehouse/telemetry';
import type Docker from 'dockerode';
import type { AppDeployer } from '../deployments/app-deployer.ts';
import { listAppIds, loadAppSpec } from '../deployments/app-spec.repository.ts';
import { lockApp } from '../deployments/deployment.repository.ts';
import { listManagedContainers, removeContainer } from '../docker/app-containers.ts';

export interface ReconcilerOptions {
  db: Db;
  docker: Docker;
  deployer: AppDeployer;
  /** Opens the apps' sealed env. */
  box: SecretBox;
  logger: Logger;
  intervalMs: number;
  /** GATEHOUSE_STACK: only this stack's containers are looked at. */
  stack: string;
  /** The TCP proxies, brought in line at the end of every pass (a killed proxy is started again). */
  tcpProxies?: { sync(): Promise<unknown> } | undefined;
  /** Quiet time after a Docker event before reconciling, so a burst (kill, die, stop) runs it once. */
  debounceMs?: number;
}

export interface Reconciler {
  /** One full pass now (coalesced with one already running). */
  reconcile(): Promise<void>;
  /** Reconcile once soon; calls within the debounce window share one pass. */
  schedule(): void;
  stop(): Promise<void>;
}

/**
 * Brings Docker in line with Postgres: every app runs a container of its current revision (a dead
 * or removed one is reported and recreated by `converge`), and managed containers of apps that no
 * longer exist are removed. Runs at start, after Docker events and every `intervalMs`.
 */
export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { db, docker, deployer } = options;
  const logger = options.logger.child({ component: 'reconciler' });
  const debounceMs = options.debounceMs ?? 500;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let debounce: NodeJS.Timeout | undefined;

  async function pass(): Promise<void> {
    const ids = await listAppIds(db);
    for (const id of ids) {
      if (stopped) return;
      try {
        const outcome = await db.transaction().execute(async (trx) => {
          const spec = await loadAppSpec(trx, options.box, id);
          return spec ? { spec, outcome: await deployer.converge(trx, spec, logger) } : undefined;
        });
        if (outcome && (outcome.outcome === 'deployed' || outcome.outcome === 'failed')) {
          logger.info({ app_id: id, app: outcome.spec.name, outcome: outcome.outcome }, 'app reconciled');
        }
      } catch (error) {
        logger.warn({ err: error, app_id: id }, 'reconcile of app failed, next pass retries');
      }
    }
    const known = new Set(ids);
    const orphans = (await listManagedContainers(docker, options.stack)).filter(
      (container) => !known.has(container.appId),
    );
    for (const orphan of orphans) {
      // Check again under the app's lock: the app may have been created since the list was read.
      await db.transaction().execute(async (trx) => {
        await lockApp(trx, orphan.appId);
        const exists = await trx
          .selectFrom('apps')
          .select('id')
          .where('id', '=', orphan.appId)
          .executeTakeFirst();
        if (exists) return;
        logger.info({ container_id: orphan.id, container: orphan.name }, 'removing container of deleted app');
        await removeContainer(docker, orphan.id);
      });
    }
    await options.tcpProxies?.sync();
  }

  function reconcile(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await pass();
        } catch (error) {
          logger.warn({ err: error }, 'reconcile failed, will retry');
        }
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => void reconcile(), debounceMs);
  }

  const timer = setInterval(() => void reconcile(), options.intervalMs);
  timer.unref();

  return {
    reconcile,
    schedule,
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(debounce);
      await running;
    },
  };
}
