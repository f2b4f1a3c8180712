/**
 * Messages node-postgres gives when no connection could be had or the one in use was lost; they carry no code.
 * The pool's queue bound, the client's connect timeout (with the pool's wrapper of it), and a server that closed
 * or broke the connection.
 */
const connectionMessages = [
  'timeout exceeded when trying to connect',
  'timeout expired',
  'Connection terminated due to connection timeout',
  'Connection terminated unexpectedly',
  'Client has encountered a connection error and is not queryable',
];

/** Socket errors of a database that is down, restarting or out of reach. */
const socketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * True when `error` says Postgres could not be used right now (down, restarting, unreachable, out of
 * connections, or the pool's wait for a connection ran out), so nothing was written and trying again later is
 * the answer; false for errors of the query itself (constraints, syntax), which retrying does not fix.
 * SQLSTATE class 08 is "connection exception"; 57P01-57P03 are shutdown, crash and "cannot connect now"; 53300
 * is "too many connections".
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { message, code } = error as { message?: unknown; code?: unknown };
  if (typeof code === 'string') {
    if (socketCodes.has(code) || code.startsWith('08')) return true;
    if (code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return true;
  }
  return typeof message === 'string' && connectionMessages.some((text) => message.includes(text));
}
