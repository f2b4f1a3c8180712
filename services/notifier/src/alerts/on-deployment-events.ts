import { deploymentsTcpProxyFailed } from '@gatehouse/events';
import { on, type Subscription } from '@gatehouse/messaging';
import { tcpProxyFailedMail } from '../mail/compose.ts';
import { queueNotification } from './queue-notification.ts';

/**
 * Mails about an app's deployment that the operator must act on. A TCP proxy that cannot serve its port (another
 * process holds it on the host) mails once per episode: the deployer emits the event only when the proxy starts
 * failing, and keeps retrying without further events.
 */
export function deploymentEventSubscriptions(options: { holdMs: number }): Subscription[] {
  return [
    on(deploymentsTcpProxyFailed, async (event, { trx }) => {
      const { appId, appName, publicPort, reason, message } = event.data;
      await queueNotification(trx, {
        kind: 'tcp-proxy-failed',
        certificateId: null,
        mail: tcpProxyFailedMail({ appName, publicPort, reason, message }),
        data: { appId, appName, publicPort, reason, message },
        dedupeKey: `tcp-proxy-failed:${event.id}`,
        holdMs: options.holdMs,
      });
    }),
  ];
}
