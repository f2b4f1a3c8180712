import { DnsProviderError } from '../dns-provider-error.ts';

/** RR types, classes, opcodes and rcodes used here (RFC 1035, RFC 2136, RFC 8945). */
export const TYPE_SOA = 6;
export const TYPE_TXT = 16;
export const TYPE_TSIG = 250;
export const CLASS_IN = 1;
export const CLASS_NONE = 254;
export const CLASS_ANY = 255;
export const OPCODE_QUERY = 0;
export const OPCODE_UPDATE = 5;

export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
  16: 'BADSIG',
  17: 'BADKEY',
  18: 'BADTIME',
  22: 'BADTRUNC',
};

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

const HEADER_LENGTH = 12;

/**
 * A domain name in uncompressed wire form. Accepts names with or without the trailing dot; `''` and `'.'`
 * are the root. Labels are kept as given unless `canonical` (lowercased, as TSIG digests require).
 */
export function encodeName(name: string, canonical = false): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const parts: Buffer[] = [];
  if (trimmed !== '') {
    for (const label of trimmed.split('.')) {
      if (!/^[\x21-\x7e]*$/.test(label)) {
        throw new DnsProviderError(
          'protocol',
          `invalid DNS name ${JSON.stringify(name)}: use the ASCII (punycode) form`,
        );
      }
      const bytes = Buffer.from(canonical ? label.toLowerCase() : label, 'ascii');
      if (bytes.length === 0 || bytes.length > 63) {
        throw new DnsProviderError(
          'protocol',
          `invalid DNS name ${JSON.stringify(name)}: empty or >63-byte label`,
        );
      }
      parts.push(Buffer.from([bytes.length]), bytes);
    }
  }
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > 255)
    throw new DnsProviderError('protocol', `invalid DNS name ${JSON.stringify(name)}: too long`);
  return wire;
}

