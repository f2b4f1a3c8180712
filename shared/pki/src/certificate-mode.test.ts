import { describe, expect, it } from 'vitest';
import { certificateModeProblem, defaultCertificateMode } from './certificate-mode.ts';

describe('certificate mode', () => {
  it('certificate mode - internal names and IP addresses default to the local CA, public names to ACME', () => {
    for (const name of [
      'localhost',
      'a.localhost',
      'nas.local',
      'printer.home.arpa',
      'app.internal',
      '10.0.0.1',
      '::1',
    ])
      expect(defaultCertificateMode(name), name).toBe('local-ca');
    for (const name of ['example.com', 'app.test', 'internal.example.com'])
      expect(defaultCertificateMode(name), name).toBe('acme');
  });

  it('certificate mode - acme is refused for internal DNS names with what to do, allowed for IPs and public names', () => {
    expect(certificateModeProblem('app.internal', 'acme')).toMatch(/internal name.*use mode local-ca/);
    expect(certificateModeProblem('localhost', 'acme')).toMatch(/internal name/);
    expect(certificateModeProblem('192.0.2.7', 'acme')).toBeUndefined();
    expect(certificateModeProblem('example.com', 'acme')).toBeUndefined();
    for (const mode of ['custom', 'fallback-only', 'local-ca'] as const)
      expect(certificateModeProblem('app.internal', mode)).toBeUndefined();
  });
});
