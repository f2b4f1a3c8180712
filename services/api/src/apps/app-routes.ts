import type { Db } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import { Router } from 'express';
import { ApiError } from '../errors.ts';
import type { FieldError } from '../http/field-errors.ts';
import { parseUnfilteredPage, toPage } from '../http/pagination.ts';
import { parseCreateApp, parsePatchApp } from './app-input.ts';
import { createApp, deleteApp, getAppOrThrow, getAppWwwOrThrow, listApps, updateApp } from './app-service.ts';
import { traefikReservedPorts } from './tcp-ports.ts';

/** `/v1/apps`: create, list (by name, cursor pages), show, patch, delete. Refusals are thrown as ApiError for the problem handler. */
export function appRoutes(
  db: Db,
  box: SecretBox,
  /** Public TCP ports no app may take, with the reason (reservedTcpPorts). */
  reservedPorts: ReadonlyMap<number, string> = traefikReservedPorts,
): Router {
  const router = Router();

  router.post('/', async (request, response) => {
    const parsed = parseCreateApp(request.body, reservedPorts);
    if (!parsed.ok) throw invalid(parsed.errors, parsed.unprocessable);
    const app = await createApp(db, box, parsed.value);
    response.status(201).location(`/v1/apps/${app.name}`).json(app);
  });

  router.get('/', async (request, response) => {
    const page = parseUnfilteredPage(request.query, 'apps:name');
    const apps = await listApps(db, box, { limit: page.limit + 1, afterName: page.after?.[0] });
    const shown = toPage(apps, page, 'apps:name', (app) => [app.name]);
    response.json({ apps: shown.rows, nextCursor: shown.nextCursor });
  });

  router.get('/:name', async (request, response) => {
    // Env values are secrets: shown masked unless asked for by name (`?reveal=env`).
    const reveal = request.query.reveal;
    if (reveal !== undefined && reveal !== 'env')
      throw new ApiError('validation', 'reveal accepts only `env`', {
        errors: [{ field: 'reveal', message: 'must be env' }],
      });
    response.json(await getAppOrThrow(db, box, request.params.name, { revealEnv: reveal === 'env' }));
  });

  router.patch('/:name', async (request, response) => {
    const www = await getAppWwwOrThrow(db, request.params.name);
    const parsed = parsePatchApp(request.body, www, reservedPorts);
    if (!parsed.ok) throw invalid(parsed.errors, parsed.unprocessable);
    response.json(await updateApp(db, box, request.params.name, parsed.value));
  });

  router.delete('/:name', async (request, response) => {
    response.status(202).json(await deleteApp(db, request.params.name));
  });

  return router;
}

/** A 400 for malformed fields; a 422 when the only refusals are certificate modes the names cannot have. */
function invalid(errors: FieldError[], unprocessable: boolean): ApiError {
  const fields = [...new Set(errors.map((error) => error.field))].join(', ');
  if (unprocessable) {
    return new ApiError(
      'unprocessable',
      `the certificate mode cannot serve these names (${fields}): ${errors.map((error) => error.message).join('; ')}`,
      { errors },
    );
  }
  return new ApiError('validation', `the request has invalid fields: ${fields}; see errors`, { errors });
}
