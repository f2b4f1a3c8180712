import { certificateStatuses, type Db } from '@gatehouse/db';
import { explainErrorKind } from '@gatehouse/events';
import { normalizeName, type SecretBox } from '@gatehouse/pki';
import { Router } from 'express';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { type FieldError, fieldPath } from '../http/field-errors.ts';
import { listLimits, parsePage, toPage } from '../http/pagination.ts';
import { sendProblem } from '../http/problem.ts';
import { parseRequestBody } from '../http/request-body.ts';
import {
  type CertificateFilter,
  type CertificateSort,
  certificateSorts,
  findCertificateById,
  findCertificateChain,
  findLatestJob,
  findPreflight,
  isCertificateCursorKey,
  listCertificateApps,
  listCertificates,
  listOrderAttempts,
} from './certificate.repository.ts';
import { toAttemptView, toCertificateView } from './certificate-representation.ts';
import {
  allowAlways,
  type RenewalCheck,
  RenewalRateLimitedError,
  renewCertificate,
} from './renew-certificate.ts';
import { deleteUploadedCertificate, uploadCertificate } from './upload-certificate.ts';

/** An upload: PEM text. Limits well above real chains and keys, far below the 1 MB body limit. */
export const uploadSchema = z.strictObject({
  certificate: z
    .string()
    .min(1, 'paste the certificate PEM')
    .max(65_536, 'is larger than 64 KiB')
    .meta({ description: 'PEM: the leaf, optionally followed by its chain' }),
  chain: z
    .string()
    .max(65_536, 'is larger than 64 KiB')
    .optional()
    .meta({ description: 'PEM: intermediates, each followed by its issuer' }),
  privateKey: z
    .string()
    .min(1, 'paste the private key PEM')
    .max(16_384, 'is larger than 16 KiB')
    .meta({ description: 'PEM: the leaf key, unencrypted (stored sealed)' }),
});

const statusSchema = z.enum(certificateStatuses);

/**
 * `/v1/certificates`: list (`?status=`, `?name=`, `?app=`, `?q=`, `?sort=created|expiry`, cursor pages) and show
 * with attempt history, preflight, rate-limit state and a plain-words hint.
 */
export function certificateRoutes(db: Db, options: { box: SecretBox; checkRenewal?: RenewalCheck }): Router {
  const checkRenewal = options.checkRenewal ?? allowAlways;
  const router = Router();

  router.post('/', async (request, response) => {
    const upload = parseRequestBody(uploadSchema, request.body, 'the upload has invalid fields; see errors');
    const { id, warnings } = await uploadCertificate(db, options.box, upload);
    const certificate = await findCertificateById(db, id);
    response
      .status(201)
      .location(`/v1/certificates/${id}`)
      .json({ ...toCertificateView(certificate!), warnings });
  });

  router.delete('/:id', async (request, response) => {
    const id = request.params.id;
    const deleted = z.uuid().safeParse(id).success && (await deleteUploadedCertificate(db, id));
    if (!deleted)
      throw new ApiError('not-found', `there is no certificate ${id}; GET /v1/certificates lists them`);
    response.status(204).end();
  });

  router.get('/', async (request, response) => {
    const { filter, sort, page } = parseListQuery(request.query);
    const kind = `certificates:${sort}`;
    const rows = await listCertificates(db, filter, { sort, limit: page.limit + 1, after: page.after });
    const shown = toPage(rows, page, kind, (row) => [row.sort_key, row.id]);
    response.json({
      certificates: shown.rows.map(({ sort_key: _key, ...row }) => toCertificateView(row)),
      nextCursor: shown.nextCursor,
    });
  });

  router.get('/:id', async (request, response) => {
    const id = request.params.id;
    // Not a UUID cannot name a certificate; answer 404 rather than let Postgres refuse the cast.
    const certificate = z.uuid().safeParse(id).success ? await findCertificateById(db, id) : undefined;
    if (!certificate) {
      throw new ApiError('not-found', `there is no certificate ${id}; GET /v1/certificates lists them`);
    }
    const [attempts, job, preflight, apps, rateLimit] = await Promise.all([
      listOrderAttempts(db, certificate.id),
      findLatestJob(db, certificate.id),
      findPreflight(db, certificate.id),
      listCertificateApps(db, certificate.id),
      certificate.source === 'acme'
        ? checkRenewal({ id: certificate.id, names: certificate.names })
        : Promise.resolve(undefined),
    ]);
    response.json({
      ...toCertificateView(certificate),
      // The chain certificate → job → attempts (as `cmctl status` shows it): the newest issuance job.
      job: job
        ? {
            reason: job.reason,
            status: job.status,
            challenge: job.challenge,
            profile: job.profile,
            rounds: job.attempt,
            nextAttemptAt: ['queued', 'running', 'deferred'].includes(job.status)
              ? job.next_attempt_at.toISOString()
              : null,
            deferredReason: job.deferred_reason,
            createdAt: job.created_at.toISOString(),
            updatedAt: job.updated_at.toISOString(),
          }
        : null,
      attempts: attempts.map(toAttemptView),
      preflight: preflight
        ? { checkedAt: preflight.checkedAt.toISOString(), results: preflight.results }
        : null,
      apps,
      // What an order for these names would meet at the CA now: the ledger's answer, spending nothing.
      rateLimit:
        rateLimit === undefined
          ? null
          : rateLimit.allowed
            ? { allowed: true, retryAt: null, reason: null }
            : { allowed: false, retryAt: rateLimit.retryAt.toISOString(), reason: rateLimit.reason },
      // The notifier's plain words for the last error (one source: @gatehouse/events).
      hint: certificate.last_error_kind ? explainErrorKind(certificate.last_error_kind) : null,
    });
  });

  // The public chain (leaf first) as PEM, for `gatehouse inspect` and browsers; never the key. The chain
  // served is the certificate's own: a fallback stand-in is not shown as if it were the certificate.
  router.get('/:id/chain', async (request, response) => {
    const id = request.params.id;
    const row = z.uuid().safeParse(id).success ? await findCertificateChain(db, id) : undefined;
    if (!row)
      throw new ApiError('not-found', `there is no certificate ${id}; GET /v1/certificates lists them`);
    if (row.chain_pem === null) {
      throw new ApiError(
        'not-found',
        `certificate ${id} has not been issued yet; GET /v1/certificates/${id} says why`,
      );
    }
    response.type('application/pem-certificate-chain').send(row.chain_pem);
  });

  router.post('/:id/renew', async (request, response) => {
    const id = request.params.id;
    const notFound = `there is no certificate ${id}; GET /v1/certificates lists them`;
    if (!z.uuid().safeParse(id).success) throw new ApiError('not-found', notFound);
    try {
      const outcome = await renewCertificate(db, id, 'api', checkRenewal);
      if (!outcome) throw new ApiError('not-found', notFound);
    } catch (error) {
      if (!(error instanceof RenewalRateLimitedError)) throw error;
      const seconds = Math.max(1, Math.ceil((error.retryAt.getTime() - Date.now()) / 1000));
      response.setHeader('Retry-After', String(seconds));
      sendProblem(response, 429, 'Too Many Requests', error.message, {
        retryAfter: error.retryAt.toISOString(),
      });
      return;
    }
    const certificate = await findCertificateById(db, id);
    if (!certificate) throw new ApiError('not-found', notFound);
    response.status(202).json(toCertificateView(certificate));
  });

  return router;
}

