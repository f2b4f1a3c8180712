import { waitFor } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { on, startConsumer, startOutboxRelay } from '../src/index.ts';
import {
  applyTestEffect,
  effectReport,
  enqueueTestEvents,
  type Harness,
  startHarness,
  streamMessageCount,
  testEvent,
  unpublishedCount,
} from './harness.ts';

describe('messaging under volume and outage', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('volume');
  });
  afterAll(async () => {
    await h.close();
  });

  it('messaging - 10,000 events through outbox, JetStream and consumer: none lost, none twice, order kept', async () => {
    const events = await enqueueTestEvents(h.db, 10_000, 100);
    const consumer = await startConsumer({
      nc: h.nc,
      js: h.js,
      jsm: h.jsm,
      db: h.db,
      logger: h.logger,
      name: 'volume',
      concurrency: 8,
      subscriptions: [on(testEvent, (event, { trx }) => applyTestEffect(trx, event, 'volume'))],
    });
    const relay = startOutboxRelay({
      db: h.db,
      js: h.js,
      logger: h.logger,
      listenConnectionString: h.database.url,
    });
    try {
      await waitFor('10,000 effects', async () => (await effectReport(h.db)).total >= events.length, {
        timeoutMs: 120_000,
        intervalMs: 250,
      });
    } finally {
      await relay.stop();
      await consumer.stop();
    }
    const report = await effectReport(h.db);
    expect(report.total).toBe(events.length);
    expect(report.distinct).toBe(events.length);
    expect(report.outOfOrder).toEqual([]);
    expect(await streamMessageCount(h.jsm)).toBe(events.length);
  });

  it('messaging - NATS restarted mid-stream: relay and consumer resume on their own', async () => {
    await h.db.deleteFrom('test_effects' as never).execute();
    await h.db.deleteFrom('outbox').execute();
    await h.jsm.streams.purge('CERTS');
    const consumer = await startConsumer({
      nc: h.nc,
      js: h.js,
      jsm: h.jsm,
      db: h.db,
      logger: h.logger,
      name: 'outage',
      ackWaitMs: 2_000,
      subscriptions: [on(testEvent, (event, { trx }) => applyTestEffect(trx, event, 'outage'))],
    });
    const relay = startOutboxRelay({
      db: h.db,
      js: h.js,
      logger: h.logger,
      listenConnectionString: h.database.url,
      batchSize: 50,
      publishTimeoutMs: 1_000,
    });
    try {
      const first = await enqueueTestEvents(h.db, 1_000, 10, 50);
      await waitFor('some effects before the outage', async () => (await effectReport(h.db)).total >= 100, {
        intervalMs: 5,
      });
      await h.nats.kill();
      // Events keep arriving while NATS is down: they wait in the outbox.
      const during = await enqueueTestEvents(h.db, 500, 10, 50);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(await unpublishedCount(h.db)).toBeGreaterThan(0);
      await h.nats.start();

      const expected = first.length + during.length;
      await waitFor(
        'all effects after NATS returned',
        async () => (await effectReport(h.db)).distinct >= expected,
        {
          timeoutMs: 90_000,
          intervalMs: 250,
        },
      );
      const report = await effectReport(h.db);
      expect(report.distinct).toBe(expected);
      expect(report.duplicates).toBe(0);
    } finally {
      await relay.stop();
      await consumer.stop();
    }
  });
});
