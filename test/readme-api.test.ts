// The README lists every endpoint for people; the OpenAPI document lists them for tools. They must agree.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../services/api/src/http/openapi.ts';

const readme = readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8');
const methods = ['get', 'put', 'post', 'patch', 'delete'];

/** `METHOD /v1/...` pairs named in backticks in the README's "HTTP API (api)" section. */
function readmeEndpoints(): string[] {
  const start = readme.indexOf('### HTTP API (api)');
  expect(start, 'the README has an "HTTP API (api)" section').toBeGreaterThan(0);
  const end = readme.indexOf('\n#', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/`(GET|PUT|POST|PATCH|DELETE) (\/v1\/[^`\s]*)`/g)].map(
    (match) => `${match[1]} ${match[2]}`,
  );
}

function documentedEndpoints(): string[] {
  return Object.entries(openApiDocument.paths as Record<string, Record<string, unknown>>).flatMap(
    ([route, item]) =>
      Object.keys(item)
        .filter((key) => methods.includes(key))
        .map((method) => `${method.toUpperCase()} ${route}`),
  );
}

describe('readme api list', () => {
  it('readme - lists exactly the endpoints of the OpenAPI document', () => {
    expect(readmeEndpoints().sort()).toEqual(documentedEndpoints().sort());
  });
});
