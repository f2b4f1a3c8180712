import type { Logger } from '@gatehouse/telemetry';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export type { NatsConnection } from '@nats-io/transport-node';

export interface ConnectNatsOptions {
  servers: string[];
  /** Client name shown in NATS monitoring (service and replica). */
  name: string;
  logger: Logger;
}

/**
 * Connects to NATS and keeps reconnecting forever, including when the first attempt fails (a
 * service may start before NATS). Publishes made while disconnected are buffered by the client.
 */
export async function connectNats({ servers, name, logger }: ConnectNatsOptions): Promise<NatsConnection> {
  const nc = await connect({
    servers,
    name,
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
  });
  logger.info({ server: nc.getServer() }, 'nats connected');
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect') {
        logger.warn({ nats_status: status.type, server: status.server }, 'nats connection changed');
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
