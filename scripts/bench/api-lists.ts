/**
 * List endpoints benchmark (issue 16): N certificates (default 10 000), N/5 apps with domains and certificate
 * links, N notifications and 200 DNS providers in a database of their own, the api in-process on a loopback
 * port, then every page of each list walked through HTTP with `limit` rows per page (default 100), as the
 * dashboard and `gatehouse certs ls` do. Prints per list and order: pages, p50 / p95 / max milliseconds per page
 * (the whole HTTP round trip: query, JSON, transfer), and the slowest page's position, which shows that page N
 * costs what page 1 costs (keyset cursors). Last, one JSON line. Target: < 200 ms per page at 10 000.
 *
 *   npm run bench:api-lists -- 10000 [--limit 100]
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createSecretBox } from '@gatehouse/pki';
import { createLogger } from '@gatehouse/telemetry';
import { createTestDatabase } from '@gatehouse/testing';
import { sql } from 'kysely';
import { createApiApp } from '../../services/api/src/http/app.ts';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { certs: { type: 'string', default: '10000' }, limit: { type: 'string', default: '100' } },
});
const total = Number(positionals[0] ?? flags.certs);
const limit = Number(flags.limit);
if (!Number.isInteger(total) || total < 100 || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
  console.error('usage: npm run bench:api-lists -- <certificates, at least 100> [--limit 1..1000]');
  process.exit(2);
}

const database = await createTestDatabase('bench_api_lists');
const db = database.db;
const token = randomBytes(32).toString('base64');
let server: Server | undefined;
try {
  const seedStarted = performance.now();
  // 90-day certificates issued over the last 60 days, a tenth failing (never issued), a few hundred uploads.
  await sql`
    insert into certificates (id, names, names_key, status, source, issuer, key_type, not_before, not_after,
                              renew_at, renew_reason, created_at, last_error_kind, last_error_message,
                              last_error_at, failure_count, next_retry_at)
    select gen_random_uuid(), array['c' || i || '.bench.test', 'www.c' || i || '.bench.test'],
           'c' || i || '.bench.test,www.c' || i || '.bench.test',
           case when i % 10 = 0 then 'failed' when i % 37 = 0 then 'custom-valid' else 'valid' end,
           case when i % 37 = 0 then 'custom' else 'acme' end,
           'https://ca.bench.test/directory', 'ecdsa-p256',
           case when i % 10 = 0 then null else now() - (i::float / ${total} * interval '60 days') end,
           case when i % 10 = 0 then null else now() - (i::float / ${total} * interval '60 days') + interval '90 days' end,
           case when i % 10 = 0 then null else now() - (i::float / ${total} * interval '60 days') + interval '60 days' end,
           'lifetime', now() - (i::float / ${total} * interval '60 days'),
           case when i % 10 = 0 then 'validation' end, case when i % 10 = 0 then 'the CA got 404' end,
           case when i % 10 = 0 then now() end, case when i % 10 = 0 then 3 else 0 end,
           case when i % 10 = 0 then now() + interval '1 hour' end
    from generate_series(1, ${total}) as i`.execute(db);
  await sql`update certificates set status = 'valid' where status = 'custom-valid'`.execute(db);
  const apps = Math.max(1, Math.floor(total / 5));
  await sql`
    insert into apps (id, name, image, port, revision)
    select gen_random_uuid(), 'app-' || lpad(i::text, 6, '0'), 'nginx:1.27', 8080, 1
    from generate_series(1, ${apps}) as i`.execute(db);
  await sql`
    insert into domains (id, app_id, hostname, https)
    select gen_random_uuid(), a.id, 'c' || substring(a.name from 5)::int || '.bench.test', true from apps a`.execute(
    db,
  );
  await sql`
    insert into app_certificates (app_id, certificate_id)
    select d.app_id, c.id from domains d join certificates c on c.names_key = d.hostname || ',www.' || d.hostname`.execute(
    db,
  );
  await sql`
    insert into notifications (id, kind, certificate_id, subject, body, recipients, status, created_at)
    select gen_random_uuid(), 'issue-failed', null, 'certificate failing ' || i, repeat('mail text ', 40),
           array['ops@bench.test'], 'sent', now() - i * interval '1 minute'
    from generate_series(1, ${total}) as i`.execute(db);
  await sql`
    insert into dns_providers (id, zone, kind, config)
    select gen_random_uuid(), 'zone' || i || '.bench.test', 'webhook', '{"url": "https://hook.bench.test/"}'::jsonb
    from generate_series(1, 200) as i`.execute(db);
  await sql`analyze`.execute(db);
  const seedMs = performance.now() - seedStarted;

  const app = createApiApp({
    token,
    logger: createLogger({ service: 'bench', level: 'silent' }),
    db,
    box: createSecretBox(randomBytes(32)),
  });
  server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  console.log(
    `seeded ${total} certificates, ${apps} apps, ${total} notifications, 200 DNS providers in ${Math.round(seedMs)} ms`,
  );
  console.log(`walking every page, ${limit} rows per page, over HTTP (${base})\n`);

  /** Walks a list to its end; returns each page's milliseconds. */
  async function walk(path: string, query: Record<string, string>, field: string) {
    const times: number[] = [];
    let rows = 0;
    let cursor: string | null = null;
    do {
      // Notifications allow at most 500 per page.
      const pageSize = path === '/v1/notifications' ? Math.min(limit, 500) : limit;
      const params = new URLSearchParams({
        ...query,
        limit: String(pageSize),
        ...(cursor ? { cursor } : {}),
      });
      const started = performance.now();
      const response = await fetch(`${base}${path}?${params}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await response.json()) as Record<string, unknown> & { nextCursor: string | null };
      times.push(performance.now() - started);
      if (response.status !== 200)
        throw new Error(`${path} answered ${response.status}: ${JSON.stringify(body)}`);
      rows += (body[field] as unknown[]).length;
      cursor = body.nextCursor;
    } while (cursor !== null);
    return { times, rows };
  }

  const lists: Array<[string, string, Record<string, string>, string]> = [
    ['certificates (created)', '/v1/certificates', {}, 'certificates'],
    ['certificates (expiry)', '/v1/certificates', { sort: 'expiry' }, 'certificates'],
    ['certificates status=failed', '/v1/certificates', { status: 'failed', sort: 'expiry' }, 'certificates'],
    ['certificates q=c12', '/v1/certificates', { q: 'c12', sort: 'expiry' }, 'certificates'],
    ['certificates app=app-000042', '/v1/certificates', { app: 'app-000042' }, 'certificates'],
    ['apps', '/v1/apps', {}, 'apps'],
    ['notifications', '/v1/notifications', {}, 'notifications'],
    ['dns-providers', '/v1/dns-providers', {}, 'dnsProviders'],
  ];
  // One warm-up walk so the first measured page does not pay for connection set-up and JIT.
  await walk('/v1/certificates', {}, 'certificates');
  const results: Record<string, unknown> = {};
  const pad = Math.max(...lists.map(([name]) => name.length));
  for (const [name, path, query, field] of lists) {
    const { times, rows } = await walk(path, query, field);
    const sorted = [...times].sort((a, b) => a - b);
    const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    const slowest = times.indexOf(sorted[sorted.length - 1]!) + 1;
    const summary = {
      rows,
      pages: times.length,
      p50: round(pick(0.5)),
      p95: round(pick(0.95)),
      max: round(sorted[sorted.length - 1]!),
      first: round(times[0]!),
      last: round(times[times.length - 1]!),
      slowestPage: slowest,
    };
    results[name] = summary;
    console.log(
      `${name.padEnd(pad)}  ${String(rows).padStart(6)} rows ${String(times.length).padStart(4)} pages  ` +
        `p50 ${summary.p50} ms  p95 ${summary.p95} ms  max ${summary.max} ms (page ${slowest})  first ${summary.first} ms  last ${summary.last} ms`,
    );
  }
  console.log(`\n${JSON.stringify({ bench: 'api-lists', certificates: total, limit, lists: results })}`);
} finally {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await database.drop();
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
