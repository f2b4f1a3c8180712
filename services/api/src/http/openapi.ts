import {
  attemptOutcomes,
  certificateSources,
  certificateStatuses,
  notificationKinds,
  notificationStatuses,
  tcpProxyFailureReasons,
  tcpProxyStatuses,
} from '@gatehouse/db';
import {
  acmeProfilePattern,
  challengePreferenceSchema,
  keyTypeSchema,
  wwwModeSchema,
} from '@gatehouse/events';
import { certificateModes } from '@gatehouse/pki';
import { limitNames } from '@gatehouse/rate-limits';
import { createAppSchema, patchAppSchema } from '../apps/app-input.ts';
import { backupMediaType } from '../backup/backup-routes.ts';
import { certificateSorts } from '../certificates/certificate.repository.ts';
import { uploadSchema } from '../certificates/certificate-routes.ts';
import { nextRenewalReasons } from '../certificates/next-renewal.ts';
import { dnsProviderRequestSchema } from '../dns-providers/dns-provider-input.ts';
import { pemMediaType } from '../local-ca/local-ca-routes.ts';
import { budgetKinds } from '../rate-limits/rate-limit-budgets.ts';
import { adminEmailsSchema, fallbackCertificateSchema } from '../settings/settings-input.ts';
import { requestBodyJsonSchema } from './request-body.ts';

/**
 * The OpenAPI 3.1 description of `/v1` (apps and certificates), served at `GET /v1/openapi.json`. Response
 * schemas are closed (`additionalProperties: false`) so the tests, which validate every response they receive
 * against this document, catch a field that leaks out (a private key, say) as well as one that goes missing.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });
const dateTime = { type: 'string', format: 'date-time' };
const json = (schema: unknown) => ({ 'application/json': { schema } });

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
const unauthorized = problem('Missing or wrong bearer token');

/** Cursor pagination (keyset): `limit` rows per page, `cursor` = the previous page's `nextCursor`. */
const pageParameters = (defaultLimit: number, maxLimit: number) => [
  {
    name: 'limit',
    in: 'query',
    description: 'Rows per page',
    schema: { type: 'integer', minimum: 1, maximum: maxLimit, default: defaultLimit },
  },
  {
    name: 'cursor',
    in: 'query',
    description:
      'Opaque: `nextCursor` of the previous page, passed unchanged (with the same filters and sort). A cursor of another list or order is a 400.',
    schema: { type: 'string', maxLength: 1024 },
  },
];
const nextCursor = nullable({
  type: 'string',
  description: 'Pass as `cursor` for the next page; null on the last page',
});

const certificateProperties = {
  id: { type: 'string', format: 'uuid' },
  names: { type: 'array', items: { type: 'string' }, minItems: 1 },
  status: { type: 'string', enum: [...certificateStatuses] },
  source: { type: 'string', enum: [...certificateSources] },
  issuer: nullable({ type: 'string', description: 'CA directory URL (ACME) or issuer name (uploaded)' }),
  keyType: { type: 'string' },
  notBefore: nullable(dateTime),
  notAfter: nullable(dateTime),
  renewAt: nullable(dateTime),
  renewReason: nullable({ type: 'string' }),
  lastError: nullable({
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'message', 'at'],
    properties: { kind: { type: 'string' }, message: { type: 'string' }, at: nullable(dateTime) },
  }),
  nextRenewal: {
    type: 'object',
    additionalProperties: false,
    description: 'When and why Gatehouse renews it next',
    required: ['at', 'reason', 'detail'],
    properties: {
      at: nullable(dateTime),
      reason: { type: 'string', enum: [...nextRenewalReasons] },
      detail: { type: 'string', description: 'One sentence for a person' },
    },
  },
  failureCount: { type: 'integer', minimum: 0, description: 'Failed rounds since the last success' },
  profile: nullable({
    type: 'string',
    description: "The ACME profile the current certificate's order carried; null: the CA's default profile",
  }),
  releasedAt: nullable({
    ...dateTime,
    description:
      'Since when no app uses this certificate (its app was deleted or its names changed): it is not renewed, and ' +
      'an app with these names uses it again; null while in use',
  }),
};

