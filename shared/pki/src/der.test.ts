import { describe, expect, it } from 'vitest';
import {
  derBitString,
  derObjectIdentifier,
  derSequence,
  derSet,
  derSmallInteger,
  derUtf8String,
  derValue,
} from './der.ts';
import { ipAddressBytes } from './ip-address-bytes.ts';

const hex = (buffer: Buffer) => buffer.toString('hex');

describe('der', () => {
  it('der - lengths use the short form below 128 bytes and the long form above', () => {
    expect(hex(derValue(0x04, Buffer.alloc(0)))).toBe('0400');
    expect(hex(derValue(0x04, Buffer.alloc(127))).slice(0, 4)).toBe('047f');
    expect(hex(derValue(0x04, Buffer.alloc(128))).slice(0, 6)).toBe('048180');
    expect(hex(derValue(0x04, Buffer.alloc(255))).slice(0, 6)).toBe('0481ff');
    expect(hex(derValue(0x04, Buffer.alloc(256))).slice(0, 8)).toBe('04820100');
    expect(hex(derValue(0x04, Buffer.alloc(70_000))).slice(0, 10)).toBe('0483011170');
  });

  it('der - object identifiers encode their arcs in base 128', () => {
    expect(hex(derObjectIdentifier('2.5.29.17'))).toBe('0603551d11');
    expect(hex(derObjectIdentifier('1.2.840.113549.1.9.14'))).toBe('06092a864886f70d01090e');
    expect(hex(derObjectIdentifier('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(() => derObjectIdentifier('1.x.3')).toThrow(RangeError);
    expect(() => derObjectIdentifier('3.1')).toThrow(RangeError);
  });

  it('der - a SET OF is sorted by encoding, a SEQUENCE keeps its order', () => {
    const a = derUtf8String('a');
    const b = derUtf8String('b');
    expect(hex(derSet(b, a))).toBe('31060c01610c0162');
    expect(hex(derSequence(b, a))).toBe('30060c01620c0161');
  });

  it('der - small integers and bit strings', () => {
    expect(hex(derSmallInteger(0))).toBe('020100');
    expect(() => derSmallInteger(128)).toThrow(RangeError);
    expect(hex(derBitString(Buffer.from([0xab])))).toBe('030200ab');
  });
});

describe('ip address bytes', () => {
  it('ip - IPv4 and every IPv6 form give their network-order bytes', () => {
    expect(hex(ipAddressBytes('192.0.2.1'))).toBe('c0000201');
    expect(hex(ipAddressBytes('::'))).toBe('0'.repeat(32));
    expect(hex(ipAddressBytes('::1'))).toBe(`${'0'.repeat(30)}01`);
    expect(hex(ipAddressBytes('2001:db8::1'))).toBe('20010db8000000000000000000000001');
    expect(hex(ipAddressBytes('fe80::'))).toBe(`fe80${'0'.repeat(28)}`);
    expect(hex(ipAddressBytes('1:2:3:4:5:6:7:8'))).toBe('00010002000300040005000600070008');
    expect(hex(ipAddressBytes('::ffff:192.0.2.1'))).toBe('00000000000000000000ffffc0000201');
    expect(hex(ipAddressBytes('64:ff9b::198.51.100.3'))).toBe('0064ff9b0000000000000000c6336403');
    expect(hex(ipAddressBytes('1:2:3:4:5:6:1.2.3.4'))).toBe('00010002000300040005000601020304');
  });

  it('ip - anything that is not an address, or has a zone id, is refused', () => {
    for (const bad of ['example.com', '1.2.3', '::g', 'fe80::1%eth0', '']) {
      expect(() => ipAddressBytes(bad), bad).toThrow(RangeError);
    }
  });
});
