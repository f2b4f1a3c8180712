import { z } from 'zod';
import { CliError, exitCodes } from './exit-codes.ts';

const envSchema = z.object({
  /** Base URL of the api, e.g. http://127.0.0.1:8080 (no /v1). */
  GATEHOUSE_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:8080' })
    .default('http://127.0.0.1:8080'),
  /** The API token (the api's GATEHOUSE_API_TOKEN). */
  GATEHOUSE_API_TOKEN: z.string({ error: 'is not set; export the api token' }).min(1, 'is empty'),
});

export interface CliConfig {
  baseUrl: string;
  token: string;
}

/** Reads GATEHOUSE_URL and GATEHOUSE_API_TOKEN; a bad value is a usage error naming the variable. */
export function loadCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const parsed = envSchema.safeParse({
    GATEHOUSE_URL: env.GATEHOUSE_URL || undefined,
    GATEHOUSE_API_TOKEN: env.GATEHOUSE_API_TOKEN || undefined,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CliError(`${String(issue.path[0])} ${issue.message}`, exitCodes.usage);
  }
  return { baseUrl: parsed.data.GATEHOUSE_URL.replace(/\/+$/, ''), token: parsed.data.GATEHOUSE_API_TOKEN };
}
