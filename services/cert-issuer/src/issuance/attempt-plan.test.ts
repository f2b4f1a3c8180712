import { describe, expect, it } from 'vitest';
import { challengeOrder, decideAfterFailure, planRound } from './attempt-plan.ts';
import { parseLadder, retryDelayMs } from './retry-ladder.ts';

describe('attempt plan', () => {
  it('attempt plan - retries once soon, then switches challenge, then the next CA', () => {
    const steps = planRound(['https://ca-a/dir', 'https://ca-b/dir'], ['http-01', 'dns-01']);
    expect(
      steps.map(
        (step) => `${step.directoryUrl.slice(8, 12)} ${step.challenge}${step.quickRetry ? ' retry' : ''}`,
      ),
    ).toEqual([
      'ca-a http-01',
      'ca-a http-01 retry',
      'ca-a dns-01',
      'ca-b http-01',
      'ca-b http-01 retry',
      'ca-b dns-01',
    ]);
  });

  it('attempt plan - IP addresses are validated by HTTP-01 only, never DNS-01', () => {
    expect(challengeOrder(['127.0.0.1', 'app.test'], 'auto', true)).toEqual(['http-01']);
    expect(challengeOrder(['2001:db8::1'], 'http-01', true)).toEqual(['http-01']);
    expect(challengeOrder(['2001:db8::1'], 'dns-01', true)).toEqual({
      error: expect.stringMatching(/only be validated by HTTP-01/),
    });
  });

  it('attempt plan - policy abandons, an unreachable CA is retried once then skipped', () => {
    const first = { directoryUrl: 'a', challenge: 'http-01' as const, quickRetry: false };
    expect(decideAfterFailure('policy', first)).toBe('abandon');
    expect(decideAfterFailure('connection', first)).toBe('continue');
    expect(decideAfterFailure('connection', { ...first, quickRetry: true })).toBe('next-ca');
    expect(decideAfterFailure('rate-limited', first)).toBe('next-ca');
    expect(decideAfterFailure('validation', { ...first, quickRetry: true })).toBe('continue');
  });

  it('attempt plan - wildcards need DNS-01; auto adds DNS-01 only with a provider', () => {
    expect(challengeOrder(['*.w.test'], 'auto', true)).toEqual(['dns-01']);
    expect(challengeOrder(['*.w.test'], 'http-01', false)).toMatchObject({
      error: expect.stringContaining('wildcard'),
    });
    expect(challengeOrder(['a.test'], 'auto', false)).toEqual(['http-01']);
    expect(challengeOrder(['a.test'], 'auto', true)).toEqual(['http-01', 'dns-01']);
  });

  it('retry ladder - minutes, then hours, at most a day apart; parses durations', () => {
    expect(retryDelayMs(1)).toBe(60_000);
    expect(retryDelayMs(4)).toBe(3_600_000);
    expect(retryDelayMs(50)).toBe(86_400_000);
    expect(parseLadder('1s, 500ms,2m,1h,1d')).toEqual([1_000, 500, 120_000, 3_600_000, 86_400_000]);
    expect(() => parseLadder('1s,soon')).toThrow('"soon" is not a duration');
  });
});
