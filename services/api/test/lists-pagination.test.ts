import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, type Json, startApiHarness } from './api-harness.ts';

/** Follows `nextCursor` from the first page to the last; returns every page's ids. */
async function allPages(
  api: ApiHarness,
  template: string,
  field: string,
  query: Record<string, string>,
  idOf: (row: Json) => string,
): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  for (;;) {
    const response = await api.call('GET', template, { query: { ...query, ...(cursor ? { cursor } : {}) } });
    expect(response.status).toBe(200);
    pages.push(response.body[field].map(idOf));
    if (response.body.nextCursor === null) return pages;
    cursor = response.body.nextCursor;
    if (pages.length > 100) throw new Error('pagination does not end');
  }
}

describe('api list pagination', () => {
  let api: ApiHarness;
  const certificateIds: string[] = [];
  beforeAll(async () => {
    api = await startApiHarness('api_pages');
    // 25 certificates: some share a created_at to the microsecond (ties must not be lost or repeated between
    // pages), expiry spread both ways, a few never issued.
    const base = Date.parse('2026-01-01T00:00:00Z');
    const rows = Array.from({ length: 25 }, (_, index) => {
      const id = randomUUID();
      certificateIds.push(id);
      const issued = index % 5 !== 4;
      return {
        id,
        names: [`site${index}.pages.test`],
        names_key: `site${index}.pages.test`,
        status: issued ? ('valid' as const) : ('pending' as const),
        source: 'acme' as const,
        not_before: issued ? new Date(base) : null,
        not_after: issued ? new Date(base + ((index * 7) % 25) * 86_400_000) : null,
        created_at: new Date(base + Math.floor(index / 3) * 1000),
      };
    });
    await api.db.insertInto('certificates').values(rows).execute();
    await api.db
      .insertInto('apps')
      .values(
        Array.from({ length: 7 }, (_, index) => ({
          id: randomUUID(),
          name: `app-${String(index).padStart(2, '0')}`,
          image: 'busybox',
          port: 8000 + index,
          revision: 1,
        })),
      )
      .execute();
    const app = await api.db
      .selectFrom('apps')
      .select('id')
      .where('name', '=', 'app-03')
      .executeTakeFirstOrThrow();
    await api.db
      .insertInto('app_certificates')
      .values([certificateIds[2]!, certificateIds[9]!].map((id) => ({ app_id: app.id, certificate_id: id })))
      .execute();
    const notificationTime = new Date('2026-02-01T00:00:00Z');
    await api.db
      .insertInto('notifications')
      .values(
        Array.from({ length: 12 }, (_, index) => ({
          id: randomUUID(),
          kind: 'issue-failed',
          subject: `mail ${index}`,
          body: 'body',
          recipients: ['ops@example.test'],
          status: 'sent',
          // Pairs share a timestamp.
          created_at: new Date(notificationTime.getTime() + Math.floor(index / 2) * 1000),
        })),
      )
      .execute();
    for (const zone of ['a.test', 'b.test', 'c.test', 'd.test', 'e.test']) {
      await api.db
        .insertInto('dns_providers')
        .values({
          id: randomUUID(),
          zone,
          kind: 'webhook',
          config: JSON.stringify({ url: 'https://dns.example/hook' }),
          secret_encrypted: null,
        })
        .execute();
    }
  });
  afterAll(() => api.close());

  it('api pagination - certificates come in pages that together list each one exactly once, in order', async () => {
    const pages = await allPages(api, '/v1/certificates', 'certificates', { limit: '4' }, (row) => row.id);
    expect(pages).toHaveLength(7);
    expect(pages.slice(0, -1).every((page) => page.length === 4)).toBe(true);
    const ids = pages.flat();
    expect(new Set(ids).size).toBe(25);
    const expected = await api.db
      .selectFrom('certificates')
      .select('id')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    expect(ids).toEqual(expected.map((row) => row.id));
  });

  it('api pagination - sort by expiry: soonest first, never-issued last, stable across pages', async () => {
    const pages = await allPages(
      api,
      '/v1/certificates',
      'certificates',
      { limit: '6', sort: 'expiry' },
      (row) => row.id,
    );
    const ids = pages.flat();
    expect(new Set(ids).size).toBe(25);
    const rows = await sql<{ id: string }>`select id from certificates
      order by coalesce(not_after, 'infinity'::timestamptz), id`.execute(api.db);
    expect(ids).toEqual(rows.rows.map((row) => row.id));
    const last = await api.call('GET', '/v1/certificates', { query: { sort: 'expiry', limit: '1000' } });
    const notAfters = last.body.certificates.map((row: Json) => row.notAfter);
    expect(notAfters.slice(-5)).toEqual([null, null, null, null, null]);
  });

  it('api pagination - filters by status, app and text combine with pages', async () => {
    const pending = await allPages(
      api,
      '/v1/certificates',
      'certificates',
      { status: 'pending', limit: '2' },
      (row) => row.id,
    );
    expect(pending.flat()).toHaveLength(5);
    const ofApp = await api.call('GET', '/v1/certificates', { query: { app: 'app-03' } });
    expect(ofApp.body.certificates.map((row: Json) => row.id).sort()).toEqual(
      [certificateIds[2], certificateIds[9]].sort(),
    );
    const text = await api.call('GET', '/v1/certificates', { query: { q: 'SITE1' } });
    // site1, site10..site19
    expect(text.body.certificates).toHaveLength(11);
    const literal = await api.call('GET', '/v1/certificates', { query: { q: 'site_' } });
    expect(literal.body.certificates).toHaveLength(0);
  });

  it('api pagination - a cursor from another order or list, or a made-up one, is a 400 naming it', async () => {
    const first = await api.call('GET', '/v1/certificates', { query: { limit: '2' } });
    const cursor = first.body.nextCursor as string;
    const queries: Array<Record<string, string>> = [
      { cursor, sort: 'expiry' },
      { cursor: 'bm90LWEtY3Vyc29y' },
      {
        cursor: Buffer.from(JSON.stringify({ k: 'certificates:created', v: ['x', 'y'] })).toString(
          'base64url',
        ),
      },
      { limit: '0' },
      { limit: '1001' },
      { limit: 'ten' },
    ];
    for (const query of queries) {
      const response = await api.call('GET', '/v1/certificates', { query });
      expect(response.status).toBe(400);
      expect(response.body.errors.map((error: Json) => error.field)).toEqual([
        Object.keys(query).includes('limit') ? 'limit' : 'cursor',
      ]);
    }
    const apps = await api.call('GET', '/v1/apps', { query: { cursor } });
    expect(apps.status).toBe(400);
    expect(apps.body.errors[0].field).toBe('cursor');
  });

  it('api pagination - apps by name, DNS providers by zone, notifications newest first, in pages', async () => {
    const apps = await allPages(api, '/v1/apps', 'apps', { limit: '3' }, (row) => row.name);
    expect(apps).toEqual([['app-00', 'app-01', 'app-02'], ['app-03', 'app-04', 'app-05'], ['app-06']]);
    const zones = await allPages(api, '/v1/dns-providers', 'dnsProviders', { limit: '2' }, (row) => row.zone);
    expect(zones).toEqual([['a.test', 'b.test'], ['c.test', 'd.test'], ['e.test']]);
    const mails = await allPages(
      api,
      '/v1/notifications',
      'notifications',
      { limit: '5' },
      (row) => row.subject,
    );
    expect(mails.map((page) => page.length)).toEqual([5, 5, 2]);
    const subjects = mails.flat();
    expect(new Set(subjects).size).toBe(12);
    // Newest first: pairs share a second, so the later pair comes before the earlier one.
    const second = (subject: string) => Math.floor(Number(subject.split(' ')[1]) / 2);
    const order = subjects.map(second);
    expect(order).toEqual([...order].sort((a, b) => b - a));
  });

  it('api pagination - without limit a list is one page as before (nextCursor null), old clients keep working', async () => {
    const apps = await api.call('GET', '/v1/apps');
    expect(apps.body.apps).toHaveLength(7);
    expect(apps.body.nextCursor).toBeNull();
    const certificates = await api.call('GET', '/v1/certificates');
    expect(certificates.body.certificates).toHaveLength(25);
    expect(certificates.body.nextCursor).toBeNull();
  });
});
