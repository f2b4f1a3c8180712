import { traceRequests } from '@gatehouse/runtime';
import type { Logger } from '@gatehouse/telemetry';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { bearerAuth } from './bearer-auth.ts';
import { sendProblem } from './problem.ts';

export interface ApiAppOptions {
  token: string;
  logger: Logger;
}

/**
 * The HTTP API. Everything under `/v1` needs the bearer token; every error is problem+json.
 * Resource routes (apps, certificates, DNS providers) mount on `v1`.
 */
export function createApiApp({ token, logger }: ApiAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(traceRequests());
  const v1 = express.Router();
  v1.use(bearerAuth(token));
  v1.use(express.json({ limit: '1mb' }));
  app.use('/v1', v1);

  app.use((request, response) => {
    sendProblem(response, 404, 'Not Found', `no resource at ${request.method} ${request.path}`);
  });
  const onError: ErrorRequestHandler = (error, _request, response, _next) => {
    const status = (error as { status?: number }).status;
    if (status === 400 && (error as { type?: string }).type === 'entity.parse.failed') {
      sendProblem(response, 400, 'Bad Request', 'the request body is not valid JSON');
      return;
    }
    if (status === 413) {
      sendProblem(response, 413, 'Payload Too Large', 'the request body is larger than 1 MB');
      return;
    }
    logger.error({ err: error }, 'request failed');
    sendProblem(response, 500, 'Internal Server Error', 'the request failed; the server log has the details');
  };
  app.use(onError);
  return app;
}
