import type { Db } from '@gatehouse/db';
import { appsCreated, appsDeleted, appsUpdated } from '@gatehouse/events';
import {
  consumerName,
  type NatsConnection,
  on,
  type RunningConsumer,
  startConsumer,
} from '@gatehouse/messaging';
import type { Logger } from '@gatehouse/telemetry';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { AppSpec } from '../docker/app-containers.ts';
import type { AppDeployer } from './app-deployer.ts';

/** The durable consumer every deployer replica shares: each app event is handled by one of them. */
export const appsConsumerName = consumerName('deployer', 'apps');

export interface AppsConsumerOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  db: Db;
  logger: Logger;
  deployer: AppDeployer;
}

/**
 * `apps.created` / `apps.updated` deploy the event's revision, `apps.deleted` removes the app's
 * containers. Redelivery is harmless twice over: processed_events stops a second effect, and
 * `converge` ignores a revision older than the newest one deployer has acted on.
 */
export function startAppsConsumer(options: AppsConsumerOptions): Promise<RunningConsumer> {
  const { deployer } = options;
  const deploy = async (
    event: { data: { appId: string } & Omit<AppSpec, 'id'> },
    context: { trx: Parameters<AppDeployer['converge']>[0]; logger: Logger },
  ) => {
    const { appId, name, image, port, env, command, revision } = event.data;
    await deployer.converge(
      context.trx,
      { id: appId, name, image, port, env, command, revision },
      context.logger,
    );
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
    subscriptions: [
      on(appsCreated, deploy),
      on(appsUpdated, deploy),
      on(appsDeleted, async (event, context) => {
        await deployer.remove(
          context.trx,
          { appId: event.data.appId, revision: event.data.revision },
          context.logger,
        );
      }),
    ],
  });
}
