import { describe, expect, it } from 'vitest';
import { allContracts, certsIssued, certsRequested } from './contracts.ts';
import { createEvent, envelopeSchema } from './envelope.ts';
import { allStreams, domainOfType, subjectForType } from './streams.ts';

describe('events', () => {
  it('events - every subject DESIGN.md names has a contract', () => {
    const designed = [
      'apps.created',
      'apps.updated',
      'apps.deleted',
      'deployments.started',
      'deployments.failed',
      'certs.requested',
      'certs.issued',
      'certs.issue-failed',
      'certs.renewal-due',
      'certs.expiring',
      'certs.fallback-activated',
      'routes.applied',
      'notifications.sent',
    ];
    const types = allContracts.map((contract) => contract.type);
    for (const type of designed) expect(types).toContain(type);
    expect(new Set(types).size).toBe(types.length);
  });

  it('events - createEvent builds a valid envelope and refuses bad data', () => {
    const event = createEvent(certsRequested, {
      source: 'api',
      subject: 'cert-1',
      data: {
        certificateId: 'cert-1',
        names: ['app.test'],
        keyType: 'ecdsa-p256',
        reason: 'new',
        challenge: 'auto',
      },
    });
    expect(envelopeSchema.parse(event)).toMatchObject({
      type: 'certs.requested',
      version: 1,
      subject: 'cert-1',
    });
    expect(() =>
      createEvent(certsRequested, {
        source: 'api',
        subject: 'cert-1',
        // Upper case and a trailing dot are not qualified names.
        data: {
          certificateId: 'c',
          names: ['App.test.'],
          keyType: 'ecdsa-p256',
          reason: 'new',
          challenge: 'auto',
        },
      }),
    ).toThrow();
  });

  it('events - certs.requested carries IP names in canonical form and an optional profile, compatibly', () => {
    const base = { certificateId: 'c', keyType: 'ecdsa-p256', reason: 'new', challenge: 'http-01' } as const;
    expect(certsRequested.data.safeParse({ ...base, names: ['127.0.0.1', '2001:db8::1'] }).success).toBe(
      true,
    );
    expect(certsRequested.data.safeParse({ ...base, names: ['2001:DB8:0::1'] }).success).toBe(false);
    expect(
      certsRequested.data.safeParse({ ...base, names: ['app.test'], profile: 'shortlived' }).data,
    ).toMatchObject({
      profile: 'shortlived',
    });
    expect(
      certsRequested.data.safeParse({ ...base, names: ['app.test'], profile: 'short lived' }).success,
    ).toBe(false);
    // An event written before `profile` existed still parses: no choice was made.
    expect(certsRequested.data.parse({ ...base, names: ['app.test'] }).profile).toBeUndefined();
  });

  it('events - contracts reject what a producer must not send', () => {
    const bad = {
      certificateId: 'c',
      names: [],
      issuer: 'x',
      serial: '1',
      notBefore: 'yesterday',
      notAfter: 'x',
    };
    const result = certsIssued.data.safeParse(bad);
    expect(result.success).toBe(false);
    expect(envelopeSchema.safeParse({ id: 'not-a-uuid', type: 'certs.issued' }).success).toBe(false);
  });

  it('events - one stream per domain, prefixed streams and subjects for isolation', () => {
    expect(allStreams().map((stream) => stream.name)).toEqual([
      'APPS',
      'DEPLOYMENTS',
      'CERTS',
      'ROUTES',
      'NOTIFICATIONS',
    ]);
    const prefixed = allStreams('t-1a');
    expect(prefixed[2]).toEqual({ name: 'T_1A_CERTS', subjects: ['t-1a.certs.>'] });
    expect(subjectForType('certs.issued', 't-1a')).toBe('t-1a.certs.issued');
    expect(domainOfType('certs.issue-failed')).toBe('certs');
    expect(() => domainOfType('bogus.thing')).toThrow(/no known domain/);
  });
});
