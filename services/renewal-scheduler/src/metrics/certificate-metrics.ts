import type { Db } from '@gatehouse/db';
import { escapeLabelValue } from '@gatehouse/runtime';
import { sql } from 'kysely';

/**
 * cert-manager's certificate metrics (`certmanager_certificate_*`) under Gatehouse names, one series per
 * certificate, read from Postgres at scrape time so every replica reports the same truth and nothing is kept in
 * memory between scrapes. Labels are bounded per certificate: `name` (its first name), `id`, `issuer` (the CA's
 * host for ACME certificates, else the source) and `source`; error texts and name lists never become labels.
 *
 * At most `limit` certificates get series (those not ready first, then the soonest to expire); the rest are
 * counted in `gatehouse_certificate_metrics_omitted`, and `gatehouse_certificates{status,source,issuer}` counts
 * every certificate in use, so a large installation keeps a bounded scrape (six samples per certificate: 100k
 * certificates are ~100 MiB and seconds per scrape, see `npm run bench:metrics`).
 *
 * A certificate no app uses (released, migration 0020) is not renewed and expires unused: like a deleted
 * cert-manager Certificate it has no series, so expiry and readiness alerts stay about what is served; it is only
 * counted, in `gatehouse_certificates_released{source}`.
 */
export function certificateMetricsSource(db: Db, options: { limit: number }): () => Promise<string> {
  return async () => {
    // Not ready first (the ones an alert is about), then soonest expiry.
    const [{ rows }, totals] = await Promise.all([
      sql<CertificateMetricsRow>`
        select id, names[1] as name, issuer, source, status,
               extract(epoch from not_before)::float8 as not_before,
               extract(epoch from not_after)::float8 as not_after,
               extract(epoch from renew_at)::float8 as renew_at,
               extract(epoch from ari_window_start)::float8 as ari_start,
               extract(epoch from ari_window_end)::float8 as ari_end
          from certificates
         where released_at is null
         order by status in ('valid', 'renewing'), not_after asc nulls first, id
         limit ${options.limit}`.execute(db),
      sql<CertificateTotalsRow>`
        select status, source, issuer, released_at is not null as released, count(*)::int8 as count
          from certificates group by status, source, issuer, released_at is not null`.execute(db),
    ]);
    const total = totals.rows.reduce((sum, row) => sum + (row.released ? 0 : Number(row.count)), 0);
    return renderCertificateMetrics(rows, total - rows.length, totals.rows);
  };
}

/** Certificates per status, source and CA, in use or released: always complete, whatever the per-certificate limit. */
export interface CertificateTotalsRow {
  status: string;
  source: string;
  issuer: string | null;
  /** No app uses them (migration 0020). */
  released: boolean;
  count: string | number;
}

export interface CertificateMetricsRow {
  id: string;
  name: string | null;
  issuer: string | null;
  source: string;
  status: string;
  not_before: number | null;
  not_after: number | null;
  renew_at: number | null;
  ari_start: number | null;
  ari_end: number | null;
}

/** cert-manager's Ready condition: True while a valid certificate is served, False when not, Unknown before the first. */
export function readyCondition(status: string): 'True' | 'False' | 'Unknown' {
  switch (status) {
    case 'valid':
    case 'renewing':
      return 'True';
    case 'failed':
    case 'expired':
    case 'fallback':
      return 'False';
    default:
      return 'Unknown';
  }
}

const families = {
  expiration: [
    'gatehouse_certificate_expiration_timestamp_seconds',
    'The date after which the certificate expires (not after), as a Unix timestamp',
  ],
  notBefore: [
    'gatehouse_certificate_not_before_timestamp_seconds',
    'The date before which the certificate is not valid (not before), as a Unix timestamp',
  ],
  renewal: [
    'gatehouse_certificate_renewal_timestamp_seconds',
    'When the certificate will be renewed (lifetime ratio or a time in the ARI window), as a Unix timestamp',
  ],
  ready: ['gatehouse_certificate_ready_status', 'The ready status of the certificate (1 for its condition)'],
  ariStart: [
    'gatehouse_certificate_ari_window_start_timestamp_seconds',
    "Start of the CA's suggested renewal window (ARI, RFC 9773), as a Unix timestamp",
  ],
  ariEnd: [
    'gatehouse_certificate_ari_window_end_timestamp_seconds',
    "End of the CA's suggested renewal window (ARI, RFC 9773), as a Unix timestamp",
  ],
} as const;

