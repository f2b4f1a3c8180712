import { randomUUID } from 'node:crypto';
import type { NotificationKind, NotificationStatus } from '@gatehouse/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

describe('api notifications', () => {
  let api: ApiHarness;
  const certificate = randomUUID();
  const ids = { failed: randomUUID(), reminder: randomUUID(), digest: randomUUID() };
  beforeAll(async () => {
    api = await startApiHarness('api_notifications');
    await api.db
      .insertInto('certificates')
      .values({ id: certificate, names: ['n.test'], names_key: 'n.test', status: 'failed', source: 'acme' })
      .execute();
    const row = (
      id: string,
      kind: NotificationKind,
      certificateId: string | null,
      status: NotificationStatus,
      sentAt: Date | null,
    ) => ({
      id,
      kind,
      certificate_id: certificateId,
      subject: `${kind} about n.test`,
      body: 'what failed, what to check',
      recipients: sentAt ? ['ops@example.test'] : [],
      status,
      attempts: sentAt ? 1 : 3,
      last_error: sentAt ? null : 'connect ECONNREFUSED 127.0.0.1:25',
      sent_at: sentAt,
    });
    // One at a time: created_at orders them.
    await api.db
      .insertInto('notifications')
      .values(row(ids.failed, 'issue-failed', certificate, 'sent', new Date()))
      .execute();
    await api.db
      .insertInto('notifications')
      .values(row(ids.reminder, 'reminder', certificate, 'pending', null))
      .execute();
    await api.db
      .insertInto('notifications')
      .values(row(ids.digest, 'digest', null, 'sent', new Date()))
      .execute();
  });
  afterAll(async () => {
    await api?.close();
  });

  it('api - notifications are listed newest first with what became of each, and filter by certificate and kind', async () => {
    const all = await api.call('GET', '/v1/notifications');
    expect(all.status).toBe(200);
    expect(all.body.notifications.map((n: { id: string }) => n.id)).toEqual([
      ids.digest,
      ids.reminder,
      ids.failed,
    ]);
    expect(all.body.notifications[1]).toMatchObject({
      kind: 'reminder',
      certificateId: certificate,
      status: 'pending',
      attempts: 3,
      lastError: 'connect ECONNREFUSED 127.0.0.1:25',
      sentAt: null,
    });
    const forCertificate = await api.call('GET', '/v1/notifications', {
      query: { certificateId: certificate },
    });
    expect(forCertificate.body.notifications.map((n: { id: string }) => n.id)).toEqual([
      ids.reminder,
      ids.failed,
    ]);
    const failures = await api.call('GET', '/v1/notifications', {
      query: { kind: 'issue-failed', limit: '1' },
    });
    expect(failures.body.notifications.map((n: { id: string }) => n.id)).toEqual([ids.failed]);
    const limited = await api.call('GET', '/v1/notifications', { query: { limit: '2' } });
    expect(limited.body.notifications).toHaveLength(2);
  });

  it('api - bad filters are a 400 naming each one', async () => {
    const response = await api.call('GET', '/v1/notifications', {
      query: { certificateId: 'nope', kind: 'spam', limit: '9999', color: 'red' },
    });
    expect(response.status).toBe(400);
    expect(response.contentType).toContain('application/problem+json');
    const fields = Object.fromEntries(
      (response.body.errors as Array<{ field: string; message: string }>).map((error) => [
        error.field,
        error.message,
      ]),
    );
    expect(fields).toEqual({
      certificateId: 'must be a certificate id (a UUID)',
      kind: 'must be one of issue-failed, reminder, expiring, fallback-activated, recovered, digest, tcp-proxy-failed',
      limit: 'must be at most 500',
      color: 'is not a known filter (certificateId, kind, limit, cursor)',
    });
  });

  it('api - notifications need the bearer token', async () => {
    expect((await api.call('GET', '/v1/notifications', { auth: false })).status).toBe(401);
  });
});
