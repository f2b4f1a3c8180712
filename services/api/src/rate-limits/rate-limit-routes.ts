import type { Db } from '@gatehouse/db';
import type { RateLimitOverrides } from '@gatehouse/rate-limits';
import { Router } from 'express';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { type FieldError, fieldPath } from '../http/field-errors.ts';
import { type BudgetKind, budgetKinds, listBudgets } from './rate-limit-budgets.ts';

/**
 * `GET /v1/rate-limits`: the CA budgets in use (per account, per registered domain, per exact name set,
 * failed authorizations per name): used / max / window / next free slot, from the ledger cert-issuer reserves
 * from. `?kind=` narrows it (repeatable or comma-separated).
 */
export function rateLimitRoutes(db: Db, overrides: RateLimitOverrides | undefined): Router {
  const router = Router();
  router.get('/', async (request, response) => {
    const kinds = parseKinds(request.query);
    const now = new Date();
    const budgets = await listBudgets(db, { kinds, overrides, now });
    response.json({
      at: now.toISOString(),
      budgets: budgets.map((budget) => ({
        ...budget,
        nextSlotAt: budget.nextSlotAt?.toISOString() ?? null,
      })),
    });
  });
  return router;
}

function parseKinds(query: Record<string, unknown>): BudgetKind[] {
  const errors: FieldError[] = [];
  for (const key of Object.keys(query)) {
    if (key !== 'kind') errors.push({ field: fieldPath([key]), message: 'is not a known parameter (kind)' });
  }
  let kinds: BudgetKind[] = [...budgetKinds];
  if (query.kind !== undefined) {
    const raw = (Array.isArray(query.kind) ? query.kind : [query.kind]).flatMap((value) =>
      typeof value === 'string' ? value.split(',') : [''],
    );
    const parsed = z.array(z.enum(budgetKinds)).safeParse(raw.map((value) => value.trim()));
    if (parsed.success) kinds = [...new Set(parsed.data)];
    else errors.push({ field: 'kind', message: `must be one or more of ${budgetKinds.join(', ')}` });
  }
  if (errors.length > 0)
    throw new ApiError('validation', 'the query has invalid parameters; see errors', { errors });
  return kinds;
}
