import { createSocket } from 'node:dgram';
import { isIPv6, connect as tcpConnect } from 'node:net';
import { DnsProviderError } from '../dns-provider-error.ts';

export interface DnsServer {
  host: string;
  port: number;
}

export interface ExchangeOptions {
  timeoutMs: number;
  /** Skip UDP. Without it, TCP is used when the message exceeds 512 bytes or the UDP answer is truncated. */
  forceTcp?: boolean;
}

/** Classic DNS UDP payload limit (RFC 1035 §4.2.1); we send no EDNS, so the server assumes it too. */
export const UDP_MAX = 512;

export function serverLabel(server: DnsServer): string {
  return isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

function timeoutError(server: DnsServer, transport: string, timeoutMs: number): DnsProviderError {
  return new DnsProviderError(
    'timeout',
    `DNS server at ${serverLabel(server)} did not answer over ${transport} within ${timeoutMs} ms`,
  );
}

/** One UDP round trip; answers from another port or with another ID (late or spoofed) are ignored (RFC 5452). */
function udpExchange(server: DnsServer, message: Buffer, timeoutMs: number): Promise<Buffer> {
  const id = message.readUInt16BE(0);
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    const finish = (error: Error | undefined, answer?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(timeoutError(server, 'UDP', timeoutMs)), timeoutMs);
    socket.on('message', (answer, from) => {
      if (from.port === server.port && answer.length >= 2 && answer.readUInt16BE(0) === id)
        finish(undefined, answer);
    });
    socket.on('error', (error) =>
      finish(
        new DnsProviderError('server', `UDP to ${serverLabel(server)} failed: ${error.message}`, {
          cause: error,
        }),
      ),
    );
    socket.send(message, server.port, server.host);
  });
}

/** One TCP round trip with the 2-byte length prefix of RFC 1035 §4.2.2. */
function tcpExchange(server: DnsServer, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, answer?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(timeoutError(server, 'TCP', timeoutMs)), timeoutMs);
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length);
      socket.write(Buffer.concat([length, message]));
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        finish(undefined, received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
    socket.on('error', (error) =>
      finish(
        new DnsProviderError('server', `TCP to ${serverLabel(server)} failed: ${error.message}`, {
          cause: error,
        }),
      ),
    );
    socket.on('close', () =>
      finish(
        new DnsProviderError('server', `DNS server at ${serverLabel(server)} closed TCP before answering`),
      ),
    );
  });
}

/**
 * Sends `message` and returns the raw answer. UDP is tried twice (one retry on timeout) unless the message
 * exceeds 512 bytes or `forceTcp` is set; a truncated (TC) UDP answer is repeated over TCP. The TC answer
 * itself is not trusted for anything else, so its TSIG is not checked.
 */
export async function exchange(
  server: DnsServer,
  message: Buffer,
  options: ExchangeOptions,
): Promise<Buffer> {
  if (message.length > 0xffff) throw new DnsProviderError('protocol', 'DNS message exceeds 65535 bytes');
  if (options.forceTcp || message.length > UDP_MAX) return tcpExchange(server, message, options.timeoutMs);
  let answer: Buffer | undefined;
  for (let attempt = 1; answer === undefined; attempt++) {
    try {
      answer = await udpExchange(server, message, options.timeoutMs);
    } catch (error) {
      if (attempt >= 2 || !(error instanceof DnsProviderError) || error.code !== 'timeout') throw error;
    }
  }
  if (answer.length >= 4 && (answer.readUInt16BE(2) & 0x0200) !== 0) {
    return tcpExchange(server, message, options.timeoutMs);
  }
  return answer;
}
