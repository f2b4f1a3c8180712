import type { z } from 'zod';

/** One refused field of a request: `field` is a path such as `port`, `domains[1]` or `env.MY KEY`. */
export interface FieldError {
  field: string;
  message: string;
}

/** `['domains', 0, 'url']` → `domains[0].url`; the empty path is `(body)`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let field = '';
  for (const part of path) {
    if (typeof part === 'number') field += `[${part}]`;
    else field += field === '' ? String(part) : `.${String(part)}`;
  }
  return field === '' ? '(body)' : field;
}

/** Zod's issues as field errors; an unknown key becomes an error on that key. */
export function zodFieldErrors(error: z.ZodError): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        errors.push({ field: fieldPath([...issue.path, key]), message: 'is not a known field' });
      }
      continue;
    }
    errors.push({ field: fieldPath(issue.path), message: issue.message });
  }
  return errors;
}

/** Plain wording for type errors ("is required", "must be a string") instead of zod's defaults. */
export const plainErrorMap: z.core.$ZodErrorMap = (issue) => {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'is required';
  const expected = issue.expected === 'record' ? 'object' : issue.expected;
  const article = /^[aeiou]/.test(expected) ? 'an' : 'a';
  return `must be ${article} ${expected}`;
};
