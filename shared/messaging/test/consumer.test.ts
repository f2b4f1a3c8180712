import { createEvent } from '@gatehouse/events';
import { waitFor } from '@gatehouse/testing';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  enqueue,
  on,
  PermanentEventError,
  type RunningConsumer,
  startConsumer,
  startOutboxRelay,
} from '../src/index.ts';
import {
  applyTestEffect,
  effectReport,
  enqueueTestEvents,
  type Harness,
  spawnWorker,
  startHarness,
  streamMessageCount,
  testEvent,
} from './harness.ts';

describe('consumer', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('consumer');
  });
  afterAll(async () => {
    await h.close();
  });
  // Consumers a test started; stopped after it even when it fails, so none leaks into the next test.
  const running: RunningConsumer[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((consumer) => consumer.stop()));
  });
  beforeEach(async () => {
    await h.db.deleteFrom('outbox').execute();
    await h.db.deleteFrom('dead_letters').execute();
    await h.db.deleteFrom('processed_events').execute();
    await h.db.deleteFrom('test_effects' as never).execute();
    await h.jsm.streams.purge('CERTS');
  });

  async function track(started: Promise<RunningConsumer>): Promise<RunningConsumer> {
    const consumer = await started;
    running.push(consumer);
    return consumer;
  }

  function consumerOf(name: string, extra: Partial<Parameters<typeof startConsumer>[0]> = {}) {
    return track(
      startConsumer({
        nc: h.nc,
        js: h.js,
        jsm: h.jsm,
        db: h.db,
        logger: h.logger,
        name,
        subscriptions: [on(testEvent, (event, { trx }) => applyTestEffect(trx, event, name))],
        ...extra,
      }),
    );
  }

  it('consumer - a malformed message is terminated and recorded, and the consumer carries on', async () => {
    const consumer = await consumerOf('poison');
    await h.js.publish('certs.tested', 'this is not json');
    await h.js.publish('certs.tested', JSON.stringify({ id: 'nope', type: 'certs.tested' }));
    const badData = createEvent(testEvent, { source: 'test', subject: 's', data: { n: 1 } });
    await h.js.publish('certs.tested', JSON.stringify({ ...badData, data: { n: 'one' } }));
    const good = createEvent(testEvent, { source: 'test', subject: 's', data: { n: 2 } });
    await h.js.publish('certs.tested', JSON.stringify(good));

    await waitFor('the good event applied', async () => (await effectReport(h.db)).total === 1);
    const deadLetters = await waitFor('three dead letters', async () => {
      const rows = await h.db.selectFrom('dead_letters').selectAll().orderBy('id').execute();
      return rows.length === 3 && rows;
    });
    const reasons = Object.fromEntries(deadLetters.map((row) => [row.reason.split(':')[0], row]));
    expect(Object.keys(reasons).sort()).toEqual([
      'data invalid for certs.tested',
      'envelope invalid',
      'payload is not JSON',
    ]);
    expect(reasons['data invalid for certs.tested']?.reason).toContain('n: Invalid input: expected number');
    expect(reasons['data invalid for certs.tested']?.event_id).toBe(badData.id);
    expect(reasons['envelope invalid']?.reason).toContain('id: Invalid UUID');
    expect(reasons['payload is not JSON']?.payload).toBe('this is not json');
    // Terminated, not redelivered: nothing is pending on the consumer.
    await waitFor('nothing pending or redelivered', async () => {
      const info = await h.jsm.consumers.info('CERTS', 'poison');
      return info.num_ack_pending + info.num_pending === 0 && info.num_redelivered === 0;
    });
    await consumer.stop();
  });

  it('consumer - retryable failures are retried; permanent ones and exhausted retries become dead letters', async () => {
    let failuresLeft = 2;
    const consumer = await track(
      startConsumer({
        nc: h.nc,
        js: h.js,
        jsm: h.jsm,
        db: h.db,
        logger: h.logger,
        name: 'flaky',
        maxDeliver: 3,
        retryDelayMs: () => 50,
        subscriptions: [
          on(testEvent, async (event, { trx }) => {
            if (event.subject === 'flaky' && failuresLeft-- > 0) throw new Error('database hiccup');
            if (event.subject === 'refused') throw new PermanentEventError('no such certificate');
            if (event.subject === 'broken') throw new Error('always fails');
            await applyTestEffect(trx, event, 'flaky');
          }),
        ],
      }),
    );
    for (const subject of ['flaky', 'refused', 'broken']) {
      await h.js.publish(
        'certs.tested',
        JSON.stringify(createEvent(testEvent, { source: 'test', subject, data: { n: 0 } })),
      );
    }
    await waitFor(
      'the flaky event applied after retries',
      async () => (await effectReport(h.db)).total === 1,
    );
    const deadLetters = await waitFor('two dead letters', async () => {
      const rows = await h.db.selectFrom('dead_letters').select('reason').orderBy('id').execute();
      return rows.length === 2 && rows.map((row) => row.reason);
    });
    expect(deadLetters).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/after 1 deliveries: no such certificate/),
        expect.stringMatching(/after 3 deliveries: always fails/),
      ]),
    );
    // A failed handler's effects roll back with its transaction: only the successful run remains.
    const processed = await h.db.selectFrom('processed_events').select('event_id').execute();
    expect(processed).toHaveLength(1);
    await consumer.stop();
  });

  it('consumer - with batchSize a burst shares transactions, keeps per-subject order, and one bad event fails alone', async () => {
    // Publish first, then start: the consumer finds a backlog, which is what batches form from.
    const events = await enqueueTestEvents(h.db, 600, 7);
    const relay = startOutboxRelay({ db: h.db, js: h.js, logger: h.logger });
    await waitFor('all published', async () => (await streamMessageCount(h.jsm)) === 600);
    await relay.stop();
    const poisoned = events[300]!.id;
    const transactionsSeen = new Set<string>();
    const visibleAfterCommit: Array<Promise<boolean>> = [];
    const effectVisible = async (eventId: string) =>
      (await h.db
        .selectFrom('test_effects' as never)
        .select(sql<string>`event_id`.as('event_id'))
        .where(sql<string>`event_id`, '=', eventId)
        .executeTakeFirst()) !== undefined;
    await consumerOf('batched', {
      batchSize: 50,
      retryDelayMs: () => 50,
      subscriptions: [
        on(testEvent, async (event, { trx, afterCommit }) => {
          const { rows } = await sql<{ txid: string }>`select txid_current()::text as txid`.execute(trx);
          transactionsSeen.add(rows[0]!.txid);
          // Registered before a possible failure: it must run only for a committed effect, and see it.
          afterCommit(() => visibleAfterCommit.push(effectVisible(event.id)));
          if (event.id === poisoned) throw new PermanentEventError('this one is refused');
          await applyTestEffect(trx, event, 'batched');
        }),
      ],
    });
    const report = await waitFor('599 effects', async () => {
      const current = await effectReport(h.db);
      return current.total === 599 && current;
    });
    expect(report.duplicates).toBe(0);
    expect(report.outOfOrder).toEqual([]);
    // Without batches every event would have had a transaction of its own (600 at least).
    expect(transactionsSeen.size).toBeLessThan(200);
    const deadLetters = await waitFor('the refused event recorded', async () => {
      const rows = await h.db.selectFrom('dead_letters').select(['event_id', 'reason']).execute();
      return rows.length === 1 && rows;
    });
    expect(deadLetters[0]).toMatchObject({ event_id: poisoned, reason: expect.stringMatching(/refused/) });
    // The refused event's record rolled back with its effects; every other one is recorded once.
    const processed = await h.db.selectFrom('processed_events').select('event_id').execute();
    expect(processed).toHaveLength(599);
    expect(processed.map((row) => row.event_id)).not.toContain(poisoned);
    // afterCommit ran once per committed event (not for rolled-back batches or the refused event), after the commit.
    const visible = await Promise.all(visibleAfterCommit);
    expect(visible).toHaveLength(599);
    expect(visible.every(Boolean)).toBe(true);
  });

  it('consumer - an ack lost after the effect committed (connection dies) causes no second effect', async () => {
    // A replica whose NATS connection dies inside its handler: the effect commits, the ack never leaves.
    const doomedConnection = await connect({ servers: [h.nats.url] });
    const doomed = await track(
      startConsumer({
        nc: doomedConnection,
        js: jetstream(doomedConnection),
        jsm: h.jsm,
        db: h.db,
        logger: h.logger,
        name: 'ack-lost',
        ackWaitMs: 1_000,
        subscriptions: [
          on(testEvent, async (event, { trx }) => {
            await applyTestEffect(trx, event, 'doomed');
            void doomedConnection.close();
          }),
        ],
      }),
    );
    const event = createEvent(testEvent, { source: 'test', subject: 'ack-lost', data: { n: 0 } });
    await h.js.publish('certs.tested', JSON.stringify(event));
    await waitFor('the doomed replica applied it', async () => (await effectReport(h.db)).total === 1);
    await doomed.stop();

    const survivor = await consumerOf('ack-lost', { ackWaitMs: 1_000 });
    await waitFor('the redelivery acknowledged', async () => {
      const info = await h.jsm.consumers.info('CERTS', 'ack-lost');
      return info.num_ack_pending === 0 && info.delivered.consumer_seq >= 2;
    });
    const info = await h.jsm.consumers.info('CERTS', 'ack-lost');
    // One message in the stream, delivered at least twice: the redelivery happened and was absorbed.
    expect(info.delivered.stream_seq).toBe((await h.jsm.streams.info('CERTS')).state.last_seq);
    expect(info.delivered.consumer_seq).toBeGreaterThanOrEqual(2);
    const report = await effectReport(h.db);
    expect(report).toMatchObject({ total: 1, duplicates: 0 });
    await survivor.stop();
  });

  it('consumer - killed mid-stream (SIGKILL) and restarted: every event applied exactly once', async () => {
    const events = await enqueueTestEvents(h.db, 1_000, 20);
    const relay = startOutboxRelay({ db: h.db, js: h.js, logger: h.logger });
    const env = { ROLE: 'consumer', DATABASE_URL: h.database.url, NATS_URL: h.nats.url, ACK_WAIT_MS: '1000' };
    const first = await spawnWorker({ ...env, CONSUMER_NAME: 'killed' });
    await waitFor('part of the stream applied', async () => (await effectReport(h.db)).total >= 200, {
      intervalMs: 5,
    });
    await first.kill();
    const second = await spawnWorker({ ...env, CONSUMER_NAME: 'killed' });
    await waitFor('all events applied', async () => (await effectReport(h.db)).distinct === events.length, {
      timeoutMs: 60_000,
    });
    await waitFor('nothing left pending', async () => {
      const info = await h.jsm.consumers.info('CERTS', 'killed');
      return info.num_ack_pending === 0 && info.num_pending === 0;
    });
    await second.kill();
    await relay.stop();
    const report = await effectReport(h.db);
    expect(report.total).toBe(events.length);
    expect(report.duplicates).toBe(0);
  });

  it('consumer - two replicas share the work and each event is handled once', async () => {
    const events = await enqueueTestEvents(h.db, 2_000, 50);
    const replicas: RunningConsumer[] = [];
    for (const replica of ['replica-a', 'replica-b']) {
      replicas.push(
        await track(
          startConsumer({
            nc: h.nc,
            js: h.js,
            jsm: h.jsm,
            db: h.db,
            logger: h.logger,
            name: 'shared-work',
            subscriptions: [on(testEvent, (event, { trx }) => applyTestEffect(trx, event, replica))],
          }),
        ),
      );
    }
    const relay = startOutboxRelay({ db: h.db, js: h.js, logger: h.logger });
    await waitFor('all events applied', async () => (await effectReport(h.db)).total >= events.length, {
      timeoutMs: 60_000,
    });
    await relay.stop();
    await Promise.all(replicas.map((replica) => replica.stop()));
    const report = await effectReport(h.db);
    expect(report.total).toBe(events.length);
    expect(report.duplicates).toBe(0);
    expect(report.byConsumer['replica-a']).toBeGreaterThan(0);
    expect(report.byConsumer['replica-b']).toBeGreaterThan(0);
  });

  it('consumer - a handler effect and its event are one transaction: an outbox write rolls back with a failure', async () => {
    let attempts = 0;
    const consumer = await track(
      startConsumer({
        nc: h.nc,
        js: h.js,
        jsm: h.jsm,
        db: h.db,
        logger: h.logger,
        name: 'chained',
        retryDelayMs: () => 50,
        subscriptions: [
          on(testEvent, async (event, { trx }) => {
            attempts++;
            await enqueue(
              trx,
              createEvent(testEvent, { source: 'test', subject: 'follow-up', data: { n: event.data.n } }),
            );
            if (attempts === 1) throw new Error('fails after writing its follow-up event');
          }),
        ],
      }),
    );
    await h.js.publish(
      'certs.tested',
      JSON.stringify(createEvent(testEvent, { source: 'test', subject: 'origin', data: { n: 7 } })),
    );
    await waitFor(
      'the second attempt to succeed',
      async () =>
        attempts >= 2 &&
        (await h.db.selectFrom('processed_events').select('event_id').execute()).length === 1,
    );
    const outbox = await h.db.selectFrom('outbox').select('subject').execute();
    expect(outbox).toEqual([{ subject: 'follow-up' }]);
    await consumer.stop();
  });
});