const conditions = ['True', 'False', 'Unknown'] as const;

/** Prometheus text for the rows; a row without a date has no sample in that date's family. */
export function renderCertificateMetrics(
  rows: readonly CertificateMetricsRow[],
  omitted: number,
  totals: readonly CertificateTotalsRow[] = [],
): string {
  const out: Record<keyof typeof families, string[]> = {
    expiration: [],
    notBefore: [],
    renewal: [],
    ready: [],
    ariStart: [],
    ariEnd: [],
  };
  const issuers = new Map<string, string>();
  for (const row of rows) {
    const issuerKey = `${row.source}|${row.issuer ?? ''}`;
    let issuer = issuers.get(issuerKey);
    if (issuer === undefined) {
      issuer = escapeLabelValue(issuerLabel(row));
      issuers.set(issuerKey, issuer);
    }
    const labels = `name="${escapeLabelValue(row.name ?? '')}",id="${row.id}",issuer="${issuer}",source="${escapeLabelValue(row.source)}"`;
    if (row.not_after !== null) out.expiration.push(`${families.expiration[0]}{${labels}} ${row.not_after}`);
    if (row.not_before !== null) out.notBefore.push(`${families.notBefore[0]}{${labels}} ${row.not_before}`);
    if (row.renew_at !== null) out.renewal.push(`${families.renewal[0]}{${labels}} ${row.renew_at}`);
    if (row.ari_start !== null) out.ariStart.push(`${families.ariStart[0]}{${labels}} ${row.ari_start}`);
    if (row.ari_end !== null) out.ariEnd.push(`${families.ariEnd[0]}{${labels}} ${row.ari_end}`);
    const current = readyCondition(row.status);
    for (const condition of conditions) {
      out.ready.push(
        `${families.ready[0]}{${labels},condition="${condition}"} ${condition === current ? 1 : 0}`,
      );
    }
  }
  const text: string[] = [];
  for (const key of Object.keys(families) as Array<keyof typeof families>) {
    const [name, help] = families[key];
    text.push(`# HELP ${name} ${help}\n# TYPE ${name} gauge\n`);
    if (out[key].length > 0) text.push(`${out[key].join('\n')}\n`);
  }
  const counts = new Map<string, number>();
  const released = new Map<string, number>();
  for (const row of totals) {
    if (row.released) {
      const labels = `source="${escapeLabelValue(row.source)}"`;
      released.set(labels, (released.get(labels) ?? 0) + Number(row.count));
      continue;
    }
    const labels = `status="${escapeLabelValue(row.status)}",source="${escapeLabelValue(row.source)}",issuer="${escapeLabelValue(issuerLabel(row))}"`;
    counts.set(labels, (counts.get(labels) ?? 0) + Number(row.count));
  }
  text.push(
    '# HELP gatehouse_certificates Certificates in use by status, source and issuer (all of them, whatever the limit)\n',
    '# TYPE gatehouse_certificates gauge\n',
    ...[...counts].map(([labels, count]) => `gatehouse_certificates{${labels}} ${count}\n`),
  );
  text.push(
    '# HELP gatehouse_certificates_released Certificates no app uses: not renewed, kept for an app with the same names\n',
    '# TYPE gatehouse_certificates_released gauge\n',
    ...[...released].map(([labels, count]) => `gatehouse_certificates_released{${labels}} ${count}\n`),
  );
  text.push(
    '# HELP gatehouse_certificate_metrics_omitted Certificates without series because of CERTIFICATE_METRICS_LIMIT\n',
    '# TYPE gatehouse_certificate_metrics_omitted gauge\n',
    `gatehouse_certificate_metrics_omitted ${omitted}\n`,
  );
  return text.join('');
}

/** The CA's host for an ACME certificate (bounded by the configured directories), else where it came from. */
function issuerLabel(row: { issuer: string | null; source: string }): string {
  if (!row.issuer) return row.source;
  try {
    return new URL(row.issuer).host;
  } catch {
    return row.issuer;
  }
}
