/**
 * renewal-scheduler tick benchmark (issue 5): N certificates in a database of their own with a realistic
 * spread (90-day certificates issued evenly over the last 60 days, so renewals fall due evenly; a thousand
 * uploads; a few hundred renewals failing), then one scheduler tick — the service's own `schedulerTick`:
 * ARI polls, due renewals, expiry notices, fallbacks — measured with 0, 100 and 1000 certificates due.
 * Prints, per run, the tick's wall time, the rows it touched, the heap it grew by, and for each stage's scan
 * the plan node and the buffers Postgres read (EXPLAIN ANALYZE), which is what shows the cost follows the
 * work due and not N. Last, one JSON line.
 *
 *   npm run bench:renewal -- 100000          (or --certs 100000)
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Db } from '@gatehouse/db';
import { createSecretBox } from '@gatehouse/pki';
import { createLogger } from '@gatehouse/telemetry';
import { createTestDatabase } from '@gatehouse/testing';
import { sql } from 'kysely';
import type { AriClient } from '../../services/renewal-scheduler/src/renewal/ari-client.ts';
import { schedulerTick } from '../../services/renewal-scheduler/src/renewal/scheduler-tick.ts';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { certs: { type: 'string', default: '100000' } },
});
const total = Number(positionals[0] ?? flags.certs);
if (!Number.isInteger(total) || total < 2000) {
  console.error('N (or --certs) must be an integer of at least 2000, e.g. `npm run bench:renewal -- 100000`');
  process.exit(2);
}
const DUE_COUNTS = [0, 100, 1000];
const BATCH = 200;

/** No CA in the benchmark: every polled certificate's CA "offers no ARI" (the poll then stops for it). */
const noAri: AriClient = { renewalInfo: async () => undefined };

async function seed(db: Db): Promise<void> {
  // 90-day certificates issued evenly over the last 60 days: renew_at (day 60, spread a day earlier) falls
  // from now to 60 days ahead. One in a hundred has an ARI poll scheduled within the next 12 hours.
  await sql`
    insert into certificates (id, names, names_key, status, source, issuer, serial, not_before, not_after,
                              renew_at, renew_reason, ari_next_poll_at)
    select gen_random_uuid(), array['c' || i || '.bench.test'], 'c' || i || '.bench.test', 'valid', 'acme',
           'https://ca.bench.test/directory', to_hex(i),
           now() - (i::float / ${total} * interval '60 days'),
           now() - (i::float / ${total} * interval '60 days') + interval '90 days',
           now() - (i::float / ${total} * interval '60 days') + interval '60 days' - (random() * interval '1 day') + interval '1 hour',
           'lifetime',
           case when i % 100 = 0 then now() + random() * interval '12 hours' end
    from generate_series(1, ${total - 1500}) as i`.execute(db);
  // Uploaded certificates (never renewed; expiry tracked) and renewals failing since their issuance.
  await sql`
    insert into certificates (id, names, names_key, status, source, not_before, not_after, renew_at)
    select gen_random_uuid(), array['u' || i || '.bench.test'], 'u' || i || '.bench.test', 'valid', 'custom',
           now() - interval '300 days', now() + (i % 365) * interval '1 day' + interval '1 hour', null
    from generate_series(1, 1000) as i`.execute(db);
  await sql`
    insert into certificates (id, names, names_key, status, source, issuer, serial, not_before, not_after,
                              renew_at, last_error_kind, last_error_at)
    select gen_random_uuid(), array['f' || i || '.bench.test'], 'f' || i || '.bench.test', 'renewing', 'acme',
           'https://ca.bench.test/directory', to_hex(i), now() - interval '70 days', now() + interval '20 days',
           now() - interval '10 days', 'validation', now() - interval '1 hour'
    from generate_series(1, 500) as i`.execute(db);
  await sql`analyze certificates`.execute(db);
}

/** Makes `count` healthy certificates due now (as the clock would), and re-arms the expiry notices. */
async function makeDue(db: Db, count: number): Promise<void> {
  await sql`update certificates set expiring_notified_for = null where expiring_notified_for is not null`.execute(
    db,
  );
  if (count === 0) return;
  await sql`
    update certificates set renew_at = now() - interval '1 second'
    where id in (select id from certificates where status = 'valid' and source = 'acme' and renew_at > now()
                 order by renew_at limit ${count})`.execute(db);
}

