import type { Db } from '@gatehouse/db';
import { Router } from 'express';
import { ApiError } from '../errors.ts';

/** The media type of `GET /v1/local-ca/root.pem` (what browsers and trust-store tools expect for a PEM file). */
export const pemMediaType = 'application/x-pem-file';

/**
 * `/v1/local-ca`: the local CA's root certificate, to install in the trust stores of the machines that open
 * internal names (issue 15). Behind the bearer token like every /v1 route: the root is public material, but the
 * API has one rule for what needs a token (everything but its own description), and fetching the root is a
 * one-time operator step. The root is made by cert-issuer with the first internal name's certificate.
 */
export function localCaRoutes(db: Db): Router {
  const router = Router();
  router.get('/root.pem', async (_request, response) => {
    const root = await db
      .selectFrom('local_ca_certificates')
      .select('cert_pem')
      .where('kind', '=', 'root')
      .executeTakeFirst();
    if (!root) {
      throw new ApiError(
        'not-found',
        'the local CA does not exist yet: it is created with the first certificate for an internal name; ' +
          'add an https:// domain such as https://app.internal to an app, then fetch this again',
      );
    }
    response
      .type(pemMediaType)
      .setHeader('Content-Disposition', 'attachment; filename="gatehouse-local-ca.pem"')
      .send(root.cert_pem);
  });
  return router;
}
