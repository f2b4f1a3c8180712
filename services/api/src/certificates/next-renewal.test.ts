import { describe, expect, it } from 'vitest';
import { nextRenewalOf, type RenewalFacts } from './next-renewal.ts';

const at = new Date('2026-03-01T00:00:00Z');
const later = new Date('2026-03-02T00:00:00Z');
const healthy: RenewalFacts = {
  status: 'valid',
  source: 'acme',
  renew_at: at,
  renew_reason: 'lifetime',
  failure_count: 0,
  next_retry_at: null,
  last_error_kind: null,
  job_reason: 'new',
  job_next_attempt_at: null,
  released_at: null,
};

describe('next renewal', () => {
  it('next renewal - lifetime and ARI schedules say which', () => {
    expect(nextRenewalOf(healthy)).toMatchObject({ at, reason: 'lifetime' });
    expect(nextRenewalOf({ ...healthy, renew_reason: 'ari' })).toMatchObject({ at, reason: 'ari' });
  });

  it('next renewal - a failing renewal is on the retry ladder, a spent budget waits for the refill', () => {
    const failing = {
      ...healthy,
      status: 'renewing',
      failure_count: 3,
      next_retry_at: later,
      last_error_kind: 'dns',
    };
    expect(nextRenewalOf(failing)).toMatchObject({
      at: later,
      reason: 'retry',
      detail: expect.stringContaining('3 failed rounds (last: dns)'),
    });
    expect(nextRenewalOf({ ...failing, last_error_kind: 'rate-limited', failure_count: 0 })).toMatchObject({
      at: later,
      reason: 'rate-limit',
    });
  });

  it('next renewal - manual and running renewals, uploads and nothing scheduled', () => {
    expect(
      nextRenewalOf({ ...healthy, status: 'renewing', job_reason: 'manual', job_next_attempt_at: later }),
    ).toMatchObject({ at: later, reason: 'manual' });
    expect(nextRenewalOf({ ...healthy, status: 'pending', renew_at: null, job_reason: 'new' })).toMatchObject(
      {
        reason: 'in-progress',
        detail: 'first issuance in progress',
      },
    );
    expect(nextRenewalOf({ ...healthy, source: 'custom', renew_at: null })).toMatchObject({
      at: null,
      reason: 'not-renewed',
    });
    expect(nextRenewalOf({ ...healthy, status: 'fallback', renew_at: null })).toMatchObject({
      reason: 'none',
    });
  });

  it('next renewal - a certificate no app uses is not renewed, whatever was scheduled or failing', () => {
    const released = new Date('2026-03-03T00:00:00Z');
    for (const facts of [
      { ...healthy, renew_at: null, released_at: released },
      { ...healthy, status: 'renewing', failure_count: 2, next_retry_at: later, released_at: released },
    ]) {
      expect(nextRenewalOf(facts)).toEqual({
        at: null,
        reason: 'released',
        detail: expect.stringContaining('no app uses it since 2026-03-03T00:00:00.000Z'),
      });
    }
  });
});
