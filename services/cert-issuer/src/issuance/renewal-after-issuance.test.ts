import { lifetimeRenewAt } from '@gatehouse/pki';
import { describe, expect, it } from 'vitest';
import { renewalAfterIssuance } from './renewal-after-issuance.ts';

const DAY = 86_400_000;

describe('renewal after issuance', () => {
  it('renewal after issuance - lifetime time spread earlier, an ARI poll at once for ACME only', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const validity = { notBefore: now, notAfter: new Date(now.getTime() + 90 * DAY) };
    const acme = renewalAfterIssuance(validity, 'acme', now, () => 0.5);
    const byLifetime = lifetimeRenewAt(validity.notBefore, validity.notAfter).getTime();
    expect(acme.renew_reason).toBe('lifetime');
    expect(acme.renew_at.getTime()).toBeLessThan(byLifetime);
    expect(acme.renew_at.getTime()).toBeGreaterThanOrEqual(byLifetime - DAY);
    expect(acme.ari_next_poll_at).toEqual(now);
    expect([acme.ari_window_start, acme.ari_window_end]).toEqual([null, null]);

    // A 7-day local CA leaf: half its lifetime left, spread by at most a twentieth, and no CA to poll.
    const leaf = { notBefore: now, notAfter: new Date(now.getTime() + 7 * DAY) };
    const local = renewalAfterIssuance(leaf, 'local-ca', now, () => 0.999);
    const days = (local.renew_at.getTime() - now.getTime()) / DAY;
    expect(days).toBeGreaterThan(3.5 - 7 / 20);
    expect(days).toBeLessThanOrEqual(3.5);
    expect(local.ari_next_poll_at).toBeNull();
  });
});
