import type { Logger } from '@gatehouse/telemetry';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsInboxPrefix } from './nats-permissions.ts';

export type { NatsConnection } from '@nats-io/transport-node';

export interface ConnectNatsOptions {
  servers: string[];
  /** Client name shown in NATS monitoring (service and replica). */
  name: string;
  logger: Logger;
  /** NATS_USER / NATS_PASSWORD: the service's own NATS user (see nats-permissions.ts). */
  user?: string | undefined;
  password?: string | undefined;
}

/** NATS refused the service's credentials: a configuration error, not something to wait out. */
export class NatsAuthError extends Error {
  override readonly name = 'NatsAuthError';
}

/**
 * Connects to NATS and keeps reconnecting forever, including when the first attempt fails (a
 * service may start before NATS). Publishes made while disconnected are buffered by the client.
 */
export async function connectNats({
  servers,
  name,
  logger,
  user,
  password,
}: ConnectNatsOptions): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      pingInterval: 10_000,
      // The client otherwise builds an Error (a stack capture) for every request and timer up front, only to name
      // the caller should it fail: ~5 % of a busy relay's CPU (one per publish ack). Errors still say what failed.
      noAsyncTraces: true,
      // With users, replies come to the service's own inbox, the only one its user may subscribe to.
      ...(user ? { user, pass: password ?? '', inboxPrefix: natsInboxPrefix(user) } : {}),
    });
  } catch (error) {
    if ((error as Error).name === 'AuthorizationError' || /authoriz|authentic/i.test(String(error)))
      throw new NatsAuthError(
        user
          ? `NATS refused the credentials of user ${user}: check NATS_USER and NATS_PASSWORD (or NATS_PASSWORD_FILE) against the server's users`
          : 'NATS requires credentials: set NATS_USER and NATS_PASSWORD (or NATS_PASSWORD_FILE) for this service',
        { cause: error },
      );
    throw error;
  }
  logger.info({ server: nc.getServer(), nats_user: user ?? null }, 'nats connected');
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect') {
        logger.warn({ nats_status: status.type, server: status.server }, 'nats connection changed');
      } else if (status.type === 'error') {
        // A permissions violation names the subject: a missing permission shows at once in the log.
        logger.error({ err: status.error }, 'nats error');
      }
    }
  })();
  return nc;
}

/** The server's version as numbers, for features newer servers have (e.g. `filter_subjects` in 2.10). */
export function serverVersion(nc: NatsConnection): [number, number] {
  const [major = 0, minor = 0] = (nc.info?.version ?? '0.0').split('.').map(Number);
  return [major, minor];
}
