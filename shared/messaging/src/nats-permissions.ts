import { type EventDomain, streamFor } from '@gatehouse/events';

/**
 * Who may do what on NATS (issue 12): one NATS user per service, allowed to publish only the events it emits
 * and to read only through its own durable consumers. Messages on the bus are not trusted until validated;
 * these permissions keep a compromised or buggy service from forging another's events or reading streams it
 * has no business with. This table is the single source of the server's `authorization` block
 * (`natsServerAuthorization`, used by compose's nats.conf and the tests' NATS servers).
 */
export const natsServices = [
  'api',
  'deployer',
  'cert-issuer',
  'renewal-scheduler',
  'proxy-config',
  'notifier',
] as const;
export type NatsService = (typeof natsServices)[number];

interface ServiceBus {
  /** Event types it publishes (its outbox relay publishes only its own rows when users are in force). */
  emits: readonly string[];
  /** Streams it reads and the durable consumer names it reads them with (`*`: any, for per-node names). */
  consumes: ReadonlyArray<{ domain: EventDomain; consumer: string }>;
}

export const natsServiceBus: Record<NatsService, ServiceBus> = {
  api: {
    emits: [
      'apps.created',
      'apps.updated',
      'apps.deleted',
      'certs.requested',
      'certs.uploaded',
      'certs.removed',
      'certs.fallback-changed',
    ],
    consumes: [],
  },
  deployer: {
    emits: [
      'deployments.started',
      'deployments.failed',
      'deployments.removed',
      'deployments.tcp-proxy-failed',
    ],
    consumes: [{ domain: 'apps', consumer: 'deployer-apps' }],
  },
  'cert-issuer': {
    emits: ['certs.issued', 'certs.issue-failed'],
    consumes: [{ domain: 'certs', consumer: 'cert-issuer-issuance' }],
  },
  'renewal-scheduler': {
    emits: ['certs.renewal-due', 'certs.expiring', 'certs.fallback-activated'],
    consumes: [{ domain: 'certs', consumer: 'renewal-scheduler-certs' }],
  },
  // One durable consumer per edge node (`proxy-config-<stream>-<EDGE_NODE>`): a NATS token cannot be
  // prefix-matched, so proxy-config may name any consumer on the streams it reads.
  'proxy-config': {
    emits: ['routes.applied'],
    consumes: [
      { domain: 'apps', consumer: '*' },
      { domain: 'deployments', consumer: '*' },
      { domain: 'certs', consumer: '*' },
    ],
  },
  notifier: {
    emits: ['notifications.sent'],
    consumes: [
      { domain: 'certs', consumer: 'notifier-certs' },
      { domain: 'deployments', consumer: 'notifier-deployments' },
    ],
  },
};

/** The reply subjects of a service's requests (`inboxPrefix`): no service can read another's replies. */
export function natsInboxPrefix(user: string): string {
  return `_INBOX_${user.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/**
 * The subjects a service's user may publish and subscribe to. JetStream is used through its API subjects:
 * account info and stream create/update/info (every service ensures the streams exist at start), create,
 * info and next-message requests for its own consumers, and acks on them; replies come to its own inbox.
 */
export function natsPermissions(service: NatsService): NatsPermissions {
  const bus = natsServiceBus[service];
  const publish = [
    ...bus.emits,
    '$JS.API.INFO',
    '$JS.API.STREAM.CREATE.*',
    '$JS.API.STREAM.UPDATE.*',
    '$JS.API.STREAM.INFO.*',
  ];
  for (const { domain, consumer } of bus.consumes) {
    const stream = streamFor(domain).name;
    publish.push(
      `$JS.API.CONSUMER.CREATE.${stream}.${consumer}`,
      `$JS.API.CONSUMER.CREATE.${stream}.${consumer}.>`,
      `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${consumer}`,
      `$JS.API.CONSUMER.INFO.${stream}.${consumer}`,
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
      `$JS.ACK.${stream}.${consumer}.>`,
    );
  }
  return { publish, subscribe: [`${natsInboxPrefix(service)}.>`] };
}

/**
 * nats-server's `authorization` block for the services, each with its password as given (a literal, or a
 * `$VARIABLE` nats-server reads from its environment).
 */
export function natsServerAuthorization(passwords: Partial<Record<NatsService, string>>): string {
  const quote = (value: string) => (value.startsWith('$') ? value : JSON.stringify(value));
  const users = natsServices
    .filter((service) => passwords[service] !== undefined)
    .map((service) => {
      const { publish, subscribe } = natsPermissions(service);
      return [
        `    {`,
        `      user: ${JSON.stringify(service)}`,
        `      password: ${quote(passwords[service]!)}`,
        `      permissions: {`,
        `        publish: { allow: ${JSON.stringify(publish)} }`,
        `        subscribe: { allow: ${JSON.stringify(subscribe)} }`,
        `      }`,
        `    }`,
      ].join('\n');
    });
  return `authorization {\n  users = [\n${users.join('\n')}\n  ]\n}\n`;
}