/** An ACME profile name (draft-ietf-acme-profiles), as a domain asks for it. */
const profileName = {
  type: 'string',
  pattern: acmeProfilePattern.source,
};

const nameParameter = {
  name: 'name',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' },
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Gatehouse API',
    version: '1',
    description:
      'Apps behind Traefik with automatic HTTPS. Every /v1 route except this document needs `Authorization: Bearer <token>`; errors are application/problem+json (RFC 9457).',
  },
  jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
  security: [{ bearer: [] }],
  paths: {
    '/v1/openapi.json': {
      get: {
        summary: 'This document',
        security: [],
        responses: { '200': { description: 'The OpenAPI document', content: json({ type: 'object' }) } },
      },
    },
    '/v1/apps': {
      post: {
        summary: 'Create an app; requests the certificate for its https:// domains',
        requestBody: { required: true, content: json(ref('CreateApp')) },
        responses: {
          '201': { description: 'Created', content: json(ref('App')) },
          '400': problem('Invalid fields, listed in `errors`'),
          '401': unauthorized,
          '409': problem('The name or a host name is used by another app'),
          '422': problem(
            'A domain asks for a certificate mode its name cannot have (acme for an internal name)',
          ),
        },
      },
      get: {
        summary: 'List apps, by name, in cursor pages',
        parameters: pageParameters(100, 1000),
        responses: {
          '200': {
            description: 'One page of apps, by name',
            content: json({
              type: 'object',
              additionalProperties: false,
              required: ['apps', 'nextCursor'],
              properties: { apps: { type: 'array', items: ref('App') }, nextCursor },
            }),
          },
          '400': problem('A bad limit or cursor'),
          '401': unauthorized,
        },
      },
    },
    '/v1/apps/{name}': {
      parameters: [nameParameter],
      get: {
        summary: 'Show an app with its domains, container and certificates',
        description:
          'Env values are secrets: shown as `****` unless `reveal=env` is given. A `****` value sent back in a PATCH keeps the stored value.',
        parameters: [
          {
            name: 'reveal',
            in: 'query',
            required: false,
            schema: { type: 'string', enum: ['env'] },
            description: '`env` shows the env values in full',
          },
        ],
        responses: {
          '200': { description: 'The app', content: json(ref('App')) },
          '400': problem('An unknown `reveal` value'),
          '401': unauthorized,
          '404': problem('No such app'),
        },
      },
      patch: {
        summary: 'Change an app; the revision goes up by one',
        requestBody: { required: true, content: json(ref('PatchApp')) },
        responses: {
          '200': { description: 'The changed app', content: json(ref('App')) },
          '400': problem('Invalid fields, listed in `errors`'),
          '401': unauthorized,
          '404': problem('No such app'),
          '409': problem('A host name is used by another app'),
          '422': problem(
            'A domain asks for a certificate mode its name cannot have (acme for an internal name)',
          ),
        },
      },
      delete: {
        summary: 'Delete an app; its certificates are kept for reuse',
        responses: {
          '202': {
            description: 'Deleted; the container and routes go away asynchronously',
            content: json({
              type: 'object',
              additionalProperties: false,
              required: ['name', 'revision'],
              properties: { name: { type: 'string' }, revision: { type: 'integer' } },
            }),
          },
          '401': unauthorized,
          '404': problem('No such app'),
        },
      },
    },
    '/v1/certificates': {
      get: {
        summary: 'List certificates in cursor pages',
        parameters: [
          { name: 'status', in: 'query', schema: { type: 'string', enum: [...certificateStatuses] } },
          {
            name: 'name',
            in: 'query',
            description: 'Only certificates covering this host name (listed, or by a wildcard)',
            schema: { type: 'string' },
          },
          {
            name: 'app',
            in: 'query',
            description: 'Only certificates the app with this name uses',
            schema: { type: 'string' },
          },
          {
            name: 'q',
            in: 'query',
            description: 'Only certificates with a name containing this text (case-insensitive)',
            schema: { type: 'string', minLength: 1, maxLength: 253 },
          },
          {
            name: 'sort',
            in: 'query',
            description: '`created`: oldest first; `expiry`: soonest notAfter first, never issued last',
            schema: { type: 'string', enum: [...certificateSorts], default: 'created' },
          },
          ...pageParameters(100, 1000),
        ],
        responses: {
          '200': {
            description: 'One page of certificates in the chosen order',
            content: json({
              type: 'object',
              additionalProperties: false,
              required: ['certificates', 'nextCursor'],
              properties: { certificates: { type: 'array', items: ref('Certificate') }, nextCursor },
            }),
          },
          '400': problem('A bad filter'),
          '401': unauthorized,
        },
      },
      post: {
        summary:
          'Upload a custom certificate (served instead of ACME for the names it covers, never renewed)',
        requestBody: {
          required: true,
          content: json(requestBodyJsonSchema(uploadSchema)),
        },
        responses: {
          '201': {
            description: 'Stored; `warnings` says what to watch (e.g. expires within 7 days)',
            content: json({
              type: 'object',
              additionalProperties: false,
              required: [...Object.keys(certificateProperties), 'warnings'],
              properties: {
                ...certificateProperties,
                warnings: { type: 'array', items: { type: 'string' } },
              },
            }),
          },
          '400': problem('Unusable: key mismatch, chain order, expired, not PEM… (listed in `errors`)'),
          '401': unauthorized,
        },
      },
    },
    '/v1/certificates/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        summary:
          'Show a certificate with its issuance attempts, last preflight, rate-limit state and a plain-words hint ("why no certificate?")',
        responses: {
          '200': { description: 'The certificate', content: json(ref('CertificateDetail')) },
          '401': unauthorized,
          '404': problem('No such certificate'),
        },
      },
      delete: {
        summary: 'Delete an uploaded certificate',
        responses: {
          '204': { description: 'Deleted; its names fall to their next certificate' },
          '401': unauthorized,
          '404': problem('No such certificate'),
          '409': problem('Managed by Gatehouse (ACME), or the current fallback certificate'),
        },
      },
    },
    '/v1/certificates/{id}/chain': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        summary: 'The certificate chain as PEM, leaf first (public certificates only, never the key)',
        responses: {
          '200': {
            description: 'PEM chain',
            content: { 'application/pem-certificate-chain': { schema: { type: 'string' } } },
          },
          '401': unauthorized,
          '404': problem('No such certificate, or not issued yet'),
        },
      },
    },
    '/v1/certificates/{id}/renew': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      post: {
        summary: 'Renew now (reason manual); idempotent while a renewal is already running',
        responses: {
          '202': { description: 'Renewal requested (or already running)', content: json(ref('Certificate')) },
          '401': unauthorized,
          '404': problem('No such certificate'),
          '409': problem('An uploaded certificate: Gatehouse does not renew it'),
          '429': problem(
            'A CA rate limit forbids it now; `retryAfter` (and the Retry-After header) says when',
          ),
        },
      },
    },
    '/v1/dns-providers': {
      get: {
        summary: 'DNS-01 providers per zone, in cursor pages; secrets masked',
        parameters: pageParameters(100, 1000),
        responses: {
          '200': {
            description: 'One page of providers, by zone',
            content: json({
              type: 'object',
              additionalProperties: false,
              required: ['dnsProviders', 'nextCursor'],
              properties: { dnsProviders: { type: 'array', items: ref('DnsProvider') }, nextCursor },
            }),
          },
          '400': problem('A bad limit or cursor'),
          '401': unauthorized,
        },
      },
      post: {
        summary: 'Add the DNS provider of a zone (its secret is stored sealed and never shown in full)',
        requestBody: {
          required: true,
          content: json(requestBodyJsonSchema(dnsProviderRequestSchema)),
        },
        responses: {
          '201': { description: 'Stored', content: json(ref('DnsProvider')) },
          '400': problem('Invalid fields, listed in `errors`'),
          '401': unauthorized,
          '409': problem('The zone already has a provider'),
        },
      },
    },
    '/v1/dns-providers/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        summary: 'One DNS provider; secret masked',
        responses: {
          '200': { description: 'The provider', content: json(ref('DnsProvider')) },
          '401': unauthorized,
          '404': problem('No such provider'),
        },
      },
      delete: {
        summary: 'Remove a DNS provider',
        responses: {
          '204': { description: 'Removed' },
          '401': unauthorized,
          '404': problem('No such provider'),
        },
      },
    },
    '/v1/notifications': {
      get: {
        summary: 'List notifications (admin mails and what became of them), newest first',
        parameters: [
          { name: 'certificateId', in: 'query', schema: { type: 'string', format: 'uuid' } },
          { name: 'kind', in: 'query', schema: { type: 'string', enum: [...notificationKinds] } },
          ...pageParameters(50, 500),
        ],
        responses: {
          '200': {
            description: 'One page of notifications, newest first',
            content: json({
              type: 'object',
              additionalProperties: false,
              required: ['notifications', 'nextCursor'],
              properties: { notifications: { type: 'array', items: ref('Notification') }, nextCursor },
            }),
          },
          '400': problem('A bad filter'),
          '401': unauthorized,
        },
      },
    },
    '/v1/on-demand-hosts': {
      get: {
        summary:
          'List the names that got a certificate at their first TLS handshake (on-demand TLS), newest first',
        parameters: [
          { name: 'hostname', in: 'query', schema: { type: 'string' } },
          ...pageParameters(100, 500),
        ],
        responses: {
          '200': {
            description: 'One page of on-demand hosts, newest first',
            content: json({
              type: 'object',
              additionalProperties: false,
              required: ['hosts', 'nextCursor'],
              properties: { hosts: { type: 'array', items: ref('OnDemandHost') }, nextCursor },
            }),
          },
          '400': problem('A bad filter, limit or cursor'),
          '401': unauthorized,
        },
      },
    },
    '/v1/local-ca/root.pem': {
      get: {
        summary:
          "The local CA's root certificate (PEM), to install in trust stores; it signs the certificates of internal names (localhost, *.internal, *.home.arpa, *.local, IP addresses)",
        responses: {
          '200': {
            description: 'The root certificate',
            content: { [pemMediaType]: { schema: { type: 'string' } } },
          },
          '401': unauthorized,
          '404': problem('No local CA yet: it is made with the first certificate for an internal name'),
        },
      },
    },
    '/v1/backup': {
      get: {
        summary:
          'Stream an archive of this installation: settings, ACME accounts, DNS providers, certificates (keys still sealed), rate-limit ledger, apps and domains; rows sealed with the master key',
        responses: {
          '200': {
            description:
              'The archive: a JSON header line, one sealed line per row, a sealed trailer line with the row count',
            content: { [backupMediaType]: { schema: { type: 'string', format: 'binary' } } },
          },
          '401': unauthorized,
        },
      },
    },
    '/v1/restore': {
      post: {
        summary:
          'Import an archive from GET /v1/backup into an empty installation with the same master key and schema, in one transaction; every app is deployed again',
        requestBody: {
          required: true,
          content: { [backupMediaType]: { schema: { type: 'string', format: 'binary' } } },
        },
        responses: {
          '200': {
            description: 'Restored: rows per table',
            content: json({
              type: 'object',
              additionalProperties: false,
              required: ['createdAt', 'rows'],
              properties: {
                createdAt: { type: 'string', format: 'date-time' },
                rows: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
              },
            }),
          },
          '400': problem('Not an archive, cut off, or made with another master key; nothing was restored'),
          '401': unauthorized,
          '409': problem(
            'The installation is not empty, or its schema differs from the archive; nothing was restored',
          ),
        },
      },
    },
    '/v1/rate-limits': {
      get: {
        summary:
          'CA rate-limit budgets in use (per account, registered domain, exact name set, name): used / max / next free slot, from the ledger',
        parameters: [
          {
            name: 'kind',
            in: 'query',
            description: 'Only these kinds (comma-separated or repeated)',
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': {
            description: 'Budgets with at least one event in their window, fullest first',
            content: json({
              type: 'object',
              additionalProperties: false,
              required: ['at', 'budgets'],
              properties: { at: dateTime, budgets: { type: 'array', items: ref('RateLimitBudget') } },
            }),
          },
          '400': problem('A bad kind'),
          '401': unauthorized,
        },
      },
    },
    '/v1/settings': {
      get: {
        summary: 'Operator settings',
        responses: {
          '200': { description: 'The settings', content: json(ref('Settings')) },
          '401': unauthorized,
        },
      },
    },
    '/v1/settings/admin-emails': {
      put: {
        summary: 'Replace the admin mail list used by the notifier',
        requestBody: {
          required: true,
          content: json(requestBodyJsonSchema(adminEmailsSchema)),
        },
        responses: {
          '200': { description: 'The settings', content: json(ref('Settings')) },
          '400': problem('Invalid addresses, listed in `errors`'),
          '401': unauthorized,
        },
      },
    },
    '/v1/settings/fallback-certificate': {
      put: {
        summary: 'Make an uploaded, valid wildcard certificate the fallback certificate',
        requestBody: {
          required: true,
          content: json(requestBodyJsonSchema(fallbackCertificateSchema)),
        },
        responses: {
          '200': { description: 'The settings', content: json(ref('Settings')) },
          '400': problem('Not a custom, valid wildcard certificate'),
          '401': unauthorized,
          '404': problem('No such certificate'),
        },
      },
      delete: {
        summary: 'Unset the fallback certificate',
        responses: {
          '200': { description: 'The settings', content: json(ref('Settings')) },
          '401': unauthorized,
        },
      },
    },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      OnDemandHost: {
        type: 'object',
        additionalProperties: false,
        required: ['hostname', 'certificateId', 'status', 'notAfter', 'createdAt'],
        properties: {
          hostname: { type: 'string' },
          certificateId: { type: 'string', format: 'uuid' },
          status: { type: 'string', enum: [...certificateStatuses] },
          notAfter: nullable(dateTime),
          createdAt: dateTime,
        },
      },
      Notification: {
        type: 'object',
        additionalProperties: false,
        required: [
          'id',
          'kind',
          'certificateId',
          'subject',
          'body',
          'recipients',
          'status',
          'attempts',
          'lastError',
          'sentAt',
          'createdAt',
        ],
        properties: {
          id: { type: 'string', format: 'uuid' },
          kind: { type: 'string', enum: [...notificationKinds] },
          certificateId: nullable({ type: 'string', format: 'uuid' }),
          subject: { type: 'string' },
          body: { type: 'string' },
          recipients: { type: 'array', items: { type: 'string' } },
          status: { type: 'string', enum: [...notificationStatuses] },
          attempts: { type: 'integer', minimum: 0 },
          lastError: nullable({ type: 'string' }),
          sentAt: nullable(dateTime),
          createdAt: dateTime,
        },
      },
      RateLimitBudget: {
        type: 'object',
        additionalProperties: false,
        required: [
          'kind',
          'limit',
          'scope',
          'directoryUrl',
          'subject',
          'used',
          'max',
          'windowSeconds',
          'nextSlotAt',
        ],
        properties: {
          kind: { type: 'string', enum: [...budgetKinds] },
          limit: { type: 'string', enum: [...limitNames] },
          scope: { type: 'string', description: "The ledger's scope string, as cert-issuer counts it" },
          directoryUrl: nullable({ type: 'string' }),
          subject: {
            type: 'string',
            description: 'What it counts: account URL, registered domain, names key or name',
          },
          used: { type: 'integer', minimum: 0 },
          max: { type: 'integer', minimum: 0 },
          windowSeconds: { type: 'integer', minimum: 0 },
          nextSlotAt: nullable({ ...dateTime, description: 'Null while a slot is free' }),
        },
      },
      Settings: {
        type: 'object',
        additionalProperties: false,
        required: ['fallbackCertificateId', 'adminEmails'],
        properties: {
          fallbackCertificateId: { type: ['string', 'null'] },
          adminEmails: { type: 'array', items: { type: 'string' } },
        },
      },
      Problem: {
        type: 'object',
        description: 'RFC 9457 problem details',
        required: ['type', 'title', 'status', 'detail'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer', minimum: 400, maximum: 599 },
          detail: { type: 'string' },
          retryAfter: { ...dateTime, description: 'When the request may succeed (429)' },
          errors: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['field', 'message'],
              properties: {
                field: { type: 'string', description: 'Path of the field, as in domains[1] or env.KEY' },
                message: { type: 'string' },
              },
            },
          },
        },
      },
      CreateApp: requestBodyJsonSchema(createAppSchema),
      PatchApp: requestBodyJsonSchema(patchAppSchema),
      App: {
        type: 'object',
        additionalProperties: false,
        required: [
          'name',
          'image',
          'port',
          'env',
          'command',
          'www',
          'memoryMb',
          'pidsLimit',
          'network',
          'keyType',
          'revision',
          'domains',
          'container',
          'certificates',
          'tcp',
          'createdAt',
          'updatedAt',
        ],
        properties: {
          name: { type: 'string' },
          image: { type: 'string' },
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          env: { type: 'object', additionalProperties: { type: 'string' } },
          command: nullable({ type: 'array', items: { type: 'string' } }),
          www: { type: 'string', enum: wwwModeSchema.options },
          memoryMb: { type: 'integer' },
          pidsLimit: { type: 'integer' },
          network: { type: 'string', enum: ['shared', 'isolated'] },
          keyType: { type: 'string', enum: keyTypeSchema.options },
          revision: { type: 'integer', minimum: 1 },
          domains: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['url', 'hostname', 'https', 'challenge', 'mode', 'profile'],
              properties: {
                url: { type: 'string', pattern: '^https?://[^/]+$' },
                hostname: { type: 'string', description: 'Lower-case, IDNs as punycode' },
                https: { type: 'boolean' },
                challenge: { type: 'string', enum: challengePreferenceSchema.options },
                mode: { type: 'string', enum: [...certificateModes] },
                profile: nullable({
                  ...profileName,
                  description: 'The ACME profile asked for; null: ACME_PROFILE',
                }),
              },
            },
          },
          container: nullable({
            type: 'object',
            additionalProperties: false,
            description: "The deployer's newest report",
            required: ['state', 'containerId', 'upstream', 'error'],
            properties: {
              state: { type: 'string' },
              containerId: nullable({ type: 'string' }),
              upstream: nullable({
                type: 'object',
                additionalProperties: false,
                required: ['host', 'port'],
                properties: { host: { type: 'string' }, port: { type: 'integer' } },
              }),
              error: nullable({
                type: 'object',
                additionalProperties: false,
                required: ['reason', 'message'],
                properties: { reason: { type: 'string' }, message: { type: 'string' } },
              }),
            },
          }),
          certificates: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['id', 'status'],
              properties: {
                id: { type: 'string', format: 'uuid' },
                status: { type: 'string', enum: [...certificateStatuses] },
              },
            },
          },
          tcp: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['publicPort', 'targetPort', 'tls', 'status', 'error', 'since'],
              properties: {
                publicPort: { type: 'integer', minimum: 1, maximum: 65535 },
                targetPort: nullable({
                  type: 'integer',
                  minimum: 1,
                  maximum: 65535,
                  description: "null: the app's `port`",
                }),
                tls: { type: 'boolean' },
                status: {
                  type: 'string',
                  enum: [...tcpProxyStatuses],
                  description:
                    "The deployer's view of the port's proxy: `starting` until it has been up a few seconds (also before the deployer acted), `running`, or `failed` (retried all along; see `error`)",
                },
                error: nullable({
                  type: 'object',
                  additionalProperties: false,
                  description: 'Why the proxy fails; null unless `status` is `failed`',
                  required: ['reason', 'message'],
                  properties: {
                    reason: {
                      type: 'string',
                      enum: [...tcpProxyFailureReasons],
                      description: '`port-in-use`: another process on the host holds the public port',
                    },
                    message: { type: 'string' },
                  },
                }),
                since: nullable({ ...dateTime, description: 'When `status` last changed' }),
              },
            },
          },
          createdAt: dateTime,
          updatedAt: dateTime,
        },
      },
      DnsProvider: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'zone', 'kind', 'config', 'createdAt'],
        properties: {
          id: { type: 'string', format: 'uuid' },
          zone: { type: 'string' },
          kind: { type: 'string', enum: ['rfc2136', 'cloudflare', 'webhook', 'exec'] },
          config: {
            type: 'object',
            description: 'The settings; the secret field shows only `****` and its last 4 characters',
          },
          secretReadable: {
            type: 'boolean',
            description:
              'Present when a secret is stored: false when it no longer opens with the master key (register the provider again)',
          },
          createdAt: dateTime,
        },
      },
      Certificate: {
        type: 'object',
        additionalProperties: false,
        required: Object.keys(certificateProperties),
        properties: certificateProperties,
      },
      CertificateDetail: {
        type: 'object',
        additionalProperties: false,
        required: [
          ...Object.keys(certificateProperties),
          'job',
          'attempts',
          'preflight',
          'apps',
          'rateLimit',
          'hint',
        ],
        properties: {
          ...certificateProperties,
          job: nullable({
            type: 'object',
            additionalProperties: false,
            description:
              "The newest issuance job (cert-issuer's queue): why it was requested, its state, when it runs next",
            required: [
              'reason',
              'status',
              'challenge',
              'profile',
              'rounds',
              'nextAttemptAt',
              'deferredReason',
              'createdAt',
              'updatedAt',
            ],
            properties: {
              reason: { type: 'string', description: 'new, renewal, manual, …' },
              status: { type: 'string', description: 'queued, running, deferred, done, failed' },
              challenge: { type: 'string' },
              profile: nullable({
                type: 'string',
                description: 'The ACME profile the request asked for; null: none',
              }),
              rounds: { type: 'integer', minimum: 0, description: 'Failed rounds of this job' },
              nextAttemptAt: nullable(dateTime),
              deferredReason: nullable({ type: 'string' }),
              createdAt: dateTime,
              updatedAt: dateTime,
            },
          }),
          attempts: { type: 'array', items: ref('OrderAttempt'), description: 'Oldest first' },
          preflight: nullable({
            type: 'object',
            additionalProperties: false,
            description: "cert-issuer's last checks before an order (DNS, CAA, HTTP-01 self-check per name)",
            required: ['checkedAt', 'results'],
            properties: {
              checkedAt: dateTime,
              results: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['name', 'check', 'ok', 'detail'],
                  properties: {
                    name: { type: 'string' },
                    check: { type: 'string', description: 'e.g. dns, caa, http-01' },
                    ok: { type: 'boolean' },
                    detail: { type: 'string' },
                  },
                },
              },
            },
          }),
          apps: { type: 'array', items: { type: 'string' }, description: 'Names of the apps that use it' },
          rateLimit: nullable({
            type: 'object',
            additionalProperties: false,
            description:
              "Whether the CA's budgets (from the ledger) allow an order for these names now; null for certificates Gatehouse does not order",
            required: ['allowed', 'retryAt', 'reason'],
            properties: {
              allowed: { type: 'boolean' },
              retryAt: nullable(dateTime),
              reason: nullable({ type: 'string' }),
            },
          }),
          hint: nullable({
            type: 'object',
            additionalProperties: false,
            description: 'The last error in plain words and what to check (the same text as the admin mail)',
            required: ['what', 'check'],
            properties: { what: { type: 'string' }, check: { type: 'array', items: { type: 'string' } } },
          }),
        },
      },
      OrderAttempt: {
        type: 'object',
        additionalProperties: false,
        required: [
          'id',
          'directoryUrl',
          'challengeType',
          'outcome',
          'error',
          'problemType',
          'startedAt',
          'finishedAt',
          'durationMs',
        ],
        properties: {
          id: { type: 'string' },
          directoryUrl: { type: 'string' },
          challengeType: nullable({ type: 'string' }),
          outcome: { type: 'string', enum: [...attemptOutcomes] },
          error: nullable({
            type: 'object',
            additionalProperties: false,
            required: ['kind', 'message'],
            properties: { kind: { type: 'string' }, message: { type: 'string' } },
          }),
          problemType: nullable({
            type: 'string',
            description: "The CA's RFC 8555 problem type, e.g. urn:ietf:params:acme:error:unauthorized",
          }),
          startedAt: dateTime,
          finishedAt: nullable(dateTime),
          durationMs: nullable({ type: 'integer' }),
        },
      },
    },
  },
} as const;
