import type { Db } from '@gatehouse/db';
import { appsCreated, appsDeleted, appsUpdated } from '@gatehouse/events';
import {
  consumerName,
  type NatsConnection,
  on,
  type RunningConsumer,
  startConsumer,
} from '@gatehouse/messaging';
import type { SecretBox } from '@gatehouse/pki';
import type { Logger } from '@gatehouse/telemetry';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { AppDeployer } from './app-deployer.ts';
import { loadAppSpec } from './app-spec.repository.ts';

/** The durable consumer every deployer replica shares: each app event is handled by one of them. */
export const appsConsumerName = consumerName('deployer', 'apps');

export interface AppsConsumerOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  db: Db;
  logger: Logger;
  deployer: AppDeployer;
  /** Opens the apps' sealed env. */
  box: SecretBox;
  /** DEPLOY_CONCURRENCY: app events handled at once (default 8). */
  concurrency?: number;
  /** Called after each app event's effect (the TCP proxies follow the app's ports). */
  onAppChanged?: () => void;
}

/**
 * `apps.created` / `apps.updated` deploy the app as Postgres has it (loaded by the event's `appId`; its
 * revision is at least the event's, since the api commits before the event is published), `apps.deleted`
 * removes the app's containers. An app already deleted again is skipped (its `apps.deleted` follows).
 * Redelivery is harmless twice over: processed_events stops a second effect, and `converge` ignores a
 * revision older than the newest one deployer has acted on.
 */
export function startAppsConsumer(options: AppsConsumerOptions): Promise<RunningConsumer> {
  const { deployer, box } = options;
  const deploy = async (
    event: { data: { appId: string; revision: number } },
    context: { trx: Parameters<AppDeployer['converge']>[0]; logger: Logger },
  ) => {
    const app = await loadAppSpec(context.trx, box, event.data.appId);
    if (!app) {
      context.logger.info({ app_id: event.data.appId }, 'app no longer exists, nothing to deploy');
      return;
    }
    if (app.revision < event.data.revision)
      // Not visible yet (a replica reading behind): retried with backoff until it is.
      throw new Error(
        `app ${event.data.appId} is at revision ${app.revision} in Postgres, the event announced ${event.data.revision}`,
      );
    await deployer.converge(context.trx, app, context.logger);
    options.onAppChanged?.();
  };
  return startConsumer({
    nc: options.nc,
    js: options.js,
    jsm: options.jsm,
    db: options.db,
    logger: options.logger,
    name: appsConsumerName,
    // Waiting for a container to answer may take DEPLOY_READY_TIMEOUT; the consumer extends the ack.
    ackWaitMs: 30_000,
    // A deployment mostly waits on dockerd and on the container's first answer, so more than the consumer's
    // default 4 run at once (100 apps posted together were 4 at a time); each holds a pooled connection (10)
    // for its transaction, and 8 leaves two for the relay and the reconciler.
    concurrency: options.concurrency ?? 8,
    subscriptions: [
      on(appsCreated, deploy),
      on(appsUpdated, deploy),
      on(appsDeleted, async (event, context) => {
        await deployer.remove(
          context.trx,
          { appId: event.data.appId, revision: event.data.revision },
          context.logger,
        );
        options.onAppChanged?.();
      }),
    ],
  });
}