/** TXT RDATA: the value as UTF-8, split into character-strings of at most 255 bytes each. */
export function encodeTxtRdata(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const parts: Buffer[] = [];
  for (let offset = 0; offset === 0 || offset < bytes.length; offset += 255) {
    const chunk = bytes.subarray(offset, offset + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value);
  return buffer;
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

function header(id: number, opcode: number, counts: [number, number, number, number], rd = false): Buffer {
  const buffer = Buffer.alloc(HEADER_LENGTH);
  buffer.writeUInt16BE(id, 0);
  buffer.writeUInt16BE((opcode << 11) | (rd ? 0x0100 : 0), 2);
  counts.forEach((count, index) => {
    buffer.writeUInt16BE(count, 4 + index * 2);
  });
  return buffer;
}

function resourceRecord(name: string, type: number, klass: number, ttl: number, rdata: Buffer): Buffer {
  return Buffer.concat([encodeName(name), u16(type), u16(klass), u32(ttl), u16(rdata.length), rdata]);
}

export interface TxtUpdate {
  /** Message ID; the caller picks it (random) and matches the response against it. */
  id: number;
  zone: string;
  name: string;
  value: string;
  /** `add` puts the RR in the zone (class IN); `delete` removes exactly this RR (class NONE, TTL 0). */
  action: 'add' | 'delete';
  /** TTL of an added record, seconds. Ignored for deletes (RFC 2136 §2.5.4 requires 0). */
  ttl: number;
}

/**
 * An RFC 2136 UPDATE: zone section (zone, SOA, IN), no prerequisites, one update RR, no additional
 * records (a TSIG is appended by `signMessage`). Names are not compressed.
 */
export function encodeTxtUpdate(update: TxtUpdate): Buffer {
  const rdata = encodeTxtRdata(update.value);
  const rr =
    update.action === 'add'
      ? resourceRecord(update.name, TYPE_TXT, CLASS_IN, update.ttl, rdata)
      : resourceRecord(update.name, TYPE_TXT, CLASS_NONE, 0, rdata);
  return Buffer.concat([
    header(update.id, OPCODE_UPDATE, [1, 0, 1, 0]),
    encodeName(update.zone),
    u16(TYPE_SOA),
    u16(CLASS_IN),
    rr,
  ]);
}

/** A standard query for one name and type, class IN, without recursion. */
export function encodeQuery(id: number, name: string, type: number): Buffer {
  return Buffer.concat([header(id, OPCODE_QUERY, [1, 0, 0, 0]), encodeName(name), u16(type), u16(CLASS_IN)]);
}

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: Buffer;
  /** Offset of the RR's first byte in the message. */
  offset: number;
}

export interface TsigRecord {
  keyName: string;
  algorithm: string;
  /** Seconds since the epoch (48-bit on the wire). */
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  otherData: Buffer;
  /** Offset of the TSIG RR in the message: the signed part of the message ends here. */
  offset: number;
}

export interface DecodedMessage {
  id: number;
  /** QR: set in responses. */
  response: boolean;
  opcode: number;
  truncated: boolean;
  /** The 4-bit header RCODE; TSIG errors travel in the TSIG RR instead. */
  rcode: number;
  questionCount: number;
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  /** The additional section without the TSIG RR. */
  additional: ResourceRecord[];
  tsig: TsigRecord | undefined;
}

function protocolError(message: string): DnsProviderError {
  return new DnsProviderError('protocol', `malformed DNS message: ${message}`);
}

/** Reads a possibly compressed name; returns it lowercased-as-sent with a trailing dot and the offset after it. */
export function decodeName(message: Buffer, start: number): { name: string; next: number } {
  const labels: string[] = [];
  let offset = start;
  let next = -1;
  let jumps = 0;
  for (;;) {
    if (offset >= message.length) throw protocolError('name runs past the end');
    const length = message[offset]!;
    if ((length & 0xc0) === 0xc0) {
      if (offset + 1 >= message.length) throw protocolError('truncated compression pointer');
      if (++jumps > 64) throw protocolError('compression loop');
      if (next < 0) next = offset + 2;
      offset = ((length & 0x3f) << 8) | message[offset + 1]!;
      continue;
    }
    if (length > 63) throw protocolError('bad label length');
    if (length === 0) {
      if (next < 0) next = offset + 1;
      break;
    }
    if (offset + 1 + length > message.length) throw protocolError('label runs past the end');
    labels.push(message.toString('ascii', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  return { name: `${labels.join('.')}.`, next };
}

function decodeRecord(message: Buffer, start: number): { record: ResourceRecord; next: number } {
  const { name, next } = decodeName(message, start);
  if (next + 10 > message.length) throw protocolError('record header runs past the end');
  const rdlength = message.readUInt16BE(next + 8);
  const rdataStart = next + 10;
  if (rdataStart + rdlength > message.length) throw protocolError('record data runs past the end');
  return {
    record: {
      name,
      type: message.readUInt16BE(next),
      class: message.readUInt16BE(next + 2),
      ttl: message.readUInt32BE(next + 4),
      rdata: message.subarray(rdataStart, rdataStart + rdlength),
      offset: start,
    },
    next: rdataStart + rdlength,
  };
}

function decodeTsig(message: Buffer, record: ResourceRecord): TsigRecord {
  const rdataStart = record.rdata.byteOffset - message.byteOffset;
  const end = rdataStart + record.rdata.length;
  const { name: algorithm, next } = decodeName(message, rdataStart);
  let offset = next;
  const need = (bytes: number) => {
    if (offset + bytes > end) throw protocolError('TSIG record too short');
  };
  need(10);
  const timeSigned = message.readUIntBE(offset, 6);
  const fudge = message.readUInt16BE(offset + 6);
  const macSize = message.readUInt16BE(offset + 8);
  offset += 10;
  need(macSize);
  const mac = message.subarray(offset, offset + macSize);
  offset += macSize;
  need(6);
  const originalId = message.readUInt16BE(offset);
  const error = message.readUInt16BE(offset + 2);
  const otherLength = message.readUInt16BE(offset + 4);
  offset += 6;
  need(otherLength);
  const otherData = message.subarray(offset, offset + otherLength);
  return {
    keyName: record.name,
    algorithm,
    timeSigned,
    fudge,
    mac,
    originalId,
    error,
    otherData,
    offset: record.offset,
  };
}

/**
 * Decodes a DNS message: header, answer, authority and additional records (RDATA left raw), and a TSIG RR,
 * which MUST be the last additional record (RFC 8945 §5.1). Throws `DnsProviderError('protocol')` on
 * anything malformed.
 */
export function decodeMessage(message: Buffer): DecodedMessage {
  if (message.length < HEADER_LENGTH) throw protocolError('shorter than a header');
  const flags = message.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((offset) => message.readUInt16BE(offset)) as [
    number,
    number,
    number,
    number,
  ];
  let offset = HEADER_LENGTH;
  for (let index = 0; index < counts[0]; index++) {
    offset = decodeName(message, offset).next + 4;
    if (offset > message.length) throw protocolError('question runs past the end');
  }
  const sections: ResourceRecord[][] = [[], [], []];
  for (const [section, count] of [counts[1], counts[2], counts[3]].entries()) {
    for (let index = 0; index < count; index++) {
      const { record, next } = decodeRecord(message, offset);
      sections[section]!.push(record);
      offset = next;
    }
  }
  const additional = sections[2]!;
  let tsig: TsigRecord | undefined;
  const tsigIndex = additional.findIndex((record) => record.type === TYPE_TSIG);
  if (tsigIndex >= 0) {
    if (tsigIndex !== additional.length - 1) throw protocolError('TSIG is not the last record');
    tsig = decodeTsig(message, additional.pop()!);
  }
  return {
    id: message.readUInt16BE(0),
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0x0f,
    truncated: (flags & 0x0200) !== 0,
    rcode: flags & 0x0f,
    questionCount: counts[0],
    answers: sections[0]!,
    authority: sections[1]!,
    additional,
    tsig,
  };
}
