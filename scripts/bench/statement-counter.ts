/**
 * Preloaded into a service process by a benchmark (`NODE_OPTIONS=--import …/statement-counter.ts`): counts the SQL
 * statements the process sends through `pg`, by statement text (BEGIN and COMMIT included). On SIGUSR2 it writes
 * the counts since the previous signal to `$GATEHOUSE_BENCH_STATEMENTS_DIR/<pid>-<n>.json` and starts afresh, so a
 * bench signals once before its measured window and once after it and reads the second file: a count of exactly
 * the window, without `pg_stat_statements` (which needs a Postgres restart to load). Never loaded outside benches.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const directory = process.env.GATEHOUSE_BENCH_STATEMENTS_DIR;
if (!directory) throw new Error('statement-counter: GATEHOUSE_BENCH_STATEMENTS_DIR is not set');

// The service's own `pg` (hoisted to the repository's node_modules), so its Client is the one patched.
const pg = createRequire(import.meta.url)('pg') as {
  Client: { prototype: { query: (...args: unknown[]) => unknown } };
};
let counts = new Map<string, number>();
let snapshots = 0;

const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(this: unknown, ...args: unknown[]) {
  const [statement] = args;
  const text = typeof statement === 'string' ? statement : (statement as { text?: string } | undefined)?.text;
  const shape = String(text ?? '?')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 100);
  counts.set(shape, (counts.get(shape) ?? 0) + 1);
  return query.apply(this, args);
};

process.on('SIGUSR2', () => {
  writeFileSync(
    join(directory, `${process.pid}-${snapshots++}.json`),
    JSON.stringify(Object.fromEntries(counts)),
  );
  counts = new Map();
});
