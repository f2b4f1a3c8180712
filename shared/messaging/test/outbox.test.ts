import { createEvent } from '@gatehouse/events';
import { waitFor } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueue, on, startConsumer, startOutboxRelay } from '../src/index.ts';
import {
  applyTestEffect,
  effectReport,
  enqueueTestEvents,
  type Harness,
  spawnWorker,
  startHarness,
  streamMessageCount,
  testEvent,
  unpublishedCount,
} from './harness.ts';

describe('outbox', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('outbox');
  });
  afterAll(async () => {
    await h.close();
  });

  it('outbox - a rolled-back transaction publishes nothing', async () => {
    const relay = startOutboxRelay({ db: h.db, js: h.js, logger: h.logger, idlePollMs: 50 });
    const kept = createEvent(testEvent, { source: 'test', subject: 'rollback', data: { n: 0 } });
    const dropped = createEvent(testEvent, { source: 'test', subject: 'rollback', data: { n: 1 } });
    await expect(
      h.db.transaction().execute(async (trx) => {
        await enqueue(trx, dropped);
        throw new Error('business rule refused the change');
      }),
    ).rejects.toThrow('refused');
    await h.db.transaction().execute((trx) => enqueue(trx, kept));
    await waitFor('the committed event to be published', async () => (await streamMessageCount(h.jsm)) === 1);
    await relay.stop();
    const ids = await h.db.selectFrom('outbox').select('event_id').execute();
    expect(ids.map((row) => row.event_id)).toEqual([kept.id]);
    const message = await h.jsm.streams.getMessage('CERTS', { last_by_subj: 'certs.tested' });
    expect(message?.json<{ id: string }>().id).toBe(kept.id);
    await h.jsm.streams.purge('CERTS');
    await h.db.deleteFrom('outbox').execute();
  });

  it('outbox - relay killed mid-stream and a lost "published" mark: every event takes effect once', async () => {
    const events = await enqueueTestEvents(h.db, 2_000, 40);
    const consumer = await startConsumer({
      nc: h.nc,
      js: h.js,
      jsm: h.jsm,
      db: h.db,
      logger: h.logger,
      name: 'outbox-test',
      subscriptions: [on(testEvent, (event, { trx }) => applyTestEffect(trx, event, 'outbox-test'))],
    });

    // A relay process that dies (SIGKILL) part-way through: committed events are not yet published.
    const first = await spawnWorker({ ROLE: 'relay', DATABASE_URL: h.database.url, NATS_URL: h.nats.url });
    await waitFor('some events published', async () => (await streamMessageCount(h.jsm)) >= 300, {
      intervalMs: 5,
    });
    await first.kill();
    const publishedBeforeCrash = await streamMessageCount(h.jsm);
    expect(publishedBeforeCrash).toBeLessThan(events.length);

    // As if the relay had published the first 200 but died before marking them: they go out again.
    const firstRows = await h.db.selectFrom('outbox').select('seq').orderBy('seq').limit(200).execute();
    await h.db
      .updateTable('outbox')
      .set({ published_at: null })
      .where(
        'seq',
        'in',
        firstRows.map((row) => row.seq),
      )
      .execute();

    const second = await spawnWorker({ ROLE: 'relay', DATABASE_URL: h.database.url, NATS_URL: h.nats.url });
    await waitFor('every event applied', async () => (await effectReport(h.db)).distinct === events.length, {
      timeoutMs: 60_000,
    });
    // A leader marks its last rows up to `markDelayMs` after publishing them; a kill before that would only
    // republish them, but this test wants every row marked by the relay that published it.
    await waitFor('every row marked published', async () => (await unpublishedCount(h.db)) === 0);
    await second.kill();
    await new Promise((resolve) => setTimeout(resolve, 300)); // Let stray redeliveries arrive, if any.
    await consumer.stop();

    const report = await effectReport(h.db);
    expect(report.total).toBe(events.length);
    expect(report.duplicates).toBe(0);
    expect(report.outOfOrder).toEqual([]);
    // JetStream de-duplicated the republished copies by Nats-Msg-Id.
    expect(await streamMessageCount(h.jsm)).toBe(events.length);
    expect(await unpublishedCount(h.db)).toBe(0);
  });

  it('outbox - commits notified while a batch is in flight are published without waiting for the poll', async () => {
    await h.jsm.streams.purge('CERTS');
    await h.db.deleteFrom('outbox').execute();
    // The idle poll is a minute: only LISTEN/NOTIFY can get these events out within the test's wait.
    const relay = startOutboxRelay({
      db: h.db,
      js: h.js,
      logger: h.logger,
      listenConnectionString: h.database.url,
      idlePollMs: 60_000,
      batchSize: 20,
    });
    try {
      // Small transactions back to back, so many commits land while the relay is mid-batch.
      for (let round = 0; round < 40; round++) await enqueueTestEvents(h.db, 5, 5);
      await waitFor('all 200 events published', async () => (await streamMessageCount(h.jsm)) === 200, {
        timeoutMs: 20_000,
      });
    } finally {
      await relay.stop();
    }
  });

  it('outbox - with two relays one publishes every commit, and the other takes over within a poll when it stops', async () => {
    await h.jsm.streams.purge('CERTS');
    await h.db.deleteFrom('outbox').execute();
    const start = () =>
      startOutboxRelay({
        db: h.db,
        js: h.js,
        logger: h.logger,
        listenConnectionString: h.database.url,
        idlePollMs: 300,
      });
    const first = start();
    const second = start();
    let secondStopped = false;
    try {
      for (let round = 0; round < 10; round++) await enqueueTestEvents(h.db, 2, 2);
      await waitFor('20 events published', async () => (await streamMessageCount(h.jsm)) === 20, {
        timeoutMs: 10_000,
      });
      // Whichever of the two was publishing, stopping one leaves the other to do it: at its next poll at the latest.
      await first.stop();
      const stoppedAt = Date.now();
      for (let round = 0; round < 10; round++) await enqueueTestEvents(h.db, 2, 2);
      await waitFor('40 events published', async () => (await streamMessageCount(h.jsm)) === 40, {
        timeoutMs: 10_000,
      });
      expect(Date.now() - stoppedAt).toBeLessThan(5_000);
      await second.stop();
      secondStopped = true;
      expect(await unpublishedCount(h.db)).toBe(0);
    } finally {
      await first.stop();
      if (!secondStopped) await second.stop();
    }
  });
});
