import type { Db } from '@gatehouse/db';
import { traceRequests } from '@gatehouse/runtime';
import express, { type Express } from 'express';

/** RFC 8555 §8.3: the token is base64url, at least 128 bits of entropy (22+ characters). */
const tokenPattern = /^[A-Za-z0-9_-]{22,256}$/;

/**
 * Answers `GET /.well-known/acme-challenge/<token>` with its key authorization from Postgres, so
 * any replica can answer for an order another replica placed. The Host header (whose port varies:
 * Pebble sends `name:5002`) is ignored: the token alone identifies the challenge. Expired and
 * unknown tokens get 404.
 */
export function createHttp01Responder(db: Db): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(traceRequests());
  app.get('/.well-known/acme-challenge/:token', async (request, response, next) => {
    const token = request.params.token;
    if (!tokenPattern.test(token)) {
      response.status(404).type('text/plain').send('not found');
      return;
    }
    try {
      const row = await db
        .selectFrom('http01_tokens')
        .select('key_authorization')
        .where('token', '=', token)
        .where('expires_at', '>', new Date())
        .executeTakeFirst();
      if (!row) {
        response.status(404).type('text/plain').send('not found');
        return;
      }
      response.status(200).type('text/plain').send(row.key_authorization);
    } catch (error) {
      next(error);
    }
  });
  app.use((_request, response) => {
    response.status(404).type('text/plain').send('not found');
  });
  return app;
}
