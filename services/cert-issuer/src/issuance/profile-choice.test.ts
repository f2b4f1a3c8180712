import { describe, expect, it } from 'vitest';
import { chooseProfile } from './profile-choice.ts';

const letsEncrypt = ['classic', 'tlsserver', 'shortlived'];

describe('profile choice', () => {
  it('profile choice - the domain’s profile wins over ACME_PROFILE and the IP default', () => {
    expect(
      chooseProfile({
        requested: 'classic',
        installationDefault: 'tlsserver',
        names: ['192.0.2.1'],
        offered: letsEncrypt,
      }),
    ).toBe('classic');
  });

  it('profile choice - an IP address gets shortlived where the CA lists it, else ACME_PROFILE', () => {
    const ip = { requested: null, installationDefault: 'tlsserver', names: ['app.test', '2001:db8::1'] };
    expect(chooseProfile({ ...ip, offered: letsEncrypt })).toBe('shortlived');
    expect(chooseProfile({ ...ip, offered: ['classic'] })).toBe('tlsserver');
  });

  it('profile choice - a DNS-only certificate without a domain profile gets ACME_PROFILE (or none)', () => {
    const dns = { requested: undefined, names: ['app.test'], offered: letsEncrypt };
    expect(chooseProfile({ ...dns, installationDefault: 'tlsserver' })).toBe('tlsserver');
    expect(chooseProfile({ ...dns, installationDefault: undefined })).toBeUndefined();
  });
});
