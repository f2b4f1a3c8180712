import { describe, expect, it } from 'vitest';
import { DnsProviderError } from '../dns-provider-error.ts';
import {
  decodeMessage,
  encodeName,
  encodeQuery,
  encodeTxtRdata,
  encodeTxtUpdate,
  TYPE_SOA,
} from './message.ts';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// "example.test" and "a.example.test" in uncompressed wire form.
const EXAMPLE_TEST = '07 6578616d706c65 04 74657374 00';
const A_EXAMPLE_TEST = `01 61 ${EXAMPLE_TEST}`;

describe('rfc2136 message', () => {
  it('rfc2136 message - encodes an add of one TXT record to known bytes', () => {
    const message = encodeTxtUpdate({
      id: 0x1234,
      zone: 'example.test',
      name: 'a.example.test',
      value: 'hi',
      action: 'add',
      ttl: 60,
    });
    expect(message.toString('hex')).toBe(
      hex(`
        1234 2800 0001 0000 0001 0000
        ${EXAMPLE_TEST} 0006 0001
        ${A_EXAMPLE_TEST} 0010 0001 0000003c 0003 02 6869
      `).toString('hex'),
    );
  });

  it('rfc2136 message - encodes the delete of one TXT record as class NONE, TTL 0, same rdata', () => {
    const message = encodeTxtUpdate({
      id: 0xbeef,
      zone: 'example.test.',
      name: 'a.example.test.',
      value: 'hi',
      action: 'delete',
      ttl: 60,
    });
    expect(message.toString('hex')).toBe(
      hex(`
        beef 2800 0001 0000 0001 0000
        ${EXAMPLE_TEST} 0006 0001
        ${A_EXAMPLE_TEST} 0010 00fe 00000000 0003 02 6869
      `).toString('hex'),
    );
  });

  it('rfc2136 message - splits TXT values into character-strings of at most 255 bytes', () => {
    const rdata = encodeTxtRdata('x'.repeat(600));
    expect(rdata.length).toBe(603);
    expect(rdata[0]).toBe(255);
    expect(rdata[256]).toBe(255);
    expect(rdata[512]).toBe(90);
    expect(encodeTxtRdata('').toString('hex')).toBe('00');
  });

  it('rfc2136 message - rejects invalid names', () => {
    expect(() => encodeName(`${'a'.repeat(64)}.test`)).toThrow(DnsProviderError);
    expect(() => encodeName('a..test')).toThrow(/empty or >63-byte label/);
    expect(() => encodeName(Array.from({ length: 60 }, () => 'abcd').join('.'))).toThrow(/too long/);
    expect(() => encodeName('bücher.example.test')).toThrow(/ASCII \(punycode\) form/);
    expect(encodeName('.').toString('hex')).toBe('00');
    expect(encodeName('A.Test', true).toString('hex')).toBe('0161047465737400');
  });

  it('rfc2136 message - decodes answers with compressed names, and a TSIG as the last additional record', () => {
    const query = encodeQuery(7, 'a.example.test', TYPE_SOA);
    expect(query.subarray(0, 12).toString('hex')).toBe('000700000001000000000000');
    // A response: the question, an authority SOA whose owner points at "example.test" inside the question
    // (offset 12 + 2), then a TSIG.
    const soaRdata = hex('c00e c00e 00000001 00000e10 00000258 00015180 00000001');
    const response = Buffer.concat([
      hex('0007 8403 0001 0000 0001 0001'),
      hex(`${A_EXAMPLE_TEST} 0006 0001`),
      hex('c00e 0006 0001 0000003c'),
      Buffer.from([0, soaRdata.length]),
      soaRdata,
      hex(`08 61636d652d6b6579 00 00fa 00ff 00000000 0021`),
      hex('0b 686d61632d736861323536 00 000000000064 012c 0004 deadbeef 0007 0000 0000'),
    ]);
    const decoded = decodeMessage(response);
    expect(decoded).toMatchObject({ id: 7, response: true, opcode: 0, rcode: 3, truncated: false });
    expect(decoded.authority.map((record) => [record.name, record.type])).toEqual([
      ['example.test.', TYPE_SOA],
    ]);
    expect(decoded.additional).toEqual([]);
    expect(decoded.tsig).toMatchObject({
      keyName: 'acme-key.',
      algorithm: 'hmac-sha256.',
      timeSigned: 100,
      fudge: 300,
      originalId: 7,
      error: 0,
    });
    expect(decoded.tsig?.mac.toString('hex')).toBe('deadbeef');
    // The TSIG RR: owner (10) + type, class, TTL, rdlength (10) + rdata (33).
    expect(decoded.tsig?.offset).toBe(response.length - 53);
  });

  it('rfc2136 message - rejects truncated and looping messages as protocol errors', () => {
    expect(() => decodeMessage(hex('0007 8400'))).toThrow(/shorter than a header/);
    const loop = Buffer.concat([hex('0007 8400 0001 0000 0000 0000'), hex('c00c 0006 0001')]);
    expect(() => decodeMessage(loop)).toThrow(/compression loop/);
    const cut = encodeTxtUpdate({
      id: 1,
      zone: 'example.test',
      name: 'a.example.test',
      value: 'v',
      action: 'add',
      ttl: 60,
    });
    // Pretend it is a response with an answer record that is cut short.
    expect(() =>
      decodeMessage(Buffer.concat([hex('0001 a800 0000 0001 0000 0000'), cut.subarray(30, 40)])),
    ).toThrow(DnsProviderError);
  });
});
