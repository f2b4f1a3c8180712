import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeTxtUpdate } from './message.ts';
import { signMessage, type TsigKey, verifyResponse } from './tsig.ts';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// Written out by hand, independently of the encoder: "acme-key.", "hmac-sha256.", "hmac-sha512.".
const KEY_NAME = '08 61636d652d6b6579 00';
const ALGORITHM = {
  'hmac-sha256': '0b 686d61632d736861323536 00',
  'hmac-sha512': '0b 686d61632d736861353132 00',
} as const;
const SECRET = Buffer.from('vedLbbVgTulwrHDxfesi4cAYcwB4VWjk8o17HXAa38Y=', 'base64');
const TIME = 1_700_000_000; // 0x00006553f100

function keyFor(algorithm: TsigKey['algorithm']): TsigKey {
  return { name: 'ACME-key', algorithm, secret: SECRET };
}

const request = encodeTxtUpdate({
  id: 0x4242,
  zone: 'example.test',
  name: '_acme-challenge.a.example.test',
  value: 'token',
  action: 'add',
  ttl: 60,
});

/** What a server does to sign its answer (RFC 8945 §5.3), written without the module under test. */
function serverSign(
  response: Buffer,
  requestMac: Buffer,
  algorithm: TsigKey['algorithm'],
  options: { time?: number; error?: number; keyName?: string } = {},
): Buffer {
  const time = Buffer.alloc(6);
  time.writeUIntBE(options.time ?? TIME, 0, 6);
  const error = Buffer.alloc(2);
  error.writeUInt16BE(options.error ?? 0);
  const keyName = options.keyName ?? KEY_NAME;
  const macLength = Buffer.alloc(2);
  macLength.writeUInt16BE(requestMac.length);
  const variables = Buffer.concat([
    hex(`${keyName} 00ff 00000000 ${ALGORITHM[algorithm]}`),
    time,
    hex('012c'),
    error,
    hex('0000'),
  ]);
  const mac =
    options.error === undefined
      ? createHmac(algorithm.slice(5), SECRET)
          .update(Buffer.concat([macLength, requestMac, response, variables]))
          .digest()
      : Buffer.alloc(0);
  const size = Buffer.alloc(2);
  size.writeUInt16BE(mac.length);
  const rdata = Buffer.concat([
    hex(ALGORITHM[algorithm]),
    time,
    hex('012c'),
    size,
    mac,
    response.subarray(0, 2),
    error,
    hex('0000'),
  ]);
  const rdlength = Buffer.alloc(2);
  rdlength.writeUInt16BE(rdata.length);
  const signed = Buffer.concat([response, hex(`${keyName} 00fa 00ff 00000000`), rdlength, rdata]);
  signed.writeUInt16BE(response.readUInt16BE(10) + 1, 10);
  return signed;
}

/** The server's answer to `request`: same ID, QR set, RCODE NOERROR, zone section echoed. */
function answerTo(message: Buffer): Buffer {
  const answer = Buffer.from(message.subarray(0, 12 + 14 + 4));
  answer.writeUInt16BE(0xa800, 2);
  answer.writeUInt16BE(0, 8);
  return answer;
}

describe('rfc2136 tsig', () => {
  for (const algorithm of ['hmac-sha256', 'hmac-sha512'] as const) {
    it(`rfc2136 tsig - signs with ${algorithm} to a known answer computed independently`, () => {
      const signed = signMessage(request, keyFor(algorithm), { timeSigned: TIME });
      const variables = hex(`${KEY_NAME} 00ff 00000000 ${ALGORITHM[algorithm]} 00006553f100 012c 0000 0000`);
      const expectedMac = createHmac(algorithm.slice(5), SECRET)
        .update(Buffer.concat([request, variables]))
        .digest();
      expect(signed.mac.toString('hex')).toBe(expectedMac.toString('hex'));
      expect(signed.mac.length).toBe(algorithm === 'hmac-sha256' ? 32 : 64);
      const macSize = algorithm === 'hmac-sha256' ? '0020' : '0040';
      const rdata = `${ALGORITHM[algorithm]} 00006553f100 012c ${macSize} ${expectedMac.toString('hex')} 4242 0000 0000`;
      const rdlength = hex(rdata).length.toString(16).padStart(4, '0');
      const expected = Buffer.concat([request, hex(`${KEY_NAME} 00fa 00ff 00000000 ${rdlength} ${rdata}`)]);
      expected.writeUInt16BE(1, 10); // ARCOUNT now counts the TSIG
      expect(signed.message.toString('hex')).toBe(expected.toString('hex'));
      expect(decodeMessage(signed.message).tsig).toMatchObject({
        timeSigned: TIME,
        originalId: 0x4242,
        error: 0,
      });
    });

    it(`rfc2136 tsig - verifies a ${algorithm} response and rejects it with one byte altered`, () => {
      const signed = signMessage(request, keyFor(algorithm), { timeSigned: TIME });
      const response = serverSign(answerTo(request), signed.mac, algorithm);
      const verify = (raw: Buffer) =>
        verifyResponse(raw, decodeMessage(raw), keyFor(algorithm), signed.mac, TIME + 5);
      expect(verify(response)).toEqual({ ok: true });
      for (const offset of [3, 13, 29, response.length - 10]) {
        const tampered = Buffer.from(response);
        tampered[offset] = tampered[offset]! ^ 0x01;
        expect(verify(tampered), `byte ${offset}`).toMatchObject({ ok: false });
      }
      const inZoneName = Buffer.from(response);
      inZoneName[13] = 'X'.charCodeAt(0);
      expect(verify(inZoneName)).toEqual({ ok: false, reason: 'bad-mac' });
      // A MAC over another request's MAC (a replayed answer) does not verify either.
      const replayed = serverSign(answerTo(request), Buffer.alloc(signed.mac.length, 7), algorithm);
      expect(verify(replayed)).toEqual({ ok: false, reason: 'bad-mac' });
    });
  }

  it('rfc2136 tsig - reports a missing TSIG, a TSIG error, another key, and a time outside the fudge', () => {
    const key = keyFor('hmac-sha256');
    const signed = signMessage(request, key, { timeSigned: TIME });
    const check = (raw: Buffer, now = TIME) => verifyResponse(raw, decodeMessage(raw), key, signed.mac, now);
    expect(check(answerTo(request))).toEqual({ ok: false, reason: 'missing' });
    expect(check(serverSign(answerTo(request), signed.mac, 'hmac-sha256', { error: 16 }))).toEqual({
      ok: false,
      reason: 'tsig-error',
      error: 16,
      errorName: 'BADSIG',
    });
    expect(check(serverSign(answerTo(request), signed.mac, 'hmac-sha256', { error: 17 }))).toMatchObject({
      errorName: 'BADKEY',
    });
    expect(
      check(serverSign(answerTo(request), signed.mac, 'hmac-sha256', { keyName: '05 6f74686572 00' })),
    ).toMatchObject({ ok: false, reason: 'wrong-key' });
    expect(check(serverSign(answerTo(request), signed.mac, 'hmac-sha256'), TIME + 301)).toEqual({
      ok: false,
      reason: 'bad-time',
      skewSeconds: 301,
    });
    expect(check(serverSign(answerTo(request), signed.mac, 'hmac-sha256'), TIME - 300)).toEqual({ ok: true });
    // Verified with the sha512 variant of the same key: the algorithm in the answer does not match.
    const sha512 = serverSign(answerTo(request), signed.mac, 'hmac-sha512');
    expect(verifyResponse(sha512, decodeMessage(sha512), key, signed.mac, TIME)).toMatchObject({
      reason: 'wrong-key',
    });
  });
});
