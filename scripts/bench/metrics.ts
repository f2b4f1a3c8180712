/**
 * `/metrics` scrape benchmark (issue 13): N certificates in a database of their own (ACME ones with ARI
 * windows, uploads, failing ones never issued), then the renewal-scheduler's certificate metrics scraped through
 * the real health server (`createHealthApp`, prom-client's registry plus the certificate source) over HTTP,
 * several times. Prints per scrape the wall time, the body size, the sample count, and the heap it grew by;
 * last, one JSON line.
 *
 *   npm run bench:metrics -- 100000          (or --certs 100000; --scrapes 5; --limit 10000 per-certificate series)
 */
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { addMetricsSource, createHealthApp } from '@gatehouse/runtime';
import { createLogger } from '@gatehouse/telemetry';
import { createTestDatabase } from '@gatehouse/testing';
import { sql } from 'kysely';
import { certificateMetricsSource } from '../../services/renewal-scheduler/src/metrics/certificate-metrics.ts';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    certs: { type: 'string', default: '100000' },
    scrapes: { type: 'string', default: '5' },
    // Per-certificate series (CERTIFICATE_METRICS_LIMIT); the service's default unless given.
    limit: { type: 'string', default: '10000' },
  },
});
const total = Number(positionals[0] ?? flags.certs);
const scrapes = Number(flags.scrapes);
const limit = Number(flags.limit);
if (!Number.isInteger(total) || total < 1000 || !Number.isInteger(scrapes) || scrapes < 1) {
  console.error('N (or --certs) must be an integer of at least 1000, e.g. `npm run bench:metrics -- 100000`');
  process.exit(2);
}

const database = await createTestDatabase('bench_metrics');
const db = database.db;
const results: Array<{ scrape: number; ms: number; bytes: number; samples: number; heapGrowthMb: number }> =
  [];
try {
  const seedStart = performance.now();
  // 90% ACME (two CAs, a tenth with an ARI window), 5% uploads, 5% failing and never issued.
  const acme = Math.floor(total * 0.9);
  const custom = Math.floor(total * 0.05);
  await sql`
    insert into certificates (id, names, names_key, status, source, issuer, serial, not_before, not_after,
                              renew_at, renew_reason, ari_window_start, ari_window_end)
    select gen_random_uuid(), array['c' || i || '.bench.test', 'www.c' || i || '.bench.test'],
           'c' || i || '.bench.test,www.c' || i || '.bench.test',
           case when i % 50 = 0 then 'renewing' else 'valid' end, 'acme',
           case when i % 3 = 0 then 'https://acme.zerossl.com/v2/DV90' else 'https://acme-v02.api.letsencrypt.org/directory' end,
           to_hex(i), now() - (i % 60) * interval '1 day', now() + (90 - i % 60) * interval '1 day',
           now() + (60 - i % 60) * interval '1 day', 'lifetime',
           case when i % 10 = 0 then now() + interval '20 days' end,
           case when i % 10 = 0 then now() + interval '22 days' end
    from generate_series(1, ${acme}) as i`.execute(db);
  await sql`
    insert into certificates (id, names, names_key, status, source, not_before, not_after)
    select gen_random_uuid(), array['u' || i || '.bench.test'], 'u' || i || '.bench.test', 'valid', 'custom',
           now() - interval '100 days', now() + (i % 365) * interval '1 day'
    from generate_series(1, ${custom}) as i`.execute(db);
  await sql`
    insert into certificates (id, names, names_key, status, source, last_error_kind, last_error_at)
    select gen_random_uuid(), array['f' || i || '.bench.test'], 'f' || i || '.bench.test', 'failed', 'acme',
           'validation', now()
    from generate_series(1, ${total - acme - custom}) as i`.execute(db);
  await sql`analyze certificates`.execute(db);
  console.log(`seeded ${total} certificates in ${Math.round(performance.now() - seedStart)} ms`);

  addMetricsSource('certificates', certificateMetricsSource(db, { limit }));
  const app = createHealthApp({
    logger: createLogger({ service: 'bench-metrics', level: 'silent' }),
    checks: {},
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  try {
    for (let scrape = 1; scrape <= scrapes; scrape++) {
      globalThis.gc?.();
      const heapBefore = process.memoryUsage().heapUsed;
      const started = performance.now();
      const body = await (await fetch(url)).text();
      const ms = performance.now() - started;
      const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
      const samples = body.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
      const result = {
        scrape,
        ms: Math.round(ms),
        bytes: body.length,
        samples,
        heapGrowthMb: Math.round(heapGrowthMb),
      };
      results.push(result);
      console.log(
        `scrape ${scrape}: ${result.ms} ms, ${(result.bytes / 1024 / 1024).toFixed(1)} MiB, ${samples} samples, heap +${result.heapGrowthMb} MiB`,
      );
    }
  } finally {
    server.close();
  }
  const times = results.map((result) => result.ms).sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      bench: 'metrics',
      certificates: total,
      limit,
      scrapes,
      medianMs: times[Math.floor(times.length / 2)],
      maxMs: times.at(-1),
      bytes: results[0]?.bytes,
      samples: results[0]?.samples,
    }),
  );
} finally {
  await database.drop();
}