/** The scans each stage runs, as plain SELECTs, for EXPLAIN (they lock nothing and change nothing). */
const scans: Record<string, string> = {
  'due renewals': `select id from certificates where renew_at <= now() and status = 'valid' and source = 'acme'
                   order by renew_at limit ${BATCH}`,
  'ari polls': `select id from certificates where ari_next_poll_at <= now() and status = 'valid' and source = 'acme'
                and chain_pem is not null and issuer is not null and serial is not null
                order by ari_next_poll_at limit ${BATCH}`,
  expiring: `select id from certificates where (source = 'custom' or status <> 'valid') and not_after is not null
             and not_after > now() and not_after <= now() + interval '7 days'
             and expiring_notified_for is distinct from not_after
             and ((source = 'custom' and status = 'valid') or (source = 'acme' and status = 'renewing'
                  and last_error_at > coalesce(not_before, 'epoch'::timestamptz)))
             order by not_after limit ${BATCH}`,
  'expired → fallback': `select id from certificates where renew_at <= now() and not_after <= now() and source = 'acme'
                         and status in ('valid', 'renewing', 'failed') and chain_pem is not null
                         order by renew_at limit ${BATCH}`,
  'reminders → fallback': `select c.id from certificates c where c.status = 'failed' and c.source = 'acme'
                           and c.chain_pem is null and (select count(*) from notifications n
                           where n.certificate_id = c.id and n.kind = 'reminder' and n.created_at >= c.created_at) >= 30
                           order by c.id limit ${BATCH}`,
};

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}

function describePlan(node: PlanNode): string {
  const parts: string[] = [];
  const walk = (n: PlanNode) => {
    if (n['Node Type'].includes('Scan'))
      parts.push(
        `${n['Node Type']}${n['Index Name'] ? ` ${n['Index Name']}` : ''} (${n['Actual Rows']} rows)`,
      );
    for (const child of n.Plans ?? []) walk(child);
  };
  walk(node);
  return parts.join(', ');
}

async function explain(db: Db, query: string): Promise<{ plan: string; buffers: number; ms: number }> {
  const { rows } = await sql<{ 'QUERY PLAN': Array<{ Plan: PlanNode; 'Execution Time': number }> }>`
    explain (analyze, buffers, format json) ${sql.raw(query)}`.execute(db);
  const top = rows[0]!['QUERY PLAN'][0]!;
  return {
    plan: describePlan(top.Plan),
    buffers: (top.Plan['Shared Hit Blocks'] ?? 0) + (top.Plan['Shared Read Blocks'] ?? 0),
    ms: top['Execution Time'],
  };
}

const database = await createTestDatabase('bench_renewal');
const db = database.db;
const logger = createLogger({ service: 'bench-renewal', level: 'silent' });
const box = createSecretBox(randomBytes(32));
const results: Array<Record<string, unknown>> = [];
const tickOptions = {
  db,
  box,
  ari: noAri,
  logger,
  batchSize: BATCH,
  remindersBeforeFallback: 30,
  expiringWithinMs: 7 * 86_400_000,
};
try {
  const seedStart = performance.now();
  await seed(db);
  console.log(`seeded ${total} certificates in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);
  // One tick to settle what the seed left due (ARI polls scheduled in the past), not measured.
  await schedulerTick(tickOptions);

  for (const due of DUE_COUNTS) {
    await makeDue(db, due);
    const plans: Record<string, { plan: string; buffers: number; ms: number }> = {};
    for (const [stage, query] of Object.entries(scans)) plans[stage] = await explain(db, query);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const start = performance.now();
    const tick = await schedulerTick(tickOptions);
    const ms = performance.now() - start;
    const heapGrowthKb = Math.round((process.memoryUsage().heapUsed - heapBefore) / 1024);
    console.log(
      `\n${due} due of ${total}: tick ${ms.toFixed(1)} ms, heap +${heapGrowthKb} KiB, rss ${Math.round(process.memoryUsage().rss / 1_048_576)} MiB`,
    );
    console.log(`  touched: ${JSON.stringify(tick)}`);
    for (const [stage, plan] of Object.entries(plans))
      console.log(
        `  ${stage.padEnd(22)} ${String(plan.buffers).padStart(6)} buffers ${plan.ms.toFixed(2).padStart(8)} ms  ${plan.plan}`,
      );
    results.push({
      due,
      tickMs: Math.round(ms * 10) / 10,
      heapGrowthKb,
      touched: tick,
      buffers: Object.fromEntries(Object.entries(plans).map(([stage, plan]) => [stage, plan.buffers])),
    });
  }
} finally {
  await database.drop();
}
console.log(JSON.stringify({ bench: 'renewal', certificates: total, runs: results }));
