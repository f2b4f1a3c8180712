import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { type FieldError, fieldPath } from './field-errors.ts';

/**
 * Cursor pagination for the list endpoints (`?limit=&cursor=`, answered with `nextCursor`).
 *
 * Contract: a cursor is opaque to clients. It carries the sort key of the last row of a page (keyset
 * pagination), so page N costs what page 1 costs and rows inserted or deleted between calls never shift a page.
 * It also names the list and order it belongs to: a cursor from another list or order is refused (400), never
 * misread. `nextCursor` is null on the last page.
 */
export interface PageRequest {
  limit: number;
  /** The sort key values after which the page starts; undefined for the first page. */
  after: string[] | undefined;
}

export interface PageLimits {
  /** Rows per page when `limit` is not given. */
  defaultLimit: number;
  maxLimit: number;
}

/** The list endpoints' defaults: generous enough that small installations never see a second page. */
export const listLimits: PageLimits = { defaultLimit: 100, maxLimit: 1000 };

const cursorSchema = z.object({ k: z.string(), v: z.array(z.string()).min(1).max(4) });

/** Encodes the sort key of a page's last row; `kind` names the list and its order (e.g. `certificates:expiry`). */
export function encodeCursor(kind: string, values: readonly string[]): string {
  return Buffer.from(JSON.stringify({ k: kind, v: values })).toString('base64url');
}

/**
 * Reads `limit` and `cursor` from a query; problems are appended to `errors` (the caller reports them with the
 * other query problems, in one 400).
 */
export function parsePage(
  query: Record<string, unknown>,
  kind: string,
  limits: PageLimits,
  errors: FieldError[],
): PageRequest {
  const page: PageRequest = { limit: limits.defaultLimit, after: undefined };
  if (query.limit !== undefined) {
    const problem = limitProblem(query.limit, limits.maxLimit);
    if (problem === undefined) page.limit = Number(query.limit);
    else errors.push({ field: 'limit', message: problem });
  }
  if (query.cursor !== undefined) {
    const after = decodeCursor(query.cursor, kind);
    if (after) page.after = after;
    else
      errors.push({
        field: 'cursor',
        message: 'is not a cursor of this list and order; pass nextCursor from the previous page unchanged',
      });
  }
  return page;
}

/** The page of a list that takes no filters: any parameter but `limit` and `cursor` is a 400, as is a bad one. */
export function parseUnfilteredPage(query: Record<string, unknown>, kind: string): PageRequest {
  const errors: FieldError[] = [];
  for (const key of Object.keys(query)) {
    if (key !== 'limit' && key !== 'cursor')
      errors.push({ field: fieldPath([key]), message: 'is not a known parameter (limit, cursor)' });
  }
  const page = parsePage(query, kind, listLimits, errors);
  if (errors.length > 0)
    throw new ApiError('validation', 'the query has invalid parameters; see errors', { errors });
  return page;
}

function limitProblem(raw: unknown, max: number): string | undefined {
  if (typeof raw !== 'string' || raw.trim() === '' || Number.isNaN(Number(raw))) return 'must be a number';
  const limit = Number(raw);
  if (!Number.isInteger(limit)) return 'must be a whole number';
  if (limit < 1) return 'must be at least 1';
  if (limit > max) return `must be at most ${max}`;
  return undefined;
}

function decodeCursor(raw: unknown, kind: string): string[] | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 1024) return undefined;
  try {
    const parsed = cursorSchema.safeParse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    return parsed.success && parsed.data.k === kind ? parsed.data.v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Splits a query result fetched with `limit + 1` rows into the page and its `nextCursor`: the extra row only
 * tells that another page exists, so a client never gets an empty last page.
 */
export function toPage<Row>(
  rows: readonly Row[],
  page: PageRequest,
  kind: string,
  keyOf: (row: Row) => string[],
): { rows: Row[]; nextCursor: string | null } {
  if (rows.length <= page.limit) return { rows: [...rows], nextCursor: null };
  const shown = rows.slice(0, page.limit);
  return { rows: shown, nextCursor: encodeCursor(kind, keyOf(shown[shown.length - 1]!)) };
}
