import { createHmac, timingSafeEqual } from 'node:crypto';
import { CLASS_ANY, type DecodedMessage, encodeName, rcodeName, TYPE_TSIG } from './message.ts';

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512';

export interface TsigKey {
  /** Key name as configured on the server (`acme-key`); compared and digested case-insensitively. */
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

/** Allowed clock difference, seconds; RFC 8945 §10 recommends 300. */
export const TSIG_FUDGE = 300;
export const TSIG_BADSIG = 16;
export const TSIG_BADKEY = 17;
export const TSIG_BADTIME = 18;

const DIGESTS: Record<TsigAlgorithm, string> = { 'hmac-sha256': 'sha256', 'hmac-sha512': 'sha512' };

function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value);
  return buffer;
}

function u48(value: number): Buffer {
  const buffer = Buffer.alloc(6);
  buffer.writeUIntBE(value, 0, 6);
  return buffer;
}

interface TsigFields {
  timeSigned: number;
  fudge: number;
  error: number;
  otherData: Buffer;
}

/** The TSIG variables of RFC 8945 §4.3.3, in canonical form. */
function tsigVariables(key: TsigKey, fields: TsigFields): Buffer {
  return Buffer.concat([
    encodeName(key.name, true),
    u16(CLASS_ANY),
    Buffer.alloc(4), // TTL 0
    encodeName(`${key.algorithm}.`, true),
    u48(fields.timeSigned),
    u16(fields.fudge),
    u16(fields.error),
    u16(fields.otherData.length),
    fields.otherData,
  ]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const mac = createHmac(DIGESTS[key.algorithm], key.secret);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

export interface SignedMessage {
  message: Buffer;
  /** The request MAC; the response's MAC covers it (RFC 8945 §4.3.1). */
  mac: Buffer;
}

/**
 * Appends a TSIG RR to `message` (which MUST NOT already carry one) and increments ARCOUNT. The MAC covers
 * the message as given (original ID, ARCOUNT without the TSIG) followed by the TSIG variables.
 * `timeSigned` defaults to now, in seconds.
 */
export function signMessage(
  message: Buffer,
  key: TsigKey,
  options: { timeSigned?: number; fudge?: number } = {},
): SignedMessage {
  const fields: TsigFields = {
    timeSigned: options.timeSigned ?? Math.floor(Date.now() / 1000),
    fudge: options.fudge ?? TSIG_FUDGE,
    error: 0,
    otherData: Buffer.alloc(0),
  };
  const mac = hmac(key, [message, tsigVariables(key, fields)]);
  const rdata = Buffer.concat([
    encodeName(`${key.algorithm}.`, true),
    u48(fields.timeSigned),
    u16(fields.fudge),
    u16(mac.length),
    mac,
    message.subarray(0, 2), // original ID
    u16(fields.error),
    u16(0),
  ]);
  const record = Buffer.concat([
    encodeName(key.name, true),
    u16(TYPE_TSIG),
    u16(CLASS_ANY),
    Buffer.alloc(4),
    u16(rdata.length),
    rdata,
  ]);
  const signed = Buffer.concat([message, record]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: signed, mac };
}

/** Why a response's TSIG was not accepted. `tsig-error` carries the server's TSIG error (BADSIG, BADKEY, …). */
export type TsigVerification =
  | { ok: true }
  | { ok: false; reason: 'missing' }
  | { ok: false; reason: 'tsig-error'; error: number; errorName: string }
  | { ok: false; reason: 'wrong-key'; detail: string }
  | { ok: false; reason: 'bad-mac' }
  | { ok: false; reason: 'bad-time'; skewSeconds: number };

/**
 * Verifies the TSIG of a response to a request signed with `requestMac` (RFC 8945 §5.3): the MAC MUST cover
 * the request MAC (length-prefixed), the response without its TSIG (original ID, ARCOUNT decremented) and
 * the TSIG variables; it MUST be full length (we never ask for truncation) and time-signed within fudge of
 * `nowSeconds`. A TSIG error from the server is reported before the MAC is checked: BADSIG and BADKEY answers
 * are unsigned by design.
 */
export function verifyResponse(
  raw: Buffer,
  decoded: DecodedMessage,
  key: TsigKey,
  requestMac: Buffer,
  nowSeconds = Math.floor(Date.now() / 1000),
): TsigVerification {
  const tsig = decoded.tsig;
  if (!tsig) return { ok: false, reason: 'missing' };
  if (tsig.error !== 0)
    return { ok: false, reason: 'tsig-error', error: tsig.error, errorName: rcodeName(tsig.error) };
  if (tsig.keyName.toLowerCase() !== encodeNameText(key.name)) {
    return { ok: false, reason: 'wrong-key', detail: `signed with key ${tsig.keyName}` };
  }
  if (tsig.algorithm.toLowerCase() !== `${key.algorithm}.`) {
    return { ok: false, reason: 'wrong-key', detail: `signed with algorithm ${tsig.algorithm}` };
  }
  const unsigned = Buffer.from(raw.subarray(0, tsig.offset));
  unsigned.writeUInt16BE(tsig.originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const expected = hmac(key, [u16(requestMac.length), requestMac, unsigned, tsigVariables(key, tsig)]);
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) {
    return { ok: false, reason: 'bad-mac' };
  }
  const skewSeconds = nowSeconds - tsig.timeSigned;
  if (Math.abs(skewSeconds) > tsig.fudge) return { ok: false, reason: 'bad-time', skewSeconds };
  return { ok: true };
}

function encodeNameText(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}
