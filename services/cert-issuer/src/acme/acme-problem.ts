import { AsyncLocalStorage } from 'node:async_hooks';
import { IssueError, type IssueErrorKind } from './issue-error.ts';

/** An RFC 8555 §6.7 problem document as a CA sent it, with the response facts we classify by. */
export interface AcmeProblem {
  type: string;
  detail: string;
  status: number | undefined;
  retryAfter: Date | undefined;
  subproblems: Array<{ type: string; detail: string; identifier?: { value: string } }>;
}

/**
 * acme-client turns CA errors into plain `Error(detail)`, dropping the problem type and
 * Retry-After we classify by. Its axios instance reports every response to `observeResponse`; the
 * problem is kept in the async context of the operation that made the request, so concurrent orders
 * never see each other's problems.
 */
const problemStore = new AsyncLocalStorage<{ last: AcmeProblem | undefined; networkError?: string }>();

export function runCapturingProblems<T>(operation: () => Promise<T>): Promise<T> {
  return problemStore.run({ last: undefined }, operation);
}

/** Records the code of a failed connection to the CA (ECONNREFUSED, ETIMEDOUT, …). */
export function observeNetworkError(error: unknown): void {
  const store = problemStore.getStore();
  const code = (error as { code?: unknown } | null)?.code;
  if (store && typeof code === 'string') store.networkError = code;
}

function lastNetworkError(): string | undefined {
  return problemStore.getStore()?.networkError;
}

export function lastProblem(): AcmeProblem | undefined {
  return problemStore.getStore()?.last;
}

/** Forgets a problem that was handled, so a later failure is not classified by it. */
export function clearLastProblem(): void {
  const store = problemStore.getStore();
  if (store) store.last = undefined;
}

const acmeErrorPrefix = 'urn:ietf:params:acme:error:';

/** Records a problem document found in a response body (top level, or a challenge's `error`). */
export function observeResponse(status: number, headers: Record<string, unknown>, data: unknown): void {
  const store = problemStore.getStore();
  if (!store || typeof data !== 'object' || data === null) return;
  const body = data as { type?: unknown; detail?: unknown; error?: unknown; subproblems?: unknown };
  const candidate =
    typeof body.type === 'string' && body.type.startsWith(acmeErrorPrefix) ? body : body.error;
  if (typeof candidate !== 'object' || candidate === null) return;
  const problem = candidate as { type?: unknown; detail?: unknown; subproblems?: unknown };
  if (typeof problem.type !== 'string') return;
  store.last = {
    type: problem.type,
    detail: typeof problem.detail === 'string' ? problem.detail : '',
    status: status >= 400 ? status : undefined,
    retryAfter: parseRetryAfter(headers['retry-after']),
    subproblems: Array.isArray(problem.subproblems)
      ? (problem.subproblems as AcmeProblem['subproblems'])
      : [],
  };
}

/** A Retry-After header (delay-seconds or an HTTP date) as the time it names. */
export function parseRetryAfter(value: unknown): Date | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return new Date(Date.now() + seconds * 1000);
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** ACME problem types (RFC 8555 §6.7 and CA extensions) → our error kinds. */
const kindByProblem: Record<string, IssueErrorKind> = {
  rateLimited: 'rate-limited',
  rejectedIdentifier: 'policy',
  unsupportedIdentifier: 'policy',
  caa: 'policy',
  badCSR: 'policy',
  malformed: 'policy',
  unauthorized: 'validation',
  incorrectResponse: 'validation',
  tls: 'validation',
  connection: 'validation',
  dns: 'dns',
  serverInternal: 'ca-server',
  badNonce: 'ca-server',
  externalAccountRequired: 'policy',
  accountDoesNotExist: 'ca-server',
  orderNotReady: 'ca-server',
};

const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/**
 * Classifies whatever an ACME operation threw. A problem captured from the CA wins; then network
 * errors; then HTTP status. `connection` as a *challenge* problem means the CA could not reach us
 * (validation), while a network error on our request means we could not reach the CA (connection).
 */
export function classifyAcmeError(
  error: unknown,
  problem: AcmeProblem | undefined = lastProblem(),
): IssueError {
  if (error instanceof IssueError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const ownCode = (error as { code?: unknown }).code;
  const code = typeof ownCode === 'string' ? ownCode : lastNetworkError();
  if (code && connectionCodes.has(code)) {
    // When the code came from the transport, acme-client's own error message is noise.
    const detail = typeof ownCode === 'string' ? `: ${message}` : '';
    return new IssueError('connection', `cannot reach the CA (${code})${detail}`, { cause: error });
  }
  if (problem) {
    const short = problem.type.startsWith(acmeErrorPrefix)
      ? problem.type.slice(acmeErrorPrefix.length)
      : problem.type;
    const sub = problem.subproblems.map((s) => `${s.identifier?.value ?? ''}: ${s.detail}`).join('; ');
    const detail = [problem.detail, sub].filter(Boolean).join(' — ') || message;
    return new IssueError(
      kindByProblem[short] ?? (problem.status && problem.status >= 500 ? 'ca-server' : 'policy'),
      detail,
      {
        retryAfter: problem.retryAfter,
        problemType: problem.type,
        cause: error,
      },
    );
  }
  const status = (error as { response?: { status?: number } }).response?.status;
  if (typeof status === 'number' && status >= 500) {
    return new IssueError('ca-server', `the CA answered ${status}: ${message}`, { cause: error });
  }
  if (/timeout|socket hang up|network/i.test(message)) {
    return new IssueError('connection', `cannot reach the CA: ${message}`, { cause: error });
  }
  return new IssueError('internal', message, { cause: error });
}
