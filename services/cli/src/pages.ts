import type { z } from 'zod';
import type { ApiClient } from './api-client.ts';
import { parseAnswer } from './views.ts';

/**
 * Every row of a paginated list, following `nextCursor` (1000 per page) until the last page or until
 * `enough(row)` says stop (for lists in a useful order, e.g. by expiry).
 */
export async function collectPages<Row>(
  client: ApiClient,
  path: string,
  query: Record<string, string>,
  schema: z.ZodType<{ nextCursor: string | null } & Record<string, unknown>>,
  field: string,
  enough: (row: Row) => boolean = () => false,
): Promise<Row[]> {
  const rows: Row[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ ...query, limit: '1000', ...(cursor ? { cursor } : {}) });
    const { body } = await client.request('GET', `${path}?${params}`);
    const page = parseAnswer(schema, body, path);
    for (const row of page[field] as Row[]) {
      if (enough(row)) return rows;
      rows.push(row);
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
  return rows;
}
