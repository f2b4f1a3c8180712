import { isIP } from 'node:net';

/**
 * The network-order bytes of an IP address in text form: 4 for IPv4, 16 for IPv6 (with `::` expanded and an
 * embedded IPv4 tail such as `::ffff:192.0.2.1` read), as an X.509 iPAddress name holds them (RFC 5280
 * §4.2.1.6). Throws a RangeError for anything `net.isIP` does not accept, and for a zone id (`fe80::1%eth0`),
 * which no certificate can name.
 */
export function ipAddressBytes(address: string): Buffer {
  const version = isIP(address);
  if (version === 4) return Buffer.from(address.split('.').map(Number));
  if (version !== 6 || address.includes('%')) throw new RangeError(`${address} is not an IP address`);

  let text = address;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // The last 32 bits written as dotted IPv4.
    tail = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined];
  const groupsOf = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const before = groupsOf(head);
  const after = rest === undefined ? [] : groupsOf(rest);
  const groups =
    rest === undefined ? before : [...before, ...Array(8 - before.length - after.length).fill(0), ...after];
  const bytes = Buffer.alloc(16);
  for (const [index, group] of groups.entries()) bytes.writeUInt16BE(group, index * 2);
  if (tail.length === 4) Buffer.from(tail).copy(bytes, 12);
  return bytes;
}
