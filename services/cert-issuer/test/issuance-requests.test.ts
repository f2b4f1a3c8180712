import { randomUUID } from 'node:crypto';
import { allStreams, certsRequested, createEvent } from '@gatehouse/events';
import {
  connectNats,
  consumerName,
  enqueue,
  ensureStreams,
  type NatsConnection,
  type OutboxRelay,
  type RunningConsumer,
  startConsumer,
  startOutboxRelay,
} from '@gatehouse/messaging';
import { createLogger, startTelemetry, type Telemetry, withSpan } from '@gatehouse/telemetry';
import {
  createTestDatabase,
  startNatsServer,
  type TestDatabase,
  type TestNatsServer,
  waitFor,
} from '@gatehouse/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issuanceSubscriptions } from '../src/issuance/issuance-consumer.ts';

/**
 * The `certs.requested` consumer on its own (no worker, so a queued job stays queued): what a request queues,
 * joins or refuses, through the real outbox relay, NATS consumer and Postgres.
 */
describe('issuance requests', { timeout: 60_000 }, () => {
  let database: TestDatabase;
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let telemetry: Telemetry;
  let relay: OutboxRelay;
  let consumer: RunningConsumer;
  const logLines: Array<Record<string, unknown>> = [];
  let wakes = 0;

  beforeAll(async () => {
    // A tracer provider and W3C propagation, as in the service, so trace context reaches the job row.
    telemetry = startTelemetry({ serviceName: 'test-issuance-requests' });
    const logger = createLogger({
      service: 'test-issuance-requests',
      destination: { write: (line: string) => void logLines.push(JSON.parse(line)) },
    });
    [database, nats] = await Promise.all([createTestDatabase('issuance_requests'), startNatsServer()]);
    nc = await connectNats({ servers: [nats.url], name: 'test-issuance-requests', logger });
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, allStreams());
    const js = jetstream(nc);
    relay = await startOutboxRelay({ db: database.db, js, logger, idlePollMs: 50 });
    consumer = await startConsumer({
      nc,
      js,
      jsm,
      db: database.db,
      logger,
      name: consumerName('cert-issuer', 'issuance'),
      subscriptions: issuanceSubscriptions(() => wakes++),
      batchSize: 32,
      retryDelayMs: () => 50,
    });
  });
  afterAll(async () => {
    await consumer?.stop();
    await relay?.stop();
    await nc?.close().catch(() => {});
    await telemetry?.shutdown();
    await Promise.all([database?.drop(), nats?.stop()]);
  });

  async function createCertificate(names: string[]): Promise<string> {
    const id = randomUUID();
    await database.db
      .insertInto('certificates')
      .values({ id, names, names_key: names.join(','), status: 'pending', source: 'acme' })
      .execute();
    return id;
  }

  /** Publishes `certs.requested` through the outbox inside a span; returns the event id and the span's trace id. */
  async function request(
    certificateId: string,
    options: { reason?: 'new' | 'manual'; profile?: string } = {},
  ): Promise<{ eventId: string; traceId: string }> {
    return withSpan('test request', {}, async (span) => {
      const event = createEvent(certsRequested, {
        source: 'test',
        subject: certificateId,
        data: {
          certificateId,
          names: ['requested.test'],
          keyType: 'ecdsa-p384',
          reason: options.reason ?? 'new',
          challenge: 'http-01',
          ...(options.profile ? { profile: options.profile } : {}),
        },
      });
      await database.db.transaction().execute((trx) => enqueue(trx, event));
      return { eventId: event.id, traceId: span.spanContext().traceId };
    });
  }

  function jobsOf(certificateId: string) {
    return database.db
      .selectFrom('issuance_jobs')
      .selectAll()
      .where('certificate_id', '=', certificateId)
      .orderBy('created_at')
      .execute();
  }

  function requestedLine(eventId: string) {
    return waitFor(`log line of ${eventId}`, async () =>
      logLines.find((line) => line.event_id === eventId && line.msg === 'issuance requested'),
    );
  }

  it("issuance requests - a request queues one job with the certificate's names key, the request's choices and its trace", async () => {
    const id = await createCertificate(['a.requested.test', 'requested.test']);
    const wakesBefore = wakes;
    const { eventId, traceId } = await request(id, { profile: 'shortlived' });
    const [job, ...others] = await waitFor('a job', async () => {
      const jobs = await jobsOf(id);
      return jobs.length > 0 && jobs;
    });
    expect(others).toEqual([]);
    expect(job).toMatchObject({
      names_key: 'a.requested.test,requested.test',
      reason: 'new',
      challenge: 'http-01',
      key_type: 'ecdsa-p384',
      profile: 'shortlived',
      status: 'queued',
      attempt: 0,
    });
    expect(job?.trace_headers).toMatchObject({ traceparent: expect.stringContaining(traceId) });
    expect(await requestedLine(eventId)).toMatchObject({ cert_id: id, queued: true });
    await waitFor('the worker woken after the commit', async () => wakes > wakesBefore);
  });

  it('issuance requests - a second request while a job is open joins it (queued: false), no second job', async () => {
    const id = await createCertificate(['join.requested.test']);
    const first = await request(id);
    await requestedLine(first.eventId);
    const second = await request(id, { profile: 'classic' });
    expect(await requestedLine(second.eventId)).toMatchObject({ cert_id: id, queued: false });
    const jobs = await jobsOf(id);
    expect(jobs).toHaveLength(1);
    // The open job keeps what the first request asked for.
    expect(jobs[0]?.profile).toBeNull();
  });

  it('issuance requests - a request for a certificate that does not exist is a dead letter saying so, and queues nothing', async () => {
    const id = randomUUID();
    const { eventId } = await request(id);
    const deadLetter = await waitFor('a dead letter', () =>
      database.db.selectFrom('dead_letters').selectAll().where('event_id', '=', eventId).executeTakeFirst(),
    );
    expect(deadLetter.reason).toContain(`certificate ${id} does not exist`);
    expect(deadLetter.consumer).toBe(consumerName('cert-issuer', 'issuance'));
    expect(await jobsOf(id)).toEqual([]);
    expect(logLines.some((line) => line.event_id === eventId && line.msg === 'issuance requested')).toBe(
      false,
    );
  });

  it('issuance requests - a manual request supersedes a waiting job and resets the retry ladder; a running job is joined', async () => {
    const id = await createCertificate(['manual.requested.test']);
    const deferredJobId = randomUUID();
    await database.db
      .insertInto('issuance_jobs')
      .values({
        id: deferredJobId,
        certificate_id: id,
        names_key: 'manual.requested.test',
        reason: 'renewal',
        challenge: 'auto',
        key_type: 'ecdsa-p256',
        status: 'deferred',
        attempt: 3,
        next_attempt_at: new Date(Date.now() + 86_400_000),
      })
      .execute();
    await database.db
      .updateTable('certificates')
      .set({ failure_count: 3, next_retry_at: new Date(Date.now() + 86_400_000) })
      .where('id', '=', id)
      .execute();

    const manual = await request(id, { reason: 'manual' });
    expect(await requestedLine(manual.eventId)).toMatchObject({ cert_id: id, queued: true });
    const jobs = await jobsOf(id);
    expect(jobs.map((job) => [job.id === deferredJobId ? 'old' : 'new', job.reason, job.status])).toEqual([
      ['old', 'renewal', 'superseded'],
      ['new', 'manual', 'queued'],
    ]);
    expect(jobs[1]?.attempt).toBe(0);
    const certificate = await database.db
      .selectFrom('certificates')
      .select(['failure_count', 'next_retry_at'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(certificate).toEqual({ failure_count: 0, next_retry_at: null });

    // The manual job is ordering now: a second manual request joins it and leaves the ladder alone.
    await database.db
      .updateTable('issuance_jobs')
      .set({ status: 'running', lease_holder: 'someone', lease_expires_at: new Date(Date.now() + 60_000) })
      .where('id', '=', jobs[1]!.id)
      .execute();
    await database.db.updateTable('certificates').set({ failure_count: 1 }).where('id', '=', id).execute();
    const again = await request(id, { reason: 'manual' });
    expect(await requestedLine(again.eventId)).toMatchObject({ cert_id: id, queued: false });
    expect((await jobsOf(id)).map((job) => job.status)).toEqual(['superseded', 'running']);
    const after = await database.db
      .selectFrom('certificates')
      .select('failure_count')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(after.failure_count).toBe(1);
  });
});
