import { randomBytes } from 'node:crypto';
import { type SmtpReceiver, startSmtpReceiver } from '@gatehouse/service-harness';
import {
  freePort,
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
  waitFor,
} from '@gatehouse/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from './stack.ts';

const testImage = process.env.TEST_IMAGE ?? 'gatehouse-test/busybox:1';
const suffix = Math.random().toString(36).slice(2, 8);
const goodName = `metrics-${suffix}.test`;
const blockedName = `refused-${suffix}.test`;

/** One Prometheus sample: metric name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (what a scraper sees); HELP/TYPE lines and blank lines are skipped. */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1]!] = label[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

function find(samples: Sample[], name: string, labels: Record<string, string>): Sample[] {
  return samples.filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
}

function sum(samples: Sample[]): number {
  return samples.reduce((total, sample) => total + sample.value, 0);
}

// Issue 13, items 3 and 4: all six services as real processes, exporting spans over OTLP/HTTP protobuf to a
// receiver on loopback, after a real issuance (Pebble) and a real failure (a name Pebble's policy refuses).
describe('observability', { timeout: 300_000 }, () => {
  let stack: TestStack;
  let otlp: OtlpReceiver;
  let smtp: SmtpReceiver;
  const traceId = randomBytes(16).toString('hex');
  const rootSpanId = randomBytes(8).toString('hex');
  let good: { id: string; notBefore: string; notAfter: string; renewAt: string };
  let refused: { id: string };

  function healthUrl(name: string): string {
    const entry = stack.processes.find((process) => process.name === name);
    if (!entry) throw new Error(`${name} is not running in the stack`);
    return (entry.process as unknown as { healthUrl: string }).healthUrl;
  }

  async function scrape(name: string): Promise<Sample[]> {
    const response = await fetch(`${healthUrl(name)}/metrics`);
    expect(response.status).toBe(200);
    return parseMetrics(await response.text());
  }

  async function api(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${stack.apiUrl}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${stack.apiToken}`,
        'content-type': 'application/json',
        ...(init.headers as Record<string, string>),
      },
    });
  }

  async function certificateFor(name: string) {
    const response = await api(`/v1/certificates?name=${encodeURIComponent(name)}`);
    const body = (await response.json()) as {
      certificates: Array<{
        id: string;
        status: string;
        notBefore: string | null;
        notAfter: string | null;
        renewAt: string | null;
      }>;
    };
    return body.certificates[0];
  }

  beforeAll(async () => {
    [otlp, smtp] = await Promise.all([startOtlpReceiver(), startSmtpReceiver()]);
    const telemetry = { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '200' };
    stack = await startStack({
      label: `test-obs-${suffix}`,
      pebble: { domainBlocklist: [blockedName] },
      env: {
        api: telemetry,
        deployer: telemetry,
        'cert-issuer': telemetry,
        'proxy-config': telemetry,
        'renewal-scheduler': { ...telemetry, RENEWAL_TICK_SECONDS: '1' },
        notifier: {
          ...telemetry,
          SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
          ADMIN_EMAILS: 'ops@example.test',
          NOTIFY_DIGEST_WINDOW: '200ms',
        },
      },
    });
    const appPort = await freePort();
    for (const [name, domain, traceparent] of [
      [`obs-${suffix}`, goodName, `00-${traceId}-${rootSpanId}-01`],
      [`obs-refused-${suffix}`, blockedName, undefined],
    ] as const) {
      const response = await api('/v1/apps', {
        method: 'POST',
        headers: traceparent ? { traceparent } : {},
        body: JSON.stringify({
          name,
          image: testImage,
          port: appPort,
          domains: [`https://${domain}`],
          command: ['sh', '-c', `exec httpd -f -h / -p 127.0.0.1:${appPort}`],
        }),
      });
      expect(response.status, await response.clone().text()).toBe(201);
    }
    good = (await waitFor(
      'the certificate issued',
      async () => {
        const certificate = await certificateFor(goodName);
        return certificate?.status === 'valid' && certificate.notAfter && certificate;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    )) as typeof good;
    refused = (await waitFor(
      'the refused certificate failed',
      async () => {
        const certificate = await certificateFor(blockedName);
        return certificate?.status === 'failed' && certificate;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    )) as typeof refused;
  });

  afterAll(async () => {
    await stack?.stop();
    await Promise.all([otlp?.close(), smtp?.stop()]);
  });

  it('observability - certificate gauges, issuance outcomes, ACME requests, rate-limit budget and mail sends are scraped with the values of a real issuance and a real refusal', async () => {
    // renewal-scheduler: cert-manager-style gauges from Postgres.
    const scheduler = await scrape('renewal-scheduler');
    const ca = new URL(stack.pebble.directoryUrl).host;
    const goodLabels = { name: goodName, id: good.id, issuer: ca, source: 'acme' };
    const seconds = (iso: string) => Date.parse(iso) / 1000;
    expect(find(scheduler, 'gatehouse_certificate_expiration_timestamp_seconds', goodLabels)).toEqual([
      {
        name: 'gatehouse_certificate_expiration_timestamp_seconds',
        labels: goodLabels,
        value: seconds(good.notAfter),
      },
    ]);
    expect(find(scheduler, 'gatehouse_certificate_not_before_timestamp_seconds', goodLabels)[0]?.value).toBe(
      seconds(good.notBefore),
    );
    // The scheduler moves renew_at after certs.issued (spread, ARI): read the current value from the API.
    await waitFor(
      'the renewal gauge matching the API',
      async () => {
        const current = await certificateFor(goodName);
        const gauge = find(
          await scrape('renewal-scheduler'),
          'gatehouse_certificate_renewal_timestamp_seconds',
          {
            id: good.id,
          },
        )[0];
        return current?.renewAt !== null && gauge?.value === seconds(current!.renewAt!);
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    const ready = (id: string, condition: string) =>
      find(scheduler, 'gatehouse_certificate_ready_status', { id, condition })[0]?.value;
    expect([ready(good.id, 'True'), ready(good.id, 'False'), ready(good.id, 'Unknown')]).toEqual([1, 0, 0]);
    expect([ready(refused.id, 'True'), ready(refused.id, 'False'), ready(refused.id, 'Unknown')]).toEqual([
      0, 1, 0,
    ]);
    // The refused certificate has no dates, so no date series.
    expect(find(scheduler, 'gatehouse_certificate_expiration_timestamp_seconds', { id: refused.id })).toEqual(
      [],
    );
    expect(find(scheduler, 'gatehouse_certificate_metrics_omitted', {})[0]?.value).toBe(0);

    // cert-issuer: issuance outcomes by error kind, ACME requests by CA and endpoint, rate-limit budget left.
    const issuer = await scrape('cert-issuer');
    expect(sum(find(issuer, 'gatehouse_certificate_issuance_total', { outcome: 'issued' }))).toBe(1);
    expect(
      sum(find(issuer, 'gatehouse_certificate_issuance_total', { outcome: 'failed', error_kind: 'policy' })),
    ).toBe(1);
    const requests = (endpoint: string, status?: string) =>
      sum(find(issuer, 'gatehouse_acme_requests_total', { ca, endpoint, ...(status ? { status } : {}) }));
    expect(requests('directory', '200')).toBeGreaterThanOrEqual(1);
    expect(requests('newNonce')).toBeGreaterThanOrEqual(1);
    expect(requests('newAccount', '201')).toBeGreaterThanOrEqual(1);
    expect(requests('newOrder', '201')).toBe(1); // the refused name never got an order
    expect(requests('newOrder', '400')).toBeGreaterThanOrEqual(1); // Pebble's rejectedIdentifier
    expect(requests('finalize', '200')).toBe(1);
    expect(requests('certificate', '200')).toBe(1);
    expect(requests('authz')).toBeGreaterThanOrEqual(1);
    expect(requests('challenge')).toBeGreaterThanOrEqual(1);
    // Every finalize request is timed. There may be two: finalize goes out without polling the order first, and an
    // `orderNotReady` answer (Pebble has not yet marked the order ready) falls back to polling and sends it again.
    expect(
      find(issuer, 'gatehouse_acme_request_duration_seconds_count', { ca, endpoint: 'finalize' })[0]?.value,
    ).toBe(requests('finalize'));
    const remaining = (limit: string) =>
      find(issuer, 'gatehouse_rate_limit_remaining', { ca, limit })[0]?.value;
    // One order reached the CA (the refused one handed its slots back), one certificate for this name set.
    expect(remaining('new-orders-per-account')).toBe(299);
    expect(remaining('duplicate-certificates')).toBe(4);
    expect(remaining('certificates-per-registered-domain')).toBe(49);

    // notifier: the failure mail about the refused certificate was sent.
    await waitFor('a failure mail', () => smtp.mails.length > 0, { timeoutMs: 30_000, intervalMs: 200 });
    await waitFor(
      'the send counted',
      async () =>
        sum(find(await scrape('notifier'), 'gatehouse_notifications_sent_total', { outcome: 'sent' })) >= 1,
      { timeoutMs: 10_000, intervalMs: 200 },
    );
  });

  /** The chain of parents of `span` inside `spans` (nearest first), up to a span whose parent was not received. */
  function ancestors(spans: ReceivedSpan[], span: ReceivedSpan): ReceivedSpan[] {
    const byId = new Map(spans.map((candidate) => [candidate.spanId, candidate]));
    const chain: ReceivedSpan[] = [];
    let parent = byId.get(span.parentSpanId);
    while (parent && chain.length < 100) {
      chain.push(parent);
      parent = byId.get(parent.parentSpanId);
    }
    return chain;
  }

  const describeSpan = (span: ReceivedSpan) => `${span.service}: ${span.name}`;

  /** Every proxy write received, with its parent and links, for a failure message. */
  function describeWrites(): string[] {
    const byId = new Map(otlp.spans.map((span) => [span.spanId, span]));
    return otlp.spans
      .filter((span) => span.name === 'write traefik files')
      .map(
        (span) =>
          `write in trace ${span.traceId} under ${byId.get(span.parentSpanId)?.name ?? span.parentSpanId} linking ${span.links.map((link) => byId.get(link.spanId)?.name ?? link.spanId).join(', ')}`,
      );
  }

  it('observability - one trace follows an issuance from the API request through the outbox, the issuance job, every ACME request and certs.issued to the proxy write', async () => {
    const inTrace = () => otlp.spans.filter((span) => span.traceId === traceId);
    const write = await waitFor(
      'proxy-config write span in the trace',
      () =>
        inTrace().find(
          (span) =>
            span.service === 'proxy-config' &&
            span.name === 'write traefik files' &&
            ancestors(inTrace(), span).some((parent) => parent.name === 'consume certs.issued') &&
            // Spans arrive as each process exports them: wait for the whole chain up to the API request.
            ancestors(inTrace(), span).at(-1)?.name === 'POST /v1/apps',
        ),
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch(() => {
      const writes = describeWrites();
      throw new Error(
        `no proxy write under certs.issued; the trace has:\n${inTrace().map(describeSpan).join('\n')}\n${writes.join('\n')}`,
      );
    });
    const spans = inTrace();
    expect(otlp.rejected).toBe(0);
    // The API's server span is the child of the caller's traceparent.
    const request = spans.find((span) => span.service === 'api' && span.name === 'POST /v1/apps');
    expect(request?.parentSpanId).toBe(rootSpanId);
    expect(request?.kind).toBe(2);

    // write ← consume certs.issued (proxy-config) ← publish certs.issued (outbox relay) ← issue certificate
    // (cert-issuer's job) ← consume certs.requested ← publish certs.requested ← POST /v1/apps.
    const chain = [write, ...ancestors(spans, write)].map(describeSpan);
    const expectedOrder = [
      'proxy-config: write traefik files',
      'proxy-config: consume certs.issued',
      'publish certs.issued',
      'cert-issuer: issue certificate',
      'cert-issuer: consume certs.requested',
      'publish certs.requested',
      'api: POST /v1/apps',
    ];
    let position = -1;
    for (const expected of expectedOrder) {
      const next = chain.findIndex((entry, index) => index > position && entry.endsWith(expected));
      expect(next, `"${expected}" after position ${position} in:\n${chain.join('\n')}`).toBeGreaterThan(
        position,
      );
      position = next;
    }
    expect(chain.at(-1)).toBe('api: POST /v1/apps');

    // Every ACME request of the round is a client span under the job's span, with CA, endpoint and status.
    const job = spans.find((span) => span.service === 'cert-issuer' && span.name === 'issue certificate')!;
    const acmeSpans = spans.filter((span) => span.name.startsWith('acme '));
    const endpoints = new Set(acmeSpans.map((span) => span.attributes['acme.endpoint']));
    for (const endpoint of ['newOrder', 'authz', 'challenge', 'finalize', 'certificate']) {
      expect(endpoints, [...endpoints].join(',')).toContain(endpoint);
    }
    for (const span of acmeSpans) {
      expect(span.kind).toBe(3);
      expect(span.attributes['acme.ca']).toBe(new URL(stack.pebble.directoryUrl).host);
      expect(typeof span.attributes['http.response.status_code']).toBe('number');
      expect(ancestors(spans, span).map((parent) => parent.spanId)).toContain(job.spanId);
    }
    // The refused certificate's request was not sent with our traceparent: its round is another trace.
    expect(spans.filter((span) => span.name === 'issue certificate')).toHaveLength(1);
  });

  it('observability - a renewal started by the scheduler tick is a trace of its own, from the tick to the proxy write', async () => {
    const before = new Set(otlp.spans.map((span) => span.spanId));
    const client = new pg.Client({ connectionString: stack.database.url });
    await client.connect();
    try {
      await client.query(`update certificates set renew_at = now() - interval '1 second' where id = $1`, [
        good.id,
      ]);
    } finally {
      await client.end();
    }
    const fresh = () => otlp.spans.filter((span) => !before.has(span.spanId));
    const root = await waitFor(
      'a renewal-due root span',
      () =>
        fresh().find(
          (span) =>
            span.service === 'renewal-scheduler' &&
            span.name === 'renewal due' &&
            span.attributes['gatehouse.certificate_id'] === good.id,
        ),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(root.parentSpanId).toBe('');
    expect(root.traceId).not.toBe(traceId);
    const renewalTrace = () => otlp.spans.filter((span) => span.traceId === root.traceId);
    await waitFor(
      'the renewal reaching the proxy write',
      () =>
        renewalTrace().some(
          (span) =>
            span.service === 'proxy-config' &&
            span.name === 'write traefik files' &&
            ancestors(renewalTrace(), span).some((parent) => parent.spanId === root.spanId),
        ),
      { timeoutMs: 60_000, intervalMs: 200 },
    ).catch(() => {
      throw new Error(
        `the renewal trace ${root.traceId} has:\n${renewalTrace().map(describeSpan).join('\n')}\n${describeWrites().join('\n')}`,
      );
    });
    const spans = renewalTrace();
    const job = spans.find((span) => span.name === 'issue certificate');
    expect(job && ancestors(spans, job).map((span) => span.name)).toEqual(
      expect.arrayContaining(['consume certs.renewal-due', 'publish certs.renewal-due', 'renewal due']),
    );
    // One finalize succeeded. Another may precede it: finalize goes out without polling the order first, and an
    // `orderNotReady` answer (403) falls back to polling and sends it again.
    const finalizes = spans.filter((span) => span.attributes['acme.endpoint'] === 'finalize');
    const statuses = finalizes.map((span) => span.attributes['http.response.status_code']);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status !== 200).every((status) => status === 403)).toBe(true);
  });
});
