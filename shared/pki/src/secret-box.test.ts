import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSecretBox, SecretBoxError } from './secret-box.ts';

describe('secret box', () => {
  const box = createSecretBox(randomBytes(32));

  it('secret box - round-trips and never stores the plaintext', () => {
    const sealed = box.seal('-----BEGIN PRIVATE KEY-----abc', 'cert:1');
    expect(sealed).not.toContain('PRIVATE');
    expect(box.openText(sealed, 'cert:1')).toBe('-----BEGIN PRIVATE KEY-----abc');
    expect(box.seal('same', 'cert:1')).not.toBe(box.seal('same', 'cert:1'));
  });

  it('secret box - a wrong master key is reported as such, not as garbage', () => {
    const sealed = box.seal('secret', 'cert:1');
    const other = createSecretBox(randomBytes(32));
    expect(() => other.open(sealed, 'cert:1')).toThrow(SecretBoxError);
    expect(() => other.open(sealed, 'cert:1')).toThrow(/another master key.*GATEHOUSE_MASTER_KEY/);
  });

  it('secret box - a value moved to another record or altered does not open', () => {
    const sealed = box.seal('secret', 'cert:1');
    expect(() => box.open(sealed, 'cert:2')).toThrow(/failed authentication/);
    const parts = sealed.split('.');
    parts[4] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'), 'cert:1')).toThrow(/failed authentication/);
    expect(() => box.open('plain text', 'cert:1')).toThrow(/not in the gh1 sealed format/);
  });

  it('secret box - derived keys are the same for the same master key and purpose, different otherwise', () => {
    const masterKey = randomBytes(32);
    const one = createSecretBox(masterKey);
    const replica = createSecretBox(Buffer.from(masterKey));
    expect(one.deriveKey('http01-probe')).toHaveLength(32);
    expect(one.deriveKey('http01-probe')).toEqual(replica.deriveKey('http01-probe'));
    expect(one.deriveKey('http01-probe')).not.toEqual(one.deriveKey('other-purpose'));
    expect(one.deriveKey('http01-probe')).not.toEqual(
      createSecretBox(randomBytes(32)).deriveKey('http01-probe'),
    );
    expect(one.deriveKey('http01-probe').equals(masterKey)).toBe(false);
    expect(() => one.deriveKey('')).toThrow(RangeError);
  });
});
