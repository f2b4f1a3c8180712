import { randomUUID } from 'node:crypto';
import type { Db, DnsProviderKind } from '@gatehouse/db';
import { dnsProviderSecretContext, type SecretBox } from '@gatehouse/pki';
import { Router } from 'express';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { parseUnfilteredPage, toPage } from '../http/pagination.ts';
import { type DnsProviderPolicy, parseDnsProviderInput, secretFieldOf } from './dns-provider-input.ts';

/** The secret-box context of a provider's secret: a sealed value moved to another row does not open. */

interface DnsProviderRow {
  id: string;
  zone: string;
  kind: DnsProviderKind;
  config: unknown;
  secret_encrypted: string | null;
  created_at: Date;
}

/**
 * `/v1/dns-providers`: DNS-01 credentials per zone (DESIGN.md). The secret (TSIG key, API token, webhook
 * token) is sealed with the master key and shown only masked — its last four characters, so an operator can
 * tell which one is stored. One provider per zone; replacing one is DELETE then POST.
 */
export function dnsProviderRoutes(db: Db, box: SecretBox, policy: DnsProviderPolicy = {}): Router {
  const router = Router();

  router.post('/', async (request, response) => {
    const parsed = parseDnsProviderInput(request.body, policy);
    if (!parsed.ok) {
      throw new ApiError('validation', 'the DNS provider has invalid fields; see errors', {
        errors: parsed.errors,
      });
    }
    const { zone, kind, config, secret } = parsed.input;
    const id = randomUUID();
    const inserted = await db
      .insertInto('dns_providers')
      .values({
        id,
        zone,
        kind,
        config: JSON.stringify(config),
        secret_encrypted: secret === undefined ? null : box.seal(secret, dnsProviderSecretContext(id)),
      })
      .onConflict((conflict) => conflict.column('zone').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!inserted) {
      throw new ApiError(
        'conflict',
        `zone ${zone} already has a DNS provider; DELETE it first to replace it`,
      );
    }
    response.status(201).location(`/v1/dns-providers/${id}`).json(view(inserted, box));
  });

  router.get('/', async (request, response) => {
    const page = parseUnfilteredPage(request.query, 'dns-providers:zone');
    let query = db.selectFrom('dns_providers').selectAll();
    if (page.after !== undefined) query = query.where('zone', '>', page.after[0]!);
    const rows = await query
      .orderBy('zone')
      .limit(page.limit + 1)
      .execute();
    const shown = toPage(rows, page, 'dns-providers:zone', (row) => [row.zone]);
    response.json({ dnsProviders: shown.rows.map((row) => view(row, box)), nextCursor: shown.nextCursor });
  });

  router.get('/:id', async (request, response) => {
    response.json(view(await findOrThrow(db, request.params.id), box));
  });

  router.delete('/:id', async (request, response) => {
    const row = await findOrThrow(db, request.params.id);
    await db.deleteFrom('dns_providers').where('id', '=', row.id).execute();
    response.status(204).end();
  });

  return router;
}

async function findOrThrow(db: Db, id: string): Promise<DnsProviderRow> {
  const row = z.uuid().safeParse(id).success
    ? await db.selectFrom('dns_providers').selectAll().where('id', '=', id).executeTakeFirst()
    : undefined;
  if (!row)
    throw new ApiError('not-found', `there is no DNS provider ${id}; GET /v1/dns-providers lists them`);
  return row;
}

/**
 * The API's view: config with the secret masked, never in full. A secret that no longer opens (the master key
 * changed, the row was copied) shows as `****` with `secretReadable: false`, so one such row never breaks the
 * list; the fix is DELETE and POST again.
 */
function view(row: DnsProviderRow, box: SecretBox) {
  const config = { ...(row.config as Record<string, unknown>) };
  const secretField = secretFieldOf[row.kind];
  let secretReadable: boolean | undefined;
  if (secretField && row.secret_encrypted) {
    try {
      config[secretField] = mask(box.openText(row.secret_encrypted, dnsProviderSecretContext(row.id)));
      secretReadable = true;
    } catch {
      config[secretField] = '****';
      secretReadable = false;
    }
  }
  return {
    id: row.id,
    zone: row.zone,
    kind: row.kind,
    config,
    ...(secretReadable === undefined ? {} : { secretReadable }),
    createdAt: row.created_at.toISOString(),
  };
}

/** `****abcd`: enough to recognise a secret, never enough to use it (short secrets show nothing). */
function mask(secret: string): string {
  return secret.length >= 16 ? `****${secret.slice(-4)}` : '****';
}
