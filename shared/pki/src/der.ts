/**
 * The few DER (X.690 distinguished encoding) constructs a PKCS#10 request needs, written out by hand: building
 * one through an ASN.1 object model cost more CPU per certificate than signing it. Every function returns the
 * complete encoding (tag, length, contents) of one value; constructed values take their parts already encoded.
 */

/** Tag, definite length (short form below 128 bytes, long form above: X.690 §8.1.3), contents. */
export function derValue(tag: number, contents: Uint8Array): Buffer {
  const length = contents.length;
  let header: number[];
  if (length < 0x80) header = [tag, length];
  else if (length < 0x100) header = [tag, 0x81, length];
  else if (length < 0x10000) header = [tag, 0x82, length >> 8, length & 0xff];
  else if (length < 0x1000000) header = [tag, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff];
  else throw new RangeError(`a DER value of ${length} bytes is larger than anything a CSR holds`);
  return Buffer.concat([Buffer.from(header), contents]);
}

export function derSequence(...parts: Uint8Array[]): Buffer {
  return derValue(0x30, Buffer.concat(parts));
}

/** A SET OF; DER orders its elements by their encodings (X.690 §11.6). */
export function derSet(...parts: Uint8Array[]): Buffer {
  const sorted = [...parts].sort((a, b) => Buffer.compare(a, b));
  return derValue(0x31, Buffer.concat(sorted));
}

/** A small non-negative INTEGER (a version number). */
export function derSmallInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0x7f) {
    throw new RangeError(`derSmallInteger takes 0..127, not ${value}`);
  }
  return derValue(0x02, Buffer.from([value]));
}

export function derBoolean(value: boolean): Buffer {
  return derValue(0x01, Buffer.from([value ? 0xff : 0x00]));
}

export function derNull(): Buffer {
  return Buffer.from([0x05, 0x00]);
}

/** An OBJECT IDENTIFIER from its dotted form (`2.5.29.17`), base-128 arcs (X.690 §8.19). */
export function derObjectIdentifier(dotted: string): Buffer {
  const arcs = dotted.split('.').map((arc) => {
    if (!/^\d+$/.test(arc)) throw new RangeError(`${dotted} is not a dotted object identifier`);
    return Number(arc);
  });
  const [first, second, ...rest] = arcs;
  if (first === undefined || second === undefined || first > 2 || (first < 2 && second > 39)) {
    throw new RangeError(`${dotted} is not a valid object identifier`);
  }
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    if (!Number.isSafeInteger(arc)) throw new RangeError(`${dotted} has an arc too large to encode`);
    const groups = [arc & 0x7f];
    for (let remaining = Math.floor(arc / 128); remaining > 0; remaining = Math.floor(remaining / 128)) {
      groups.unshift((remaining & 0x7f) | 0x80);
    }
    bytes.push(...groups);
  }
  return derValue(0x06, Buffer.from(bytes));
}

export function derUtf8String(text: string): Buffer {
  return derValue(0x0c, Buffer.from(text, 'utf8'));
}

export function derOctetString(contents: Uint8Array): Buffer {
  return derValue(0x04, contents);
}

/** A BIT STRING of whole bytes (no unused bits), as signatures are. */
export function derBitString(contents: Uint8Array): Buffer {
  return derValue(0x03, Buffer.concat([Buffer.from([0x00]), contents]));
}

/** `[number] IMPLICIT` of a primitive value: the contents as they are, under a context-specific tag. */
export function derContextPrimitive(number: number, contents: Uint8Array): Buffer {
  if (number > 30) throw new RangeError('context tags above 30 are not needed here');
  return derValue(0x80 | number, contents);
}

/** `[number] IMPLICIT` of a constructed value (a SET OF, a SEQUENCE): its parts under a context-specific tag. */
export function derContextConstructed(number: number, ...parts: Uint8Array[]): Buffer {
  if (number > 30) throw new RangeError('context tags above 30 are not needed here');
  return derValue(0xa0 | number, Buffer.concat(parts));
}
