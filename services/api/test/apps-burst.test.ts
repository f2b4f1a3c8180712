import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness, token } from './api-harness.ts';

/**
 * Issue 14: a busy but working api queues a burst of creates instead of refusing part of it with 503. The api
 * gets a pool of 2 connections; while the burst arrives, another session holds a lock every create needs for
 * longer than pg-pool's connect timeout (5 s), the way a slow moment of Postgres (a long transaction, a
 * checkpoint, a loaded machine) keeps the pool busy. Creates queue for a connection and all succeed once the
 * lock is gone; a Postgres that cannot be reached still gets its fast 503 (http.test.ts).
 */
describe('api apps burst', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApiHarness('api_burst', { maxConnections: 2 });
  });
  afterAll(() => api.close());

  it('api - 100 concurrent POST /v1/apps on a busy pool of 2 are all created, none refused with 503', async () => {
    const apps = 100;
    // Longer than the old pool wait (connectionTimeoutMillis 5 s), which answered every later create with 503.
    const holdMs = 6_500;
    const holder = api.db.transaction().execute(async (trx) => {
      // Every create inserts into apps (ROW EXCLUSIVE), which waits behind this lock; its reads do not.
      await sql`lock table apps in exclusive mode`.execute(trx);
      await new Promise((resolve) => setTimeout(resolve, holdMs));
    });
    const statuses = await Promise.all(
      Array.from({ length: apps }, async (_, index) => {
        const response = await fetch(`${api.base}/v1/apps`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            name: `burst-${index}`,
            image: 'gatehouse-test/busybox:1',
            port: 8080,
            domains: [`https://burst-${index}.example${index}.test`],
          }),
        });
        await response.arrayBuffer();
        return response.status;
      }),
    );
    await holder;

    const countsByStatus: Record<string, number> = {};
    for (const status of statuses) countsByStatus[status] = (countsByStatus[status] ?? 0) + 1;
    expect(countsByStatus).toEqual({ 201: apps });
    const rows = await api.db.selectFrom('apps').select('name').execute();
    expect(rows).toHaveLength(apps);
    expect(await api.events('apps.created')).toHaveLength(apps);
  }, 60_000);
});
