import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { Ajv } from 'ajv';

export type TraefikValidation = { ok: true } | { ok: false; errors: string[] };

/**
 * Checks a rendered object against Traefik's v3 file-provider schema. Every file MUST pass this before it
 * is written: one invalid file makes Traefik drop the whole directory's configuration.
 */
export function validateTraefikConfig(config: unknown): TraefikValidation {
  validator ??= compileTraefikSchema(defaultSchemaPath());
  return validateWith(validator, config);
}

/** Compiles the schema at `schemaPath` into a reusable check (for a schema outside the repo). */
export function createTraefikValidator(schemaPath: string): (config: unknown) => TraefikValidation {
  const validate = compileTraefikSchema(schemaPath);
  return (config) => validateWith(validate, config);
}

/** Compiled on first use, not at import time; compiling takes tens of milliseconds. */
let validator: ValidateFunction | undefined;

function compileTraefikSchema(schemaPath: string): ValidateFunction {
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as object;
  return new Ajv({ strict: true, allErrors: true }).compile(schema);
}

// With allErrors, a value that matches one branch of a oneOf still reports every other branch's
// additionalProperties failure; the real cause is reported beside them.
const ONE_OF_NOISE = /\/oneOf\/\d+\/additionalProperties$/;

function validateWith(validate: ValidateFunction, config: unknown): TraefikValidation {
  if (validate(config)) return { ok: true };
  const errors = (validate.errors ?? [])
    .filter((error) => !ONE_OF_NOISE.test(error.schemaPath))
    .map((error) => {
      const extra =
        error.keyword === 'additionalProperties'
          ? ` ('${String((error.params as { additionalProperty?: unknown }).additionalProperty)}')`
          : '';
      return `${error.instancePath || '/'} ${error.message ?? error.keyword}${extra}`;
    });
  // A oneOf that failed only through the filtered branches still failed: keep one line for it.
  return {
    ok: false,
    errors: errors.length > 0 ? [...new Set(errors)] : ['/ does not match the Traefik v3 schema'],
  };
}

/**
 * The schema vendored in `services/proxy-config/schema/` (see SOURCE.md there): inside the repository, so the
 * service's Docker image, which holds only the repository, validates exactly as development does.
 */
export const TRAEFIK_SCHEMA_PATH = resolve(
  import.meta.dirname,
  '..',
  '..',
  'schema',
  'traefik-v3-file-provider.json',
);

function defaultSchemaPath(): string {
  return TRAEFIK_SCHEMA_PATH;
}
