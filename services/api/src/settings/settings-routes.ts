import type { Db } from '@gatehouse/db';
import { certsFallbackChanged, createEvent } from '@gatehouse/events';
import { enqueue } from '@gatehouse/messaging';
import { Router } from 'express';
import { ApiError } from '../errors.ts';
import { parseRequestBody } from '../http/request-body.ts';
import { deleteSetting, readSettings, settingKeys, writeSetting } from './settings.repository.ts';
import { adminEmailsSchema, fallbackCertificateSchema } from './settings-input.ts';

/** `/v1/settings`: the fallback wildcard certificate and the admin mail list. */
export function settingsRoutes(db: Db): Router {
  const router = Router();

  router.get('/', async (_request, response) => {
    response.json(await settingsView(db));
  });

  router.put('/admin-emails', async (request, response) => {
    const { emails } = parseRequestBody(
      adminEmailsSchema,
      request.body,
      'give {"emails": ["ops@example.com", …]}; the invalid entries are listed in errors',
    );
    // One entry per mailbox: the domain part is case-insensitive and nobody writes the local part in capitals twice.
    await writeSetting(db, settingKeys.adminEmails, [...new Set(emails.map((email) => email.toLowerCase()))]);
    response.json(await settingsView(db));
  });

  router.put('/fallback-certificate', async (request, response) => {
    const { certificateId: id } = parseRequestBody(
      fallbackCertificateSchema,
      request.body,
      'give {"certificateId": "<uuid>"} of an uploaded wildcard certificate',
    );
    await db.transaction().execute(async (trx) => {
      // Lock so a concurrent DELETE of the certificate cannot slip between the check and the write.
      const certificate = await trx
        .selectFrom('certificates')
        .select(['id', 'names', 'source', 'status', 'not_after'])
        .where('id', '=', id)
        .forShare()
        .executeTakeFirst();
      if (!certificate) {
        throw new ApiError('not-found', `there is no certificate ${id}; GET /v1/certificates lists them`);
      }
      const problem = fallbackProblem(certificate);
      if (problem !== undefined) {
        throw new ApiError('validation', problem, { errors: [{ field: 'certificateId', message: problem }] });
      }
      await writeSetting(trx, settingKeys.fallbackCertificateId, id);
      await enqueue(trx, fallbackChanged(id));
    });
    response.json(await settingsView(db));
  });

  router.delete('/fallback-certificate', async (_request, response) => {
    await db.transaction().execute(async (trx) => {
      await deleteSetting(trx, settingKeys.fallbackCertificateId);
      await enqueue(trx, fallbackChanged(null));
    });
    response.json(await settingsView(db));
  });

  return router;
}

/** Tells proxy-config (and anyone else) to choose certificates again for names on a fallback. */
function fallbackChanged(certificateId: string | null) {
  return createEvent(certsFallbackChanged, {
    source: 'api',
    subject: certificateId ?? 'none',
    data: { certificateId },
  });
}

function fallbackProblem(certificate: {
  names: string[];
  source: string;
  status: string;
  not_after: Date | null;
}): string | undefined {
  if (certificate.source !== 'custom')
    return 'only an uploaded (custom) certificate can be the fallback; upload one with POST /v1/certificates';
  if (
    certificate.status !== 'valid' ||
    (certificate.not_after !== null && certificate.not_after <= new Date())
  )
    return 'the certificate is not valid (expired?); upload a current one';
  if (!certificate.names.some((name) => name.startsWith('*.')))
    return 'the fallback must be a wildcard certificate (a name such as *.example.com)';
  return undefined;
}

async function settingsView(
  db: Db,
): Promise<{ fallbackCertificateId: string | null; adminEmails: string[] }> {
  const settings = await readSettings(db);
  const fallback = settings.get(settingKeys.fallbackCertificateId);
  const emails = settings.get(settingKeys.adminEmails);
  return {
    fallbackCertificateId: typeof fallback === 'string' ? fallback : null,
    adminEmails: Array.isArray(emails)
      ? emails.filter((email): email is string => typeof email === 'string')
      : [],
  };
}
