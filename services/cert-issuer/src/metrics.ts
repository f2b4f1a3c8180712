import type { LimitName } from '@gatehouse/rate-limits';
import { Counter, Gauge, Histogram } from 'prom-client';
import { caLabel } from './acme/acme-endpoints.ts';

/**
 * cert-issuer's Prometheus metrics, registered once per process in the default registry. Every label is
 * bounded: `ca` is the host of a configured ACME directory, `endpoint` one of the ACME resources (see
 * acme/acme-endpoints.ts), `error_kind` the IssueErrorKind union, `outcome` the four below.
 */
export const issuanceMetrics = {
  /**
   * One per finished round: `issued`; `retrying` (failed, on the retry ladder); `failed` (given up or a policy
   * refusal); `rate-limited` (deferred until our mirror of the CA's budget refills, nothing sent to the CA).
   */
  rounds: new Counter({
    name: 'gatehouse_certificate_issuance_total',
    help: 'Issuance rounds by outcome and error kind (empty when issued)',
    labelNames: ['outcome', 'error_kind'] as const,
  }),
};

export type IssuanceOutcome = 'issued' | 'retrying' | 'failed' | 'rate-limited';

export const acmeMetrics = {
  requests: new Counter({
    name: 'gatehouse_acme_requests_total',
    help: 'ACME requests by CA, endpoint and HTTP status (`error` when no response came)',
    labelNames: ['ca', 'endpoint', 'status'] as const,
  }),
  duration: new Histogram({
    name: 'gatehouse_acme_request_duration_seconds',
    help: 'Latency of ACME requests by CA and endpoint',
    labelNames: ['ca', 'endpoint'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
};

/**
 * `gatehouse_rate_limit_remaining{ca, limit}`, read from the shared ledger at scrape time (so every replica
 * reports the same budget): what is left of each mirrored CA limit for its busiest scope.
 */
export function registerRateLimitMetrics(
  directoryUrls: readonly string[],
  remaining: (directoryUrl: string) => Promise<Record<LimitName, number>>,
): void {
  new Gauge({
    name: 'gatehouse_rate_limit_remaining',
    help: "What is left of each CA rate limit Gatehouse mirrors (its busiest account, domain or name set), in the limit's window",
    labelNames: ['ca', 'limit'] as const,
    async collect() {
      this.reset();
      for (const directoryUrl of directoryUrls) {
        const left = await remaining(directoryUrl);
        for (const [limit, value] of Object.entries(left))
          this.set({ ca: caLabel(directoryUrl), limit }, value);
      }
    },
  });
}
