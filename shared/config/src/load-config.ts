import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from './config-error.ts';

export type Env = Record<string, string | undefined>;

/**
 * Parses the environment with a zod object schema whose keys are variable names.
 *
 * For every key `X` of the schema, `X_FILE` may name a file whose trimmed content is used as `X`
 * (Docker and Kubernetes secrets); setting both is refused because it is ambiguous.
 * Empty strings count as unset, so `FOO=` falls back to the default like a missing `FOO`.
 * MUST be called once, from a service's composition root, never at import time.
 *
 * @throws ConfigError naming every bad variable and what it expects.
 */
export function loadConfig<Shape extends z.ZodRawShape>(
  schema: z.ZodObject<Shape>,
  env: Env = process.env,
): z.infer<z.ZodObject<Shape>> {
  const issues: ConfigIssue[] = [];
  const input: Env = {};
  for (const variable of Object.keys(schema.shape)) {
    const direct = nonEmpty(env[variable]);
    const fromFile = nonEmpty(env[`${variable}_FILE`]);
    if (direct !== undefined && fromFile !== undefined) {
      issues.push({ variable, message: `set either ${variable} or ${variable}_FILE, not both` });
      continue;
    }
    if (fromFile !== undefined) {
      try {
        input[variable] = readFileSync(fromFile, 'utf8').trim();
      } catch (error) {
        issues.push({
          variable: `${variable}_FILE`,
          message: `cannot read ${fromFile} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
        });
      }
      continue;
    }
    input[variable] = direct;
  }

  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? '(environment)');
      const value = input[variable];
      const message =
        value === undefined && issue.code === 'invalid_type'
          ? 'required, but it is not set'
          : `${issue.message} (${value === undefined ? 'it is not set' : `got "${redact(variable, value)}"`})`;
      issues.push({ variable, message });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return parsed.data as z.infer<z.ZodObject<Shape>>;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/**
 * Variables whose whole value is secret, by name: a pattern alone missed ACME_EAB (its HMAC keys sit inside
 * JSON), so the list is explicit, and the pattern stays as a net for names added later.
 */
export const secretVariables: ReadonlySet<string> = new Set([
  'GATEHOUSE_MASTER_KEY',
  'GATEHOUSE_API_TOKEN',
  'ACME_EAB',
  'NATS_CREDS',
  'NATS_PASSWORD',
  'NATS_TOKEN',
  'NATS_NKEY_SEED',
  'POSTGRES_PASSWORD',
  'DATABASE_PASSWORD',
]);
const secretNamePattern = /(KEY|TOKEN|SECRET|PASSWORD|CREDS|EAB|SEED)/;

/**
 * Error messages never echo secrets (only their length) nor passwords inside URLs, so logs stay
 * safe to share.
 */
function redact(variable: string, value: string): string {
  if (secretVariables.has(variable) || secretNamePattern.test(variable))
    return `<${value.length} characters, hidden>`;
  return value.replace(/(\/\/[^:/@\s]+:)[^@\s]*@/g, '$1***@');
}
