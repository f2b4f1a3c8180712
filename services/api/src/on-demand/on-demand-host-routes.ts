import type { Db } from '@gatehouse/db';
import { normalizeName } from '@gatehouse/pki';
import { Router } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import type { FieldError } from '../http/field-errors.ts';
import { type PageRequest, parsePage, toPage } from '../http/pagination.ts';
import { parseQueryParameters } from '../http/query-parameters.ts';

const querySchema = {
  hostname: z.string().transform((value, ctx) => {
    const normalized = normalizeName(value);
    if (!normalized.ok) {
      ctx.addIssue({ code: 'custom', message: `must be a host name: ${normalized.reason}` });
      return z.NEVER;
    }
    return normalized.name;
  }),
};

/** 100 per page by default (as before pagination), at most 500. */
const onDemandLimits = { defaultLimit: 100, maxLimit: 500 };
const cursorKind = 'on-demand-hosts:newest';
const cursorKeyPattern = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d)?$/;

interface Filter {
  hostname?: string;
  page: PageRequest;
}

function parseQuery(query: Record<string, unknown>): Filter {
  const errors: FieldError[] = [];
  const filter: Filter = { page: parsePage(query, cursorKind, onDemandLimits, errors) };
  const after = filter.page.after;
  if (after && !(after.length === 2 && cursorKeyPattern.test(after[0]!) && after[1]!.length > 0))
    errors.push({ field: 'cursor', message: 'is not a cursor of this list; pass nextCursor unchanged' });
  Object.assign(
    filter,
    parseQueryParameters(query, querySchema, errors, {
      unknownMessage: 'is not a known filter (hostname, limit, cursor)',
      handledElsewhere: ['limit', 'cursor'],
    }),
  );
  if (errors.length > 0)
    throw new ApiError('validation', 'the query has invalid parameters; see errors', { errors });
  return filter;
}

/**
 * `GET /v1/on-demand-hosts`: the names that got a certificate at their first TLS handshake (on-demand TLS,
 * cert-issuer's terminator), newest first, with their certificate's state, in cursor pages.
 */
export function onDemandHostRoutes(db: Db): Router {
  const router = Router();
  router.get('/', async (request, response) => {
    const filter = parseQuery(request.query);
    let query = db
      .selectFrom('on_demand_hosts')
      .innerJoin('certificates', 'certificates.id', 'on_demand_hosts.certificate_id')
      .select([
        'on_demand_hosts.hostname',
        'on_demand_hosts.certificate_id',
        'on_demand_hosts.created_at',
        'certificates.status',
        'certificates.not_after',
        sql<string>`on_demand_hosts.created_at::text`.as('created_key'),
      ])
      // Newest first; ties (same microsecond) by host name, descending too, so (created_at, hostname) is one keyset.
      .orderBy('on_demand_hosts.created_at', 'desc')
      .orderBy('on_demand_hosts.hostname', 'desc')
      .limit(filter.page.limit + 1);
    if (filter.page.after) {
      const [createdKey, hostname] = filter.page.after;
      query = query.where(
        sql<boolean>`(on_demand_hosts.created_at, on_demand_hosts.hostname) < (${createdKey}::timestamptz, ${hostname})`,
      );
    }
    if (filter.hostname) query = query.where('on_demand_hosts.hostname', '=', filter.hostname);
    const shown = toPage(await query.execute(), filter.page, cursorKind, (row) => [
      row.created_key,
      row.hostname,
    ]);
    response.json({
      nextCursor: shown.nextCursor,
      hosts: shown.rows.map((row) => ({
        hostname: row.hostname,
        certificateId: row.certificate_id,
        status: row.status,
        notAfter: row.not_after?.toISOString() ?? null,
        createdAt: row.created_at.toISOString(),
      })),
    });
  });
  return router;
}
