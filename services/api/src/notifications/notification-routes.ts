import { type Db, type NotificationKind, notificationKinds } from '@gatehouse/db';
import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import type { FieldError } from '../http/field-errors.ts';
import { type PageRequest, parsePage, toPage } from '../http/pagination.ts';
import { parseQueryParameters } from '../http/query-parameters.ts';

const querySchema = {
  certificateId: z.uuid({ error: 'must be a certificate id (a UUID)' }),
  kind: z.enum(notificationKinds, { error: `must be one of ${notificationKinds.join(', ')}` }),
};

/** Notifications keep their own page size (50 by default, as before pagination; at most 500). */
const notificationLimits = { defaultLimit: 50, maxLimit: 500 };
const cursorKind = 'notifications:newest';
const cursorKeyPattern = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d)?$/;

interface Filter {
  certificateId?: string;
  kind?: NotificationKind;
  page: PageRequest;
}

function parseQuery(query: Record<string, unknown>): Filter {
  const errors: FieldError[] = [];
  const filter: Filter = { page: parsePage(query, cursorKind, notificationLimits, errors) };
  const after = filter.page.after;
  if (
    after &&
    !(after.length === 2 && cursorKeyPattern.test(after[0]!) && z.uuid().safeParse(after[1]).success)
  )
    errors.push({ field: 'cursor', message: 'is not a cursor of this list; pass nextCursor unchanged' });
  Object.assign(
    filter,
    parseQueryParameters(query, querySchema, errors, {
      unknownMessage: 'is not a known filter (certificateId, kind, limit, cursor)',
      handledElsewhere: ['limit', 'cursor'],
    }),
  );
  if (errors.length > 0)
    throw new ApiError('validation', 'the query has invalid parameters; see errors', { errors });
  return filter;
}

/** `GET /v1/notifications`: what the notifier recorded and sent, newest first, in cursor pages. */
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
        sql<string>`created_at::text`.as('created_key'),
      ])
      // Newest first; ties (same microsecond) by id, descending too, so (created_at, id) is one keyset.
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.page.limit + 1);
    if (filter.page.after) {
      const [createdKey, id] = filter.page.after;
      query = query.where(sql<boolean>`(created_at, id) < (${createdKey}::timestamptz, ${id}::uuid)`);
    }
    if (filter.certificateId) query = query.where('certificate_id', '=', filter.certificateId);
    if (filter.kind) query = query.where('kind', '=', filter.kind);
    const shown = toPage(await query.execute(), filter.page, cursorKind, (row) => [row.created_key, row.id]);
    response.json({
      nextCursor: shown.nextCursor,
      notifications: shown.rows.map((row) => ({
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
