import { type Db, isDatabaseUnavailable } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import type { RateLimitOverrides } from '@gatehouse/rate-limits';
import { traceRequests } from '@gatehouse/runtime';
import type { Logger } from '@gatehouse/telemetry';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { appRoutes } from '../apps/app-routes.ts';
import { announceAllApps } from '../apps/app-service.ts';
import { backupRoutes } from '../backup/backup-routes.ts';
import { certificateRoutes } from '../certificates/certificate-routes.ts';
import { ledgerRenewalCheck } from '../certificates/renewal-rate-limit.ts';
import { dashboardRoutes } from '../dashboard/dashboard-routes.ts';
import type { DnsProviderPolicy } from '../dns-providers/dns-provider-input.ts';
import { dnsProviderRoutes } from '../dns-providers/dns-provider-routes.ts';
import { ApiError, type ApiErrorCode } from '../errors.ts';
import { localCaRoutes } from '../local-ca/local-ca-routes.ts';
import { notificationRoutes } from '../notifications/notification-routes.ts';
import { onDemandHostRoutes } from '../on-demand/on-demand-host-routes.ts';
import { rateLimitRoutes } from '../rate-limits/rate-limit-routes.ts';
import { settingsRoutes } from '../settings/settings-routes.ts';
import { bearerAuth } from './bearer-auth.ts';
import { openApiDocument } from './openapi.ts';
import { sendProblem } from './problem.ts';
import { refuseNul } from './refuse-nul.ts';

export interface ApiAppOptions {
  token: string;
  logger: Logger;
  db: Db;
  /** Seals uploaded certificates' keys and apps' env. */
  box: SecretBox;
  /** `ACME_RATE_LIMITS`, parsed: the same budgets cert-issuer reserves with (renew checks, `/v1/rate-limits`). */
  rateLimitOverrides?: RateLimitOverrides | undefined;
  /** DNS_EXEC_DIR and DNS_WEBHOOK_ALLOW: which exec and webhook DNS providers may be registered. */
  dnsProviderPolicy?: DnsProviderPolicy | undefined;
  /** Public TCP ports apps may not take, with the reason (reservedTcpPorts); default: Traefik's 80 and 443. */
  reservedTcpPorts?: ReadonlyMap<number, string> | undefined;
}

const problemTitles: Record<ApiErrorCode, { status: number; title: string }> = {
  validation: { status: 400, title: 'Bad Request' },
  unprocessable: { status: 422, title: 'Unprocessable Content' },
  'not-found': { status: 404, title: 'Not Found' },
  conflict: { status: 409, title: 'Conflict' },
};

/**
 * The HTTP API. Everything under `/v1` needs the bearer token, except the OpenAPI document (it describes the
 * API and holds no data, so clients and tooling can fetch it before they have a token); every error is
 * problem+json.
 */
export function createApiApp({
  token,
  logger,
  db,
  box,
  rateLimitOverrides,
  dnsProviderPolicy,
  reservedTcpPorts,
}: ApiAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(traceRequests());
  app.get('/v1/openapi.json', (_request, response) => {
    response.json(openApiDocument);
  });
  app.use(dashboardRoutes());
  const v1 = express.Router();
  v1.use(bearerAuth(token));
  v1.use(express.json({ limit: '1mb' }));
  v1.use(refuseNul());
  v1.use('/apps', appRoutes(db, box, reservedTcpPorts));
  v1.use(
    '/certificates',
    certificateRoutes(db, { box, checkRenewal: ledgerRenewalCheck(db, rateLimitOverrides) }),
  );
  v1.use('/dns-providers', dnsProviderRoutes(db, box, dnsProviderPolicy));
  v1.use('/settings', settingsRoutes(db));
  v1.use('/notifications', notificationRoutes(db));
  v1.use('/on-demand-hosts', onDemandHostRoutes(db));
  v1.use('/local-ca', localCaRoutes(db));
  v1.use(backupRoutes(db, box, { logger, announce: announceAllApps }));
  v1.use('/rate-limits', rateLimitRoutes(db, rateLimitOverrides));
  app.use('/v1', v1);

  app.use((request, response) => {
    sendProblem(response, 404, 'Not Found', `no resource at ${request.method} ${request.path}`);
  });
  const onError: ErrorRequestHandler = (error, _request, response, _next) => {
    if (error instanceof ApiError) {
      const { status, title } = problemTitles[error.code];
      sendProblem(
        response,
        status,
        title,
        error.message,
        error.errors.length > 0 ? { errors: error.errors } : {},
      );
      return;
    }
    const status = (error as { status?: number }).status;
    if (status === 400 && (error as { type?: string }).type === 'entity.parse.failed') {
      sendProblem(response, 400, 'Bad Request', 'the request body is not valid JSON');
      return;
    }
    if (status === 415) {
      // body-parser's own words name only the encoding or charset it refused (from the request's headers).
      sendProblem(
        response,
        415,
        'Unsupported Media Type',
        `${(error as Error).message}; send JSON in UTF-8, uncompressed or gzip/deflate/br`,
      );
      return;
    }
    if (status === 413) {
      sendProblem(response, 413, 'Payload Too Large', 'the request body is larger than 1 MB');
      return;
    }
    if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 500) {
      // Any other refusal of the request itself by the body reader (a corrupt gzip stream, a length that does
      // not match, an aborted upload): the client's fault, said without the library's internals.
      sendProblem(
        response,
        status,
        status === 400 ? 'Bad Request' : 'Client Error',
        'the request body could not be read (bad compression, length or encoding); send plain JSON',
      );
      return;
    }
    if (isDatabaseUnavailable(error)) {
      // Overload or a Postgres outage: nothing was written; the client may simply try again.
      logger.warn({ err: error }, 'database unavailable');
      response.setHeader('retry-after', '5');
      sendProblem(
        response,
        503,
        'Service Unavailable',
        'the database is busy or unreachable, nothing was changed; retry in a few seconds',
      );
      return;
    }
    logger.error({ err: error }, 'request failed');
    sendProblem(response, 500, 'Internal Server Error', 'the request failed; the server log has the details');
  };
  app.use(onError);
  return app;
}
