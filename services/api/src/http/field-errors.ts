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

/**
 * Zod's issues as field errors; an unknown key becomes an error on that key. A union (a domain given as a URL
 * string or as an object) reports the problems of the form the value has, when it has one; a record key reports
 * why the key is refused.
 */
export function zodFieldErrors(error: z.ZodError): FieldError[] {
  const errors: FieldError[] = [];
  collectFieldErrors(error.issues, [], errors);
  return errors;
}

function collectFieldErrors(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[],
  errors: FieldError[],
): void {
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        errors.push({ field: fieldPath([...path, key]), message: 'is not a known field' });
    } else if (issue.code === 'invalid_union') {
      const ofItsForm = issue.errors.filter((optionIssues) => !isWrongForm(optionIssues));
      if (ofItsForm.length === 1) collectFieldErrors(ofItsForm[0]!, path, errors);
      else errors.push({ field: fieldPath(path), message: issue.message });
    } else if (issue.code === 'invalid_key') {
      errors.push({ field: fieldPath(path), message: issue.issues[0]?.message ?? issue.message });
    } else {
      errors.push({ field: fieldPath(path), message: issue.message });
    }
  }
}

/** The option's only problem is the value's type itself (a number where a string or an object was expected). */
function isWrongForm(optionIssues: readonly z.core.$ZodIssue[]): boolean {
  return (
    optionIssues.length === 1 &&
    optionIssues[0]!.code === 'invalid_type' &&
    optionIssues[0]!.path.length === 0
  );
}

/** Plain wording for type errors ("is required", "must be a string") instead of zod's defaults. */
export const plainErrorMap: z.core.$ZodErrorMap = (issue) => {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'is required';
  const expected = issue.expected === 'record' ? 'object' : issue.expected;
  const article = /^[aeiou]/.test(expected) ? 'an' : 'a';
  return `must be ${article} ${expected}`;
};
