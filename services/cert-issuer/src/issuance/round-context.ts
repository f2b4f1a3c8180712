import type { CertificateRow, Db } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import { sql } from 'kysely';
import { heldFromAcmeModes } from './hold-certificate.ts';
import { findOpenOrder, type OpenOrder } from './issuance-store.ts';

/**
 * What a round reads before it acts, in one query: the certificate, which of its names are held from ACME (see
 * hold-certificate.ts), and the orders a crashed run left open, per CA. A round's first step at a CA resumes from
 * what was read here; a later step at the same CA (a quick retry after a connection error may leave an order
 * open) asks Postgres again.
 */
export interface RoundContext {
  certificate: CertificateRow;
  heldFromAcme: string[];
  openOrder(directoryUrl: string): Promise<OpenOrder | undefined>;
}

interface OpenOrderRow {
  id: string;
  directory_url: string;
  order_url: string;
  key_encrypted: string | null;
}

export async function loadRoundContext(
  db: Db,
  box: SecretBox,
  certificateId: string,
): Promise<RoundContext | undefined> {
  const row = await db
    .selectFrom('certificates')
    .selectAll('certificates')
    .select([
      sql<string[]>`array(
        select d.hostname from domains d
        where d.hostname = any(certificates.names) and d.https
          and d.mode = any(${[...heldFromAcmeModes]}::text[]))`.as('held_from_acme'),
      // Newest first, so the first row per CA is the order to resume (as findOpenOrder picks it).
      sql<OpenOrderRow[]>`coalesce((
        select json_agg(json_build_object('id', o.id, 'directory_url', o.directory_url,
          'order_url', o.order_url, 'key_encrypted', o.key_encrypted) order by o.created_at desc)
        from orders o
        where o.certificate_id = certificates.id and o.status = 'open' and o.order_url is not null), '[]')`.as(
        'open_orders',
      ),
    ])
    .where('certificates.id', '=', certificateId)
    .executeTakeFirst();
  if (!row) return undefined;
  const { held_from_acme: heldFromAcme, open_orders: openOrders, ...certificate } = row;
  const prefetched = new Map<string, OpenOrderRow>();
  for (const order of openOrders)
    if (!prefetched.has(order.directory_url)) prefetched.set(order.directory_url, order);
  const asked = new Set<string>();
  return {
    certificate: certificate as CertificateRow,
    heldFromAcme,
    async openOrder(directoryUrl) {
      if (asked.has(directoryUrl)) return findOpenOrder(db, box, certificateId, directoryUrl);
      asked.add(directoryUrl);
      const order = prefetched.get(directoryUrl);
      return order && openOrderOf(order, box);
    },
  };
}

function openOrderOf(order: OpenOrderRow, box: SecretBox): OpenOrder {
  return {
    orderId: order.id,
    orderUrl: order.order_url,
    keyPem: order.key_encrypted ? box.openText(order.key_encrypted, `order:${order.id}`) : undefined,
  };
}
