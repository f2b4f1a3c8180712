import { createDb, lockNames } from '@gatehouse/db';
import { waitFor } from '@gatehouse/testing';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOutboxRelay } from '../src/index.ts';
import {
  enqueueTestEvents,
  type Harness,
  startHarness,
  streamMessageCount,
  unpublishedCount,
} from './harness.ts';

/** Every statement sent through `pg` while installed, with the client that sent it. */
function recordStatements() {
  const statements: Array<{ client: unknown; text: string }> = [];
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function recorded(this: unknown, ...args: unknown[]) {
    const [statement] = args;
    const text = typeof statement === 'string' ? statement : (statement as { text?: string }).text;
    statements.push({ client: this, text: String(text) });
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  const restore = () => {
    pg.Client.prototype.query = query;
  };
  return { statements, restore };
}

/**
 * Backend pids holding the relay's advisory lock. With `leadersOnly`, only LISTEN connections (a leader's session
 * lock), not a relay's momentary transaction-level lock.
 */
async function lockHolders(h: Harness, leadersOnly = false): Promise<number[]> {
  const { rows } = await sql<{ pid: number }>`
    select pid from pg_locks
     where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())
       and objid = hashtext(${lockNames.outboxRelay})::oid
       and (not ${leadersOnly} or pid in (select pid from pg_stat_activity where query like '%pg_try_advisory_lock(%'))`.execute(
    h.db,
  );
  return rows.map((row) => row.pid);
}

describe('outbox relay leadership', () => {
  let h: Harness;
  const stops: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    h = await startHarness('relay_leadership');
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await h.jsm.streams.purge('CERTS');
    await h.db.deleteFrom('outbox').execute();
  });
  afterAll(async () => {
    await h.close();
  });

  it('relay - the leader publishes without a transaction, marking a batch in the read of the next one', async () => {
    // The relay's own pool of one connection, so its statements are told apart from the test's.
    const relayDb = createDb({ connectionString: h.database.url, maxConnections: 1 });
    const relay = startOutboxRelay({
      db: relayDb,
      js: h.js,
      logger: h.logger,
      listenConnectionString: h.database.url,
    });
    stops.push(() => relay.stop());
    // Until its LISTEN connection is up, a relay publishes under a transaction lock; then it leads.
    await waitFor('the relay to lead', async () => (await lockHolders(h, true)).length === 1);
    const recording = recordStatements();
    try {
      // Commits back to back (10 of 5 events, then 10 of 3), then a pause: batches follow each other closely.
      await enqueueTestEvents(h.db, 50, 5, 5);
      await waitFor('50 events published', async () => (await streamMessageCount(h.jsm)) === 50);
      await enqueueTestEvents(h.db, 30, 3, 3);
      await waitFor('80 events published', async () => (await streamMessageCount(h.jsm)) === 80);
      await relay.stop();
      stops.pop();
    } finally {
      recording.restore();
      await relayDb.destroy();
    }
    const isRead = (text: string) =>
      /^(with "marked" as \(update "outbox" .*\) )?select .* from "outbox"/s.test(text);
    const reads = recording.statements.filter((s) => isRead(s.text));
    expect(reads.length).toBeGreaterThan(0);
    const relayClient = reads[0]!.client;
    const relayStatements = recording.statements.filter((s) => s.client === relayClient).map((s) => s.text);
    expect(relayStatements.filter((text) => /^(begin|commit)$/i.test(text.trim()))).toEqual([]);
    expect(relayStatements.filter((text) => text.includes('advisory'))).toEqual([]);
    // Every statement reads a batch, most of them marking the previous batch's rows on the way (the commits came
    // closer together than `markDelayMs`), or marks alone after the last batch of a burst: one per batch.
    const fusedReads = relayStatements.filter((text) => text.startsWith('with "marked"') && isRead(text));
    const loneMarks = relayStatements.filter((text) => text.startsWith('update "outbox"'));
    expect(fusedReads.length).toBeGreaterThanOrEqual(1);
    expect(relayStatements.length).toBe(relayStatements.filter(isRead).length + loneMarks.length);
    expect(await unpublishedCount(h.db)).toBe(0);
    // The lock was on the LISTEN connection, and it went with it.
    expect(await lockHolders(h)).toEqual([]);
  });

  it('relay - the leader loses its connection: another relay takes over within a poll, and nothing is lost', async () => {
    const start = () => {
      const relay = startOutboxRelay({
        db: h.db,
        js: h.js,
        logger: h.logger,
        listenConnectionString: h.database.url,
        idlePollMs: 300,
      });
      stops.push(() => relay.stop());
    };
    start();
    start();
    await waitFor('one relay to lead', async () => (await lockHolders(h, true)).length === 1);
    await enqueueTestEvents(h.db, 20, 4, 5);
    await waitFor('20 events published', async () => (await streamMessageCount(h.jsm)) === 20);
    const [leader, ...others] = await lockHolders(h, true);
    expect(leader).toBeDefined();
    expect(others).toEqual([]);

    // The design rests on this: a transaction-level try on the key fails while a session holds it, so a relay
    // publishing without its LISTEN connection never overlaps the leader.
    const { rows } = await h.db.transaction().execute((trx) =>
      sql<{
        locked: boolean;
      }>`select pg_try_advisory_xact_lock(hashtext(${lockNames.outboxRelay})) as locked`.execute(trx),
    );
    expect(rows[0]?.locked).toBe(false);

    await sql`select pg_terminate_backend(${leader})`.execute(h.db);
    const terminatedAt = Date.now();
    await enqueueTestEvents(h.db, 20, 4, 5);
    await waitFor('40 events published', async () => (await streamMessageCount(h.jsm)) === 40, {
      timeoutMs: 10_000,
    });
    expect(Date.now() - terminatedAt).toBeLessThan(5_000);
    await waitFor('a new leader', async () => {
      const holders = await lockHolders(h, true);
      return holders.length === 1 && holders[0] !== leader;
    });
    // The old leader reconnects (as a follower) and events keep flowing.
    await enqueueTestEvents(h.db, 20, 4, 5);
    await waitFor('60 events published', async () => (await streamMessageCount(h.jsm)) === 60, {
      timeoutMs: 10_000,
    });
    // Marked by the leader (its last rows up to `markDelayMs` after publishing them).
    await waitFor('every row marked published', async () => (await unpublishedCount(h.db)) === 0);
  });

  it('relay - a LISTEN connection that cannot be opened: the relay still publishes, under a transaction lock', async () => {
    const unreachable = new URL(h.database.url);
    unreachable.port = '1'; // Nothing listens there: every connect is refused.
    const relay = startOutboxRelay({
      db: h.db,
      js: h.js,
      logger: h.logger,
      listenConnectionString: unreachable.toString(),
      idlePollMs: 200,
    });
    stops.push(() => relay.stop());
    await enqueueTestEvents(h.db, 10, 2, 5);
    await waitFor('10 events published', async () => (await streamMessageCount(h.jsm)) === 10, {
      timeoutMs: 10_000,
    });
    expect(await lockHolders(h, true)).toEqual([]);
  });
});
