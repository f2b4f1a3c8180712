import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { createDb, type Db } from '@gatehouse/db';
import { createSecretBox, type SecretBox } from '@gatehouse/pki';
import { createLogger } from '@gatehouse/telemetry';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { sql } from 'kysely';
import { createApiApp } from '../src/http/app.ts';
import { openApiDocument } from '../src/http/openapi.ts';

export const token = 'a'.repeat(40);

/** A response body: validated against the OpenAPI document first, then read freely by the tests. */
// biome-ignore lint/suspicious/noExplicitAny: bodies are schema-checked before a test reads them
export type Json = any;

export interface ApiResponse {
  status: number;
  contentType: string;
  headers: Headers;
  body: Json;
}

/** Counts of every table a refused request must leave alone. */
export type RowCounts = Record<'apps' | 'domains' | 'certificates' | 'app_certificates' | 'outbox', number>;

export interface ApiHarness {
  db: Db;
  /** The secret box the api seals keys with (a fresh random master key per harness). */
  box: SecretBox;
  base: string;
  /**
   * Calls the API and checks the response against the OpenAPI document's schema for `template`, the method
   * and the status; a response the document does not describe, or one that breaks its schema, throws.
   */
  call(
    method: string,
    template: string,
    options?: {
      params?: Record<string, string>;
      query?: Record<string, string>;
      body?: unknown;
      auth?: boolean;
    },
  ): Promise<ApiResponse>;
  counts(): Promise<RowCounts>;
  /** Outbox events of a type, oldest first, as their envelopes. */
  events(type: string): Promise<Array<{ id: string; subject: string; data: Json; xmin: string }>>;
  close(): Promise<void>;
}

export async function startApiHarness(
  label: string,
  options: {
    reservedTcpPorts?: ReadonlyMap<number, string>;
    /** The api's own pool of this size (the harness's `db` keeps its own); default: it shares `db`'s. */
    maxConnections?: number;
  } = {},
): Promise<ApiHarness> {
  const database: TestDatabase = await createTestDatabase(label);
  const box = createSecretBox(randomBytes(32));
  const apiDb =
    options.maxConnections === undefined
      ? database.db
      : createDb({ connectionString: database.url, maxConnections: options.maxConnections });
  const app = createApiApp({
    token,
    logger: createLogger({ service: 'api-test', level: 'silent' }),
    db: apiDb,
    box,
    // Exec DNS providers are refused unless the operator names a directory (DNS_EXEC_DIR).
    dnsProviderPolicy: { execDir: '/usr/local/bin' },
    reservedTcpPorts: options.reservedTcpPorts,
  });
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date-time', {
    validate: (value: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value),
  });
  ajv.addFormat('uri', { validate: (value: string) => URL.canParse(value) });
  ajv.addFormat('email', /^[^\s@]+@[^\s@]+\.[^\s@]+$/);
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  ajv.addSchema(openApiDocument as unknown as object, 'openapi');

  function validateEmpty(template: string, method: string, status: number) {
    const paths = openApiDocument.paths as Record<string, Record<string, Json>>;
    const response = paths[template]?.[method.toLowerCase()]?.responses[String(status)];
    if (!response) throw new Error(`the OpenAPI document has no ${status} for ${method} ${template}`);
    if (response.content) throw new Error(`${method} ${template} ${status}: the document promises a body`);
  }

  function validate(template: string, method: string, status: number, contentType: string, body: unknown) {
    const paths = openApiDocument.paths as Record<string, Record<string, Json>>;
    const operation = paths[template]?.[method.toLowerCase()];
    if (!operation) throw new Error(`the OpenAPI document has no ${method} ${template}`);
    const response = operation.responses[String(status)];
    if (!response) throw new Error(`the OpenAPI document has no ${status} for ${method} ${template}`);
    const mediaType = contentType.split(';')[0]!.trim();
    if (!response.content?.[mediaType]) {
      throw new Error(`${method} ${template} ${status}: the document has no content type ${mediaType}`);
    }
    const pointer = [
      'paths',
      template,
      method.toLowerCase(),
      'responses',
      String(status),
      'content',
      mediaType,
    ]
      .map((part) => part.replace(/~/g, '~0').replace(/\//g, '~1'))
      .join('/');
    const validator = ajv.getSchema(`openapi#/${pointer}/schema`);
    if (!validator) throw new Error(`no schema at ${pointer}`);
    if (!validator(body)) {
      throw new Error(
        `${method} ${template} ${status} breaks the OpenAPI document: ${ajv.errorsText(validator.errors)}\n${JSON.stringify(body)}`,
      );
    }
  }

  /**
   * A body the server accepted must match the request schema the document shows (made from the same zod
   * schemas), so a client that checks its body against the document is never refused for its shape.
   */
  function validateAcceptedRequest(template: string, method: string, body: unknown) {
    const paths = openApiDocument.paths as Record<string, Record<string, Json>>;
    const requestBody = paths[template]?.[method.toLowerCase()]?.requestBody;
    if (!requestBody?.content?.['application/json']) return;
    const pointer = ['paths', template, method.toLowerCase(), 'requestBody', 'content', 'application/json']
      .map((part) => part.replace(/~/g, '~0').replace(/\//g, '~1'))
      .join('/');
    const validator = ajv.getSchema(`openapi#/${pointer}/schema`);
    if (!validator) throw new Error(`no schema at ${pointer}`);
    if (!validator(body)) {
      throw new Error(
        `${method} ${template} accepted a body its documented request schema refuses: ${ajv.errorsText(validator.errors)}\n${JSON.stringify(body)}`,
      );
    }
  }

  return {
    db: database.db,
    box,
    base,
    async call(method, template, options = {}) {
      let path = template;
      for (const [key, value] of Object.entries(options.params ?? {})) {
        path = path.replace(`{${key}}`, encodeURIComponent(value));
      }
      const query = options.query ? `?${new URLSearchParams(options.query)}` : '';
      const headers: Record<string, string> = {};
      if (options.auth !== false) headers.authorization = `Bearer ${token}`;
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${base}${path}${query}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
      const contentType = response.headers.get('content-type') ?? '';
      const text = await response.text();
      // A response without a body (204) must be one the document describes without content.
      const body = text === '' ? undefined : JSON.parse(text);
      if (body === undefined) validateEmpty(template, method, response.status);
      else validate(template, method, response.status, contentType, body);
      if (options.body !== undefined && response.ok) validateAcceptedRequest(template, method, options.body);
      return { status: response.status, contentType, headers: response.headers, body };
    },
    async counts() {
      const counts = {} as RowCounts;
      for (const table of ['apps', 'domains', 'certificates', 'app_certificates', 'outbox'] as const) {
        const row = await sql<{ n: string }>`select count(*) as n from ${sql.table(table)}`.execute(
          database.db,
        );
        counts[table] = Number(row.rows[0]!.n);
      }
      return counts;
    },
    async events(type) {
      const rows = await sql<{ envelope: Json; xmin: string }>`
        select envelope, xmin::text as xmin from outbox where type = ${type} order by seq`.execute(
        database.db,
      );
      return rows.rows.map((row) => ({
        id: row.envelope.id,
        subject: row.envelope.subject,
        data: row.envelope.data,
        xmin: row.xmin,
      }));
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (apiDb !== database.db) await apiDb.destroy();
      await database.drop();
    },
  };
}
