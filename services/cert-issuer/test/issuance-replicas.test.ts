import { type CertIssuerProcess, requestCertificate, startCertIssuer } from '@gatehouse/service-harness';
import {
  createTestDatabase,
  freePort,
  startNatsServer,
  startPebble,
  type TestDatabase,
  type TestNatsServer,
  type TestPebble,
  waitFor,
} from '@gatehouse/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const suffix = Math.random().toString(36).slice(2, 8);

describe('issuance replicas', { timeout: 240_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let pebble: TestPebble;
  const replicas: CertIssuerProcess[] = [];
  beforeAll(async () => {
    const http01Port = await freePort();
    [database, nats, pebble] = await Promise.all([
      createTestDatabase('replicas'),
      startNatsServer(),
      startPebble({ httpPort: http01Port }),
    ]);
    // Only one replica answers HTTP-01 on Pebble's port; tokens live in Postgres, so it answers for all.
    for (let index = 0; index < 3; index++) {
      replicas.push(
        await startCertIssuer({
          database,
          nats,
          pebbles: [pebble],
          http01Port: index === 0 ? http01Port : undefined,
        }),
      );
    }
  });
  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await Promise.all([database?.drop(), nats?.stop(), pebble?.stop()]);
  });

  it('replicas - 3 replicas, 200 requests for 100 name sets: 100 certificates, no duplicate orders', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 100; index++) {
      ids.push(await requestCertificate(database.db, [`r${index}-${suffix}.test`], { challenge: 'http-01' }));
    }
    // Each name set requested a second time while the first request is queued or in flight.
    for (const id of ids) {
      const row = await database.db
        .selectFrom('certificates')
        .select('names')
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      await requestCertificate(database.db, row.names, { certificateId: id, challenge: 'http-01' });
    }
    await waitFor(
      '100 valid certificates',
      async () => {
        const { rows } = await sql<{
          n: string;
        }>`select count(*) as n from certificates where status = 'valid'`.execute(database.db);
        return Number(rows[0]?.n) === 100;
      },
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    const { rows: orders } = await sql<{ certificate_id: string; n: string }>`
      select certificate_id, count(*) as n from orders where status = 'valid' group by certificate_id`.execute(
      database.db,
    );
    expect(orders).toHaveLength(100);
    expect(orders.every((row) => Number(row.n) === 1)).toBe(true);
    const { rows: successes } = await sql<{ n: string }>`
      select count(*) as n from order_attempts where outcome = 'success'`.execute(database.db);
    expect(Number(successes[0]?.n)).toBe(100);
    // The work was shared: every replica placed some orders (holders are recorded on the jobs' leases
    // only while running, so count by the consumer-created jobs' attempts per process log instead).
    const issuedBy = replicas.map(
      (replica) => (replica.output().match(/"msg":"certificate issued"/g) ?? []).length,
    );
    expect(issuedBy.reduce((sum, count) => sum + count, 0)).toBe(100);
    expect(issuedBy.filter((count) => count > 0).length).toBeGreaterThanOrEqual(2);
  });
});
