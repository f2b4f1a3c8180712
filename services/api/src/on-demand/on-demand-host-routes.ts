import type { Db } from '@gatehouse/db';
import { normalizeName } from '@gatehouse/pki';
import { Router } from 'express';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import type { FieldError } from '../http/field-errors.ts';
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
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(500, 'must be at most 500'),
};

interface Filter {
  hostname?: string;
  limit: number;
}

function parseQuery(query: Record<string, unknown>): Filter {
  const errors: FieldError[] = [];
  const filter: Filter = {
    limit: 100,
    ...parseQueryParameters(query, querySchema, errors, {
      unknownMessage: 'is not a known filter (hostname, limit)',
    }),
  };
  if (errors.length > 0)
    throw new ApiError('validation', 'the query has invalid parameters; see errors', { errors });
  return filter;
}

/**
 * `GET /v1/on-demand-hosts`: the names that got a certificate at their first TLS handshake (on-demand TLS,
 * cert-issuer's terminator), newest first, with their certificate's state.
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
      ])
      .orderBy('on_demand_hosts.created_at', 'desc')
      .orderBy('on_demand_hosts.hostname')
      .limit(filter.limit);
    if (filter.hostname) query = query.where('on_demand_hosts.hostname', '=', filter.hostname);
    const rows = await query.execute();
    response.json({
      hosts: rows.map((row) => ({
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
