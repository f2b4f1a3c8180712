import { createTestDatabase, insertCertificateRow, type TestDatabase } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateMetricsSource } from '../src/metrics/certificate-metrics.ts';

const DAY = 86_400_000;

// The certificate metrics as a scrape reads them from a real database.
describe('certificate metrics', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('certificate_metrics');
  });
  afterAll(async () => {
    await database?.drop();
  });

  /** A valid ACME certificate from ca.test, 60 days left, with `columns` changed. */
  const insert = (name: string, columns: Parameters<typeof insertCertificateRow>[2]) =>
    insertCertificateRow(database.db, name, {
      issuer: 'https://ca.test/dir',
      not_before: new Date(Date.now() - DAY),
      not_after: new Date(Date.now() + 60 * DAY),
      ...columns,
    });

  it('metrics - a certificate no app uses has no series and is counted as released; the ones in use keep theirs', async () => {
    const served = await insert('served.test', { renew_at: new Date(Date.now() + 30 * DAY) });
    const released = await insert('released.test', { released_at: new Date() });
    const expiredUnused = await insert('expired-unused.test', {
      status: 'expired',
      released_at: new Date(Date.now() - 90 * DAY),
      not_after: new Date(Date.now() - DAY),
    });

    const text = await certificateMetricsSource(database.db, { limit: 100 })();
    expect(text).toContain(
      `gatehouse_certificate_expiration_timestamp_seconds{name="served.test",id="${served}"`,
    );
    expect(text).toContain(
      `gatehouse_certificate_ready_status{name="served.test",id="${served}",issuer="ca.test",source="acme",condition="True"} 1`,
    );
    for (const id of [released, expiredUnused]) expect(text).not.toContain(id);
    expect(text).toContain('gatehouse_certificates{status="valid",source="acme",issuer="ca.test"} 1\n');
    expect(text).not.toContain('gatehouse_certificates{status="expired"');
    expect(text).toContain('gatehouse_certificates_released{source="acme"} 2\n');
    expect(text).toContain('gatehouse_certificate_metrics_omitted 0\n');
  });
});
