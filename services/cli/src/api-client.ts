import { z } from 'zod';
import type { CliConfig } from './config.ts';
import { CliError, type ExitCode, exitCodes } from './exit-codes.ts';

const problemSchema = z.looseObject({
  title: z.string().optional(),
  detail: z.string().optional(),
  retryAfter: z.string().optional(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
export type Problem = z.infer<typeof problemSchema>;

/** A refusal by the API, with its status and problem document. */
export class ApiRefusal extends CliError {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem, exitCode: ExitCode) {
    const errors = problem.errors?.map((error) => `\n  ${error.field}: ${error.message}`).join('') ?? '';
    super(`${problem.detail ?? problem.title ?? `HTTP ${status}`}${errors}`, exitCode, problem);
    this.status = status;
    this.problem = problem;
  }
}

export interface ApiClient {
  /** JSON request; a non-2xx answer throws ApiRefusal. Returns the status and the parsed body. */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /** A text resource (the PEM chain). */
  text(path: string): Promise<string>;
}

/** Talks to `/v1` with the bearer token in a header (never in a URL). */
export function createApiClient(config: CliConfig): ApiClient {
  async function send(method: string, path: string, body?: unknown): Promise<Response> {
    try {
      return await fetch(`${config.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${config.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      // undici wraps the socket error: the code is on the cause (or on the first of its errors).
      const inner = (error as { cause?: { code?: string; errors?: Array<{ code?: string }> } }).cause;
      const cause = inner?.code ?? inner?.errors?.[0]?.code ?? (error as Error).message;
      throw new CliError(`cannot reach the api at ${config.baseUrl} (${cause})`, exitCodes.unavailable);
    }
  }

  async function refusal(response: Response): Promise<ApiRefusal> {
    const text = await response.text();
    let problem: Problem = { detail: text.slice(0, 500) || `HTTP ${response.status}` };
    try {
      const parsed = problemSchema.safeParse(JSON.parse(text));
      if (parsed.success) problem = parsed.data;
    } catch {
      // not JSON: keep the text
    }
    return new ApiRefusal(response.status, problem, exitCodeOf(response.status));
  }

  return {
    async request(method, path, body) {
      const response = await send(method, path, body);
      if (!response.ok) throw await refusal(response);
      const text = await response.text();
      return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
    },
    async text(path) {
      const response = await send('GET', path);
      if (!response.ok) throw await refusal(response);
      return response.text();
    },
  };
}

function exitCodeOf(status: number): ExitCode {
  if (status === 401) return exitCodes.unauthorized;
  if (status === 404) return exitCodes.notFound;
  if (status === 429) return exitCodes.rateLimited;
  if (status >= 500) return exitCodes.unavailable;
  return exitCodes.failed;
}
