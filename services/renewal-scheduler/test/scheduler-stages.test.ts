import { randomBytes, randomUUID } from 'node:crypto';
import { createSecretBox } from '@gatehouse/pki';
import { createLogger } from '@gatehouse/telemetry';
import { createTestDatabase, insertCertificateRow, type TestDatabase } from '@gatehouse/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activateExpiredFallbacks,
  activateFallbacksAfterReminders,
} from '../src/renewal/activate-fallback.ts';
import { pollDueAri } from '../src/renewal/ari-poll.ts';
import { claimDueRenewals } from '../src/renewal/claim-due.ts';
import { emitExpiring } from '../src/renewal/emit-expiring.ts';
import { markExpiredReleased, markExpiredUploads } from '../src/renewal/mark-expired.ts';

const DAY = 86_400_000;
const box = createSecretBox(randomBytes(32));

// The scheduler's stages in process, against a real database: which rows each one picks, and that it
// picks them once.
describe('scheduler stages', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('scheduler_stages');
  });
  afterAll(async () => {
    await database?.drop();
  });

  /** A certificate for a name of its own. */
  const insert = (columns: Parameters<typeof insertCertificateRow>[2]) =>
    insertCertificateRow(database.db, `${randomUUID().slice(0, 8)}.test`, columns);

  async function events(type: string): Promise<Array<{ subject: string; data: Record<string, unknown> }>> {
    const { rows } = await sql<{ subject: string; data: Record<string, unknown> }>`
      select subject, envelope->'data' as data from outbox where type = ${type} order by seq`.execute(
      database.db,
    );
    return rows;
  }

  /** Reminder mails the notifier sent about a certificate (what the fallback after N reminders counts). */
  async function addReminders(certificateId: string, count: number) {
    for (let index = 0; index < count; index++)
      await database.db
        .insertInto('notifications')
        .values({
          id: randomUUID(),
          kind: 'reminder',
          certificate_id: certificateId,
          subject: 'still failing',
          body: 'still failing',
          recipients: ['admin@example.test'],
          status: 'sent',
        })
        .execute();
  }

  it('stages - certs.expiring for an upload and a failing renewal within 7 days, once per version; never for a healthy short-lived certificate', async () => {
    const now = Date.now();
    const upload = await insert({
      source: 'custom',
      not_before: new Date(now - 300 * DAY),
      not_after: new Date(now + 3 * DAY),
    });
    const farUpload = await insert({ source: 'custom', not_after: new Date(now + 30 * DAY) });
    const failing = await insert({
      status: 'renewing',
      not_before: new Date(now - 80 * DAY),
      not_after: new Date(now + 5 * DAY),
      last_error_kind: 'validation',
      last_error_at: new Date(now - 3_600_000),
    });
    // Six-day certificates are always "within 7 days": healthy ones must stay quiet.
    const healthyShort = await insert({
      not_before: new Date(now - DAY),
      not_after: new Date(now + 5 * DAY),
    });
    // Renewing right now, no failure since issuance: nothing to report yet.
    const renewing = await insert({
      status: 'renewing',
      not_before: new Date(now - DAY),
      not_after: new Date(now + 5 * DAY),
    });

    const first = await emitExpiring(database.db, { withinMs: 7 * DAY, limit: 100 });
    expect(new Set(first.map((row) => row.id))).toEqual(new Set([upload, failing]));
    expect(await emitExpiring(database.db, { withinMs: 7 * DAY, limit: 100 })).toEqual([]);
    const emitted = await events('certs.expiring');
    expect(emitted.map((event) => event.subject).sort()).toEqual([upload, failing].sort());
    expect(emitted.find((event) => event.subject === upload)?.data.notAfter).toBe(
      new Date(now + 3 * DAY).toISOString(),
    );
    for (const quiet of [farUpload, healthyShort, renewing])
      expect(emitted.some((event) => event.subject === quiet)).toBe(false);

    // A replacement upload (a new not_after) is a new version: reported again when it too runs short.
    await database.db
      .updateTable('certificates')
      .set({ not_after: new Date(now + 2 * DAY) })
      .where('id', '=', upload)
      .execute();
    expect((await emitExpiring(database.db, { withinMs: 7 * DAY, limit: 100 })).map((row) => row.id)).toEqual(
      [upload],
    );
  });

  it('stages - a never-issued certificate falls back after N reminders; fewer reminders, or a valid one, do not', async () => {
    const exhausted = await insert({
      status: 'failed',
      last_error_kind: 'validation',
      last_error_at: new Date(),
    });
    const notYet = await insert({
      status: 'failed',
      last_error_kind: 'validation',
      last_error_at: new Date(),
    });
    const stillValid = await insert({
      status: 'renewing',
      chain_pem: 'placeholder',
      not_after: new Date(Date.now() + 10 * DAY),
      last_error_at: new Date(),
    });
    await addReminders(exhausted, 3);
    await addReminders(notYet, 2);
    await addReminders(stillValid, 5);

    const activated = await activateFallbacksAfterReminders(database.db, box, { limit: 100, reminders: 3 });
    expect(activated.map((row) => row.id)).toEqual([exhausted]);
    expect(await activateFallbacksAfterReminders(database.db, box, { limit: 100, reminders: 3 })).toEqual([]);
    const row = await database.db
      .selectFrom('certificates')
      .selectAll()
      .where('id', '=', exhausted)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('fallback');
    expect(row.fallback_chain_pem).toContain('BEGIN CERTIFICATE');
    const fallbackEvents = (await events('certs.fallback-activated')).filter(
      (event) => event.subject === exhausted,
    );
    expect(fallbackEvents.map((event) => event.data)).toEqual([
      expect.objectContaining({ fallback: 'self-signed', reason: 'reminders-exhausted' }),
    ]);
  });

  it('stages - an upload past its not_after becomes expired, once; ACME certificates and live uploads keep their status', async () => {
    const now = Date.now();
    const gone = await insert({ source: 'custom', not_after: new Date(now - 60_000) });
    const live = await insert({ source: 'custom', not_after: new Date(now + DAY) });
    const acmePast = await insert({ source: 'acme', status: 'renewing', not_after: new Date(now - 60_000) });

    const first = await markExpiredUploads(database.db, { limit: 100 });
    expect(first.map((row) => row.id)).toContain(gone);
    expect(first.map((row) => row.id)).not.toContain(live);
    expect(await markExpiredUploads(database.db, { limit: 100 })).toEqual([]);

    const statuses = await database.db
      .selectFrom('certificates')
      .select(['id', 'status'])
      .where('id', 'in', [gone, live, acmePast])
      .execute();
    expect(Object.fromEntries(statuses.map((row) => [row.id, row.status]))).toEqual({
      [gone]: 'expired',
      [live]: 'valid',
      [acmePast]: 'renewing',
    });
  });

  it('stages - a certificate no app uses gets no renewal, expiry mail, ARI poll or fallback, and is marked expired once past not_after', async () => {
    const now = Date.now();
    const released = new Date(now - DAY);
    // As the api leaves a released certificate: no renewal time, no ARI poll.
    const failingRenewal = await insert({
      status: 'renewing',
      released_at: released,
      not_before: new Date(now - 80 * DAY),
      not_after: new Date(now + 5 * DAY),
      last_error_kind: 'validation',
      last_error_at: new Date(now - 3_600_000),
    });
    const neverIssued = await insert({
      status: 'failed',
      released_at: released,
      last_error_kind: 'dns',
      last_error_at: new Date(now),
    });
    await addReminders(neverIssued, 3);
    const expiredUnused = await insert({
      released_at: released,
      chain_pem: 'chain',
      not_before: new Date(now - 90 * DAY),
      not_after: new Date(now - 60_000),
    });
    const liveUnused = await insert({
      released_at: released,
      chain_pem: 'chain',
      not_before: new Date(now - 10 * DAY),
      not_after: new Date(now + 80 * DAY),
    });
    // Schedules written after the release by a poll or a renewal that were already running: still left alone.
    const polledLate = await insert({
      released_at: released,
      chain_pem: 'chain',
      issuer: 'https://ca.test/dir',
      serial: '01',
      not_before: new Date(now - 60 * DAY),
      not_after: new Date(now + 30 * DAY),
      ari_next_poll_at: new Date(now - 60_000),
    });
    const failedLate = await insert({
      status: 'renewing',
      released_at: released,
      chain_pem: 'chain',
      not_before: new Date(now - 90 * DAY),
      not_after: new Date(now - 60_000),
      renew_at: new Date(now - 30 * DAY),
    });
    // The same certificate still in use: the fallback is its job, not the expiry mark's.
    const expiredInUse = await insert({
      status: 'renewing',
      chain_pem: 'chain',
      not_before: new Date(now - 90 * DAY),
      not_after: new Date(now - 60_000),
      renew_at: new Date(now - 30 * DAY),
    });
    const unused = [failingRenewal, neverIssued, expiredUnused, liveUnused, polledLate, failedLate];

    await pollDueAri(
      database.db,
      { renewalInfo: async () => undefined },
      { limit: 100, logger: createLogger({ service: 'test', level: 'silent' }) },
    );
    const claimed = (await claimDueRenewals(database.db, 100, new Date(now))).map((row) => row.id);
    const expiring = (await emitExpiring(database.db, { withinMs: 7 * DAY, limit: 100 })).map(
      (row) => row.id,
    );
    const fallbacks = [
      ...(await activateExpiredFallbacks(database.db, box, 100, new Date(now))),
      ...(await activateFallbacksAfterReminders(database.db, box, { limit: 100, reminders: 3 })),
    ].map((row) => row.id);
    for (const id of unused) {
      expect(claimed).not.toContain(id);
      expect(expiring).not.toContain(id);
      expect(fallbacks).not.toContain(id);
    }
    expect(fallbacks).toContain(expiredInUse);
    const pollRow = await database.db
      .selectFrom('certificates')
      .select('ari_next_poll_at')
      .where('id', '=', polledLate)
      .executeTakeFirstOrThrow();
    expect(pollRow.ari_next_poll_at).toEqual(new Date(now - 60_000));

    const marked = await markExpiredReleased(database.db, { limit: 100, now: new Date(now) });
    expect(marked.map((row) => row.id)).toEqual([expiredUnused]);
    expect(await markExpiredReleased(database.db, { limit: 100, now: new Date(now) })).toEqual([]);
    const statuses = await database.db
      .selectFrom('certificates')
      .select(['id', 'status'])
      .where('id', 'in', [expiredUnused, liveUnused])
      .execute();
    expect(Object.fromEntries(statuses.map((row) => [row.id, row.status]))).toEqual({
      [expiredUnused]: 'expired',
      [liveUnused]: 'valid',
    });
  });

  it('stages - local CA certificates are claimed for renewal and put on fallback like ACME ones; uploads and self-signed stand-ins are not', async () => {
    const now = Date.now();
    const dueLocal = await insert({
      source: 'local-ca',
      not_before: new Date(now - 4 * DAY),
      not_after: new Date(now + 3 * DAY),
      renew_at: new Date(now - 12 * 3_600_000),
      chain_pem: 'chain',
    });
    const notDueLocal = await insert({
      source: 'local-ca',
      not_before: new Date(now - DAY),
      not_after: new Date(now + 6 * DAY),
      renew_at: new Date(now + 2 * DAY),
    });
    const standIn = await insert({ source: 'self-signed', status: 'fallback', renew_at: null });
    const claimed = await claimDueRenewals(database.db, 100, new Date(now));
    const ids = claimed.map((row) => row.id);
    expect(ids).toContain(dueLocal);
    expect(ids).not.toContain(notDueLocal);
    expect(ids).not.toContain(standIn);
    const due = (await events('certs.renewal-due')).filter((event) => event.subject === dueLocal);
    expect(due).toHaveLength(1);

    const expiredLocal = await insert({
      source: 'local-ca',
      status: 'renewing',
      not_before: new Date(now - 8 * DAY),
      not_after: new Date(now - 3_600_000),
      renew_at: new Date(now - 4 * DAY),
      chain_pem: 'chain',
    });
    const activated = await activateExpiredFallbacks(database.db, box, 100, new Date(now));
    expect(activated.map((row) => row.id)).toContain(expiredLocal);
  });
});
