import { createAcmeHttpClient } from '@gatehouse/acme-http';
import { ariCertId } from '@gatehouse/pki';
import { z } from 'zod';

/** What a CA says about one certificate (RFC 9773 §4.2), and when to ask again. */
export interface RenewalInfo {
  window: { start: Date; end: Date };
  explanationUrl: string | undefined;
  /** The Retry-After header as sent, if any. */
  retryAfter: string | undefined;
}

export interface AriClient {
  /**
   * The CA's renewal information for the leaf of `chainPem`, or undefined when the CA's directory has no
   * `renewalInfo` (then the lifetime rule applies). Throws on a transport error or a malformed answer.
   */
  renewalInfo(directoryUrl: string, chainPem: string): Promise<RenewalInfo | undefined>;
}

const renewalInfoSchema = z.object({
  suggestedWindow: z
    .object({ start: z.iso.datetime({ offset: true }), end: z.iso.datetime({ offset: true }) })
    .refine((window) => Date.parse(window.start) < Date.parse(window.end), 'start must be before end'),
  explanationURL: z.string().optional(),
});

export function createAriClient(options: {
  caBundlePem?: string | undefined;
  timeoutMs?: number;
}): AriClient {
  // The shared ACME HTTP client: keep-alive agent and directory cache (re-read hourly: a CA may start or stop
  // offering ARI), the same pieces cert-issuer speaks ACME through.
  const http = createAcmeHttpClient({
    caBundlePem: options.caBundlePem,
    timeoutMs: options.timeoutMs ?? 10_000,
  });

  return {
    async renewalInfo(directoryUrl, chainPem) {
      const base = (await http.directory(directoryUrl)).renewalInfo;
      if (!base) return undefined;
      const url = `${base.replace(/\/$/, '')}/${ariCertId(chainPem)}`;
      const answer = await http.get(url);
      if (answer.status !== 200) throw new Error(`renewalInfo ${url} answered ${answer.status}`);
      let body: unknown;
      try {
        body = JSON.parse(answer.body);
      } catch {
        throw new Error(`renewalInfo ${url} did not answer JSON`);
      }
      const info = renewalInfoSchema.safeParse(body);
      if (!info.success) throw new Error(`renewalInfo ${url} answered no valid suggestedWindow`);
      const retryAfter = answer.headers['retry-after'];
      return {
        window: {
          start: new Date(info.data.suggestedWindow.start),
          end: new Date(info.data.suggestedWindow.end),
        },
        explanationUrl: info.data.explanationURL,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
      };
    },
  };
}