const listQueryKeys = new Set(['status', 'name', 'app', 'q', 'sort', 'limit', 'cursor']);
const appNameSchema = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);

function parseListQuery(query: Record<string, unknown>) {
  const errors: FieldError[] = [];
  const filter: CertificateFilter = {};
  for (const key of Object.keys(query)) {
    if (!listQueryKeys.has(key))
      errors.push({
        field: fieldPath([key]),
        message: `is not a known parameter (${[...listQueryKeys].join(', ')})`,
      });
  }
  if (query.status !== undefined) {
    const status = statusSchema.safeParse(query.status);
    if (status.success) filter.status = status.data;
    else errors.push({ field: 'status', message: `must be one of ${certificateStatuses.join(', ')}` });
  }
  if (query.name !== undefined) {
    const name = typeof query.name === 'string' ? normalizeName(query.name) : undefined;
    if (name?.ok) {
      const dot = name.name.indexOf('.');
      const wildcard =
        name.isIp || name.name.startsWith('*.') || dot < 0 ? undefined : `*.${name.name.slice(dot + 1)}`;
      filter.coveringName = wildcard === undefined ? { name: name.name } : { name: name.name, wildcard };
    } else {
      errors.push({
        field: 'name',
        message: name === undefined ? 'give one host name' : `is not a host name: ${name.reason}`,
      });
    }
  }
  if (query.app !== undefined) {
    const app = appNameSchema.safeParse(query.app);
    if (app.success) filter.app = app.data;
    else errors.push({ field: 'app', message: 'must be an app name (lower-case letters, digits, hyphens)' });
  }
  if (query.q !== undefined) {
    if (typeof query.q === 'string' && query.q.length >= 1 && query.q.length <= 253) filter.search = query.q;
    else errors.push({ field: 'q', message: 'must be 1 to 253 characters of a name' });
  }
  let sort: CertificateSort = 'created';
  if (query.sort !== undefined) {
    const parsed = z.enum(certificateSorts).safeParse(query.sort);
    if (parsed.success) sort = parsed.data;
    else errors.push({ field: 'sort', message: `must be one of ${certificateSorts.join(', ')}` });
  }
  const page = parsePage(query, `certificates:${sort}`, listLimits, errors);
  if (page.after !== undefined && !isCertificateCursorKey(page.after)) {
    errors.push({ field: 'cursor', message: 'is not a cursor of this list; pass nextCursor unchanged' });
  }
  if (errors.length > 0) {
    throw new ApiError('validation', 'the query has invalid parameters; see errors', { errors });
  }
  return { filter, sort, page };
}
