import type { Db } from '@gatehouse/db';
import { Router } from 'express';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { type FieldError, fieldPath } from '../http/field-errors.ts';

/** The kinds the notifier records (see services/notifier). */
export const notificationKinds = [
  'issue-failed',
  'reminder',
  'expiring',
  'fallback-activated',
  'recovered',
  'digest',
] as const;
/** pending → sent | digested (went out inside a digest) | unsent (no SMTP or no address) | failed (gave up). */
export const notificationStatuses = ['pending', 'sent', 'digested', 'unsent', 'failed'] as const;

const querySchema = {
  certificateId: z.uuid({ error: 'must be a certificate id (a UUID)' }),
  kind: z.enum(notificationKinds, { error: `must be one of ${notificationKinds.join(', ')}` }),
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(500, 'must be at most 500'),
};

interface Filter {
  certificateId?: string;
  kind?: string;
  limit: number;
}

function parseQuery(query: Record<string, unknown>): Filter {
  const errors: FieldError[] = [];
  const filter: Filter = { limit: 50 };
  for (const [key, value] of Object.entries(query)) {
    if (!(key in querySchema)) {
      errors.push({ field: fieldPath([key]), message: 'is not a known filter (certificateId, kind, limit)' });
      continue;
    }
    const parsed = querySchema[key as keyof typeof querySchema].safeParse(value);
    if (!parsed.success)
      errors.push({ field: key, message: parsed.error.issues[0]?.message ?? 'is invalid' });
    else Object.assign(filter, { [key]: parsed.data });
  }
  if (errors.length > 0)
    throw new ApiError('validation', 'the query has invalid parameters; see errors', { errors });
  return filter;
}

/** `GET /v1/notifications`: what the notifier recorded and sent, newest first. */
export function notificationRoutes(db: Db): Router {
  const router = Router();
  router.get('/', async (request, response) => {
    const filter = parseQuery(request.query);
    let query = db
      .selectFrom('notifications')
      .select([
        'id',
        'kind',
        'certificate_id',
        'subject',
        'body',
        'recipients',
        'status',
        'attempts',
        'last_error',
        'sent_at',
        'created_at',
      ])
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(filter.limit);
    if (filter.certificateId) query = query.where('certificate_id', '=', filter.certificateId);
    if (filter.kind) query = query.where('kind', '=', filter.kind);
    const rows = await query.execute();
    response.json({
      notifications: rows.map((row) => ({
        id: row.id,
        kind: row.kind,
        certificateId: row.certificate_id,
        subject: row.subject,
        body: row.body,
        recipients: row.recipients,
        status: row.status,
        attempts: row.attempts,
        lastError: row.last_error,
        sentAt: row.sent_at?.toISOString() ?? null,
        createdAt: row.created_at.toISOString(),
      })),
    });
  });
  return router;
}
