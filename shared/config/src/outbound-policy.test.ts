import { describe, expect, it } from 'vitest';
import { execCommandReason, execDirectory } from './exec-policy.ts';
import {
  checkResolvedAddress,
  forbiddenAddressReason,
  forbiddenHostReason,
  outboundAllowlist,
} from './outbound-policy.ts';

describe('outbound policy', () => {
  it('outbound - loopback, private, link-local, mapped and unspecified addresses are refused; public ones pass', () => {
    for (const address of [
      '127.0.0.1',
      '127.8.9.10',
      '10.1.2.3',
      '172.20.0.5',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00::5',
      '::ffff:10.0.0.1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '0:0:0:0:0:ffff:a00:1',
      '[::1]',
    ])
      expect(forbiddenAddressReason(address), address).toBeDefined();
    for (const address of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111'])
      expect(forbiddenAddressReason(address), address).toBeUndefined();
  });

  it('outbound - compose service names, single labels and internal suffixes are refused; the allowlist lets them in', () => {
    expect(forbiddenHostReason(undefined, 'postgres')).toContain("Gatehouse's own");
    expect(forbiddenHostReason(undefined, 'NATS.')).toContain("Gatehouse's own");
    expect(forbiddenHostReason(undefined, 'cert-issuer')).toBeDefined();
    expect(forbiddenHostReason(undefined, 'intranet')).toContain('single-label');
    expect(forbiddenHostReason(undefined, 'hooks.internal')).toContain('internal');
    expect(forbiddenHostReason(undefined, 'a.localhost')).toBeDefined();
    expect(forbiddenHostReason(undefined, 'hooks.example.com')).toBeUndefined();
    const allow = outboundAllowlist.parse('hooks.internal, 127.0.0.1, 10.1.0.0/16, ::1');
    expect(forbiddenHostReason(allow, 'hooks.internal')).toBeUndefined();
    expect(forbiddenHostReason(allow, '127.0.0.1')).toBeUndefined();
    expect(forbiddenHostReason(allow, '127.0.0.2')).toBe('a loopback address');
    expect(forbiddenHostReason(allow, '[::1]')).toBeUndefined();
    expect(checkResolvedAddress(allow, 'dns.example.com', '10.1.9.9')).toBeUndefined();
    expect(checkResolvedAddress(allow, 'dns.example.com', '10.2.0.1')).toBe(
      'dns.example.com resolves to 10.2.0.1, a private address',
    );
    expect(checkResolvedAddress(undefined, 'dns.example.com', '8.8.8.8')).toBeUndefined();
  });

  it('outbound - the allowlist refuses what is neither a name, an address nor a network', () => {
    expect(outboundAllowlist.safeParse('10.0.0.0/99').success).toBe(false);
    expect(outboundAllowlist.safeParse('http://x').success).toBe(false);
    expect(outboundAllowlist.safeParse('a.test,10.0.0.0/8,fd00::/8').success).toBe(true);
  });

  it('exec - only absolute programs inside DNS_EXEC_DIR; unset refuses all; .. cannot climb out', () => {
    expect(execCommandReason(undefined, '/usr/bin/true')).toContain('DNS_EXEC_DIR is not set');
    const dir = execDirectory.parse('/etc/gatehouse/dns/');
    expect(dir).toBe('/etc/gatehouse/dns');
    expect(execCommandReason(dir, '/etc/gatehouse/dns/hook.sh')).toBeUndefined();
    expect(execCommandReason(dir, '/etc/gatehouse/dns/../../../bin/sh')).toContain('..');
    expect(execCommandReason(dir, '/etc/gatehouse/dnsx/hook.sh')).toContain('inside /etc/gatehouse/dns');
    expect(execCommandReason(dir, '/bin/sh')).toContain('inside');
    expect(execCommandReason(dir, 'hook.sh')).toContain('absolute');
    expect(execDirectory.safeParse('relative/dir').success).toBe(false);
  });
});
