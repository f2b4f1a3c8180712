import { connect as connectTcp, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSecureContext, createServer, type SecureContext, type Server, type TLSSocket } from 'node:tls';
import type { Db } from '@gatehouse/db';
import { certificateKeyContext, normalizeName, qualifiesForPublicCert, type SecretBox } from '@gatehouse/pki';
import type { Logger } from '@gatehouse/telemetry';
import { askOperator } from './ask-operator.ts';
import { createNameGate } from './name-gate.ts';
import type { OnDemandSettings } from './on-demand-config.ts';
import {
  certificateState,
  claimOnDemandCertificate,
  findOnDemandCertificateId,
  isAppDomain,
} from './on-demand-store.ts';

/** How often a held handshake looks at its certificate's status. */
const pollIntervalMs = 200;
/** A served certificate is looked up again after this long, so a renewal reaches the terminator. */
const contextReuseMs = 5 * 60_000;

/** Why a handshake was refused; the message is logged, the client only sees a failed handshake. */
export class OnDemandRefusal extends Error {
  override readonly name = 'OnDemandRefusal';
  readonly reason: string;

  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface OnDemandTerminatorOptions {
  db: Db;
  box: SecretBox;
  settings: OnDemandSettings;
  logger: Logger;
  /** Claims the new issuance job now instead of at the worker's next poll. */
  wakeIssuer: () => void;
}

/**
 * The on-demand TLS terminator: Traefik passes every TLS connection no router of its own matches here (a
 * lowest-priority `HostSNI(*)` passthrough). The SNI callback serves an on-demand host's valid certificate;
 * an app's domain is refused (its own router serves it); for an unknown name it applies the public-name rules, the deny cache and the per-name limit, asks the
 * operator's URL, creates the certificate through the issuance queue (one order per name across handshakes
 * and replicas) and holds the handshake, bounded, until the certificate is valid. The decrypted connection
 * goes to the on-demand upstream; once proxy-config has written the name's router, later connections are
 * terminated by Traefik itself.
 */
export function createOnDemandTerminator(options: OnDemandTerminatorOptions): {
  server: Server;
  /** Fails held handshakes at once, closes every connection and the listener. */
  stop(): Promise<void>;
} {
  const { db, box, settings, logger } = options;
  const gate = createNameGate(settings.limits);
  const served = new Map<string, { context: SecureContext; reuseUntil: number }>();
  // One resolution per name in this process: 20 concurrent first handshakes share one ask and one claim.
  const resolving = new Map<string, Promise<SecureContext>>();
  const stopping = new AbortController();

  function contextOf(
    name: string,
    certificate: { id: string; chainPem: string; keySealed: string; notAfter: Date },
  ) {
    const context = createSecureContext({
      cert: certificate.chainPem,
      key: box.openText(certificate.keySealed, certificateKeyContext(certificate.id)),
      minVersion: 'TLSv1.2',
    });
    served.set(name, {
      context,
      reuseUntil: Math.min(Date.now() + contextReuseMs, certificate.notAfter.getTime()),
    });
    return context;
  }

  async function waitUntilValid(
    name: string,
    certificateId: string,
    deadline: number,
  ): Promise<SecureContext> {
    for (;;) {
      const state = await certificateState(db, certificateId);
      if (!state) throw new OnDemandRefusal('certificate-removed', `the certificate for ${name} was removed`);
      const servable =
        (state.status === 'valid' || state.status === 'renewing') &&
        state.chain_pem &&
        state.private_key_encrypted &&
        state.not_after &&
        state.not_after.getTime() > Date.now();
      if (servable) {
        return contextOf(name, {
          id: state.id,
          chainPem: state.chain_pem!,
          keySealed: state.private_key_encrypted!,
          notAfter: state.not_after!,
        });
      }
      if (state.status === 'failed' || state.status === 'expired' || state.status === 'fallback') {
        throw new OnDemandRefusal(
          'issuance-failed',
          `the certificate for ${name} is ${state.status} (issuance goes on along the retry ladder): ${state.last_error_message ?? 'no error recorded'}`,
        );
      }
      if (Date.now() + pollIntervalMs > deadline) {
        throw new OnDemandRefusal(
          'handshake-timeout',
          `the certificate for ${name} was not valid within ${settings.handshakeTimeoutMs} ms; issuance goes on`,
        );
      }
      await sleep(pollIntervalMs, undefined, { signal: stopping.signal });
    }
  }

  async function resolve(name: string): Promise<SecureContext> {
    const deadline = Date.now() + settings.handshakeTimeoutMs;
    // An app's domain is configured in advance: Traefik routes it to the app once it runs, never here.
    if (await isAppDomain(db, name)) {
      throw new OnDemandRefusal(
        'app-domain',
        `${name} is an app's domain; it is served by the app's own router`,
      );
    }
    // Allowed before (here or on another replica): serve it, or wait for the issuance under way.
    const known = await findOnDemandCertificateId(db, name);
    if (known) return waitUntilValid(name, known, deadline);

    const verdict = gate.beforeAsk(name);
    if (!verdict.ask)
      throw new OnDemandRefusal(verdict.reason, `${name} refused without asking (${verdict.reason})`);
    const answer = await askOperator(settings.askUrl, name, settings.askTimeoutMs);
    if (!answer.allowed) {
      if (answer.status !== null) gate.deny(name);
      logger.info({ name, status: answer.status, decision: 'denied' }, 'on-demand ask denied the name');
      throw new OnDemandRefusal(
        'ask-denied',
        answer.status === null
          ? `the ask URL did not answer for ${name}: ${answer.error}`
          : `the ask URL answered ${answer.status} for ${name}`,
      );
    }
    const claim = await claimOnDemandCertificate(db, name, settings.limits.maxNewPerHour);
    switch (claim.kind) {
      case 'rate-limited':
        throw new OnDemandRefusal(
          'global-rate-limited',
          `${name} allowed, but ${claim.maxNewPerHour} on-demand certificates were created in the last hour (ON_DEMAND_MAX_PER_HOUR)`,
        );
      case 'created':
        logger.info(
          { name, cert_id: claim.certificateId, decision: 'allowed' },
          'on-demand certificate requested',
        );
        options.wakeIssuer();
        return waitUntilValid(name, claim.certificateId, deadline);
      case 'existing':
      case 'adopted':
        return waitUntilValid(name, claim.certificateId, deadline);
      default:
        throw new Error(`unexpected claim ${claim satisfies never as string}`);
    }
  }

  function secureContextFor(servername: string): Promise<SecureContext> {
    const normalized = normalizeName(servername);
    if (!normalized.ok) return Promise.reject(new OnDemandRefusal('invalid-name', normalized.reason));
    const name = normalized.name;
    const qualifies = qualifiesForPublicCert(name);
    if (!qualifies.ok) return Promise.reject(new OnDemandRefusal('not-public', qualifies.reason));
    if (name.startsWith('*.'))
      return Promise.reject(new OnDemandRefusal('invalid-name', 'SNI carries no wildcards'));
    const cached = served.get(name);
    if (cached && cached.reuseUntil > Date.now()) return Promise.resolve(cached.context);
    let pending = resolving.get(name);
    if (!pending) {
      pending = resolve(name).finally(() => resolving.delete(name));
      resolving.set(name, pending);
    }
    return pending;
  }

  const server = createServer({
    // Held handshakes must outlive the ask and the issuance wait; Node's own default (120 s) is not the bound.
    handshakeTimeout: settings.askTimeoutMs + settings.handshakeTimeoutMs + 5_000,
    minVersion: 'TLSv1.2',
    SNICallback(servername, callback) {
      secureContextFor(servername).then(
        (context) => callback(null, context),
        (error: Error) => {
          if (error instanceof OnDemandRefusal) {
            logger.info(
              { servername, reason: error.reason, err: error.message },
              'on-demand handshake refused',
            );
          } else {
            logger.warn({ servername, err: error }, 'on-demand handshake failed');
          }
          callback(error, undefined);
        },
      );
    },
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    const upstream = connectTcp({ host: settings.upstream.host, port: settings.upstream.port });
    socket.pipe(upstream).pipe(socket);
    const close = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', close);
    upstream.on('error', (error) => {
      logger.warn({ err: error.message }, 'on-demand upstream unreachable');
      close();
    });
  });
  server.on('tlsClientError', (error) => logger.debug({ err: error.message }, 'on-demand TLS client error'));
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    server,
    stop() {
      // A held handshake would otherwise keep the listener open until its deadline.
      stopping.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      return closed;
    },
  };
}
