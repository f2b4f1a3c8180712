import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
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

const directorySchema = z.object({ renewalInfo: z.string().url().optional() }).loose();

/** Directories are read again after this long (a CA may start or stop offering ARI). */
const DIRECTORY_TTL_MS = 3_600_000;

export function createAriClient(options: {
  caBundlePem?: string | undefined;
  timeoutMs?: number;
}): AriClient {
  const ca = options.caBundlePem ? [...rootCertificates, options.caBundlePem] : undefined;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const directories = new Map<string, { at: number; renewalInfo: Promise<string | undefined> }>();

  function get(
    url: string,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        target,
        { method: 'GET', ca, timeout: timeoutMs, headers: { accept: 'application/json' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from ${target.host} within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  async function readRenewalInfoUrl(directoryUrl: string): Promise<string | undefined> {
    const answer = await get(directoryUrl);
    if (answer.status !== 200) throw new Error(`the directory ${directoryUrl} answered ${answer.status}`);
    const directory = directorySchema.safeParse(JSON.parse(answer.body));
    if (!directory.success) throw new Error(`the directory ${directoryUrl} has a malformed renewalInfo`);
    return directory.data.renewalInfo;
  }

  function renewalInfoUrl(directoryUrl: string): Promise<string | undefined> {
    const cached = directories.get(directoryUrl);
    if (cached && Date.now() - cached.at < DIRECTORY_TTL_MS) return cached.renewalInfo;
    const renewalInfo = readRenewalInfoUrl(directoryUrl);
    directories.set(directoryUrl, { at: Date.now(), renewalInfo });
    renewalInfo.catch(() => directories.delete(directoryUrl));
    return renewalInfo;
  }

  return {
    async renewalInfo(directoryUrl, chainPem) {
      const base = await renewalInfoUrl(directoryUrl);
      if (!base) return undefined;
      const url = `${base.replace(/\/$/, '')}/${ariCertId(chainPem)}`;
      const answer = await get(url);
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
