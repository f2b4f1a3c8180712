import { z } from 'zod';

/** The parts of the API's answers the CLI reads (the OpenAPI document has the whole shape). */
export const certificateSchema = z.looseObject({
  id: z.string(),
  names: z.array(z.string()),
  status: z.string(),
  source: z.string(),
  issuer: z.string().nullable(),
  keyType: z.string(),
  notBefore: z.string().nullable(),
  notAfter: z.string().nullable(),
  lastError: z.object({ kind: z.string(), message: z.string(), at: z.string().nullable() }).nullable(),
  nextRenewal: z.object({ at: z.string().nullable(), reason: z.string(), detail: z.string() }),
  failureCount: z.number(),
  /** Absent from an older api. */
  profile: z.string().nullable().optional(),
});
export type CertificateView = z.infer<typeof certificateSchema>;

export const attemptSchema = z.looseObject({
  directoryUrl: z.string(),
  challengeType: z.string().nullable(),
  outcome: z.string(),
  error: z.object({ kind: z.string(), message: z.string() }).nullable(),
  problemType: z.string().nullable(),
  startedAt: z.string(),
  durationMs: z.number().nullable(),
});

export const certificateDetailSchema = certificateSchema.extend({
  job: z
    .object({
      reason: z.string(),
      status: z.string(),
      rounds: z.number(),
      nextAttemptAt: z.string().nullable(),
      deferredReason: z.string().nullable(),
    })
    .loose()
    .nullable(),
  attempts: z.array(attemptSchema),
  preflight: z
    .object({
      checkedAt: z.string(),
      results: z.array(
        z.object({ name: z.string(), check: z.string(), ok: z.boolean(), detail: z.string() }),
      ),
    })
    .nullable(),
  apps: z.array(z.string()),
  rateLimit: z
    .object({ allowed: z.boolean(), retryAt: z.string().nullable(), reason: z.string().nullable() })
    .nullable(),
  hint: z.object({ what: z.string(), check: z.array(z.string()) }).nullable(),
});
export type CertificateDetail = z.infer<typeof certificateDetailSchema>;

export const certificatePageSchema = z.object({
  certificates: z.array(certificateSchema),
  nextCursor: z.string().nullable(),
});

export const tcpPortSchema = z.looseObject({
  publicPort: z.number(),
  /** Null: the app's `port`. */
  targetPort: z.number().nullable(),
  tls: z.boolean(),
  /** The deployer's view of the proxy (`starting`, `running`, `failed`); absent from an older api. */
  status: z.string().optional(),
  error: z.object({ reason: z.string(), message: z.string() }).nullable().optional(),
});
export type TcpPortView = z.infer<typeof tcpPortSchema>;

export const appSchema = z.looseObject({
  name: z.string(),
  image: z.string(),
  port: z.number(),
  www: z.string(),
  domains: z.array(
    z.object({
      url: z.string(),
      hostname: z.string(),
      https: z.boolean(),
      challenge: z.string(),
      // Optional so the CLI still reads an api from before certificate modes.
      mode: z.string().optional(),
      /** Absent from an older api. */
      profile: z.string().nullable().optional(),
    }),
  ),
  container: z.object({ state: z.string() }).loose().nullable(),
  certificates: z.array(z.object({ id: z.string(), status: z.string() })),
  /** TCP proxies; absent from an api before them. */
  tcp: z.array(tcpPortSchema).optional(),
});
export type AppView = z.infer<typeof appSchema>;
export const appPageSchema = z.object({ apps: z.array(appSchema), nextCursor: z.string().nullable() });

/** Parses an API answer; a shape the CLI cannot read means the api and CLI versions differ. */
export function parseAnswer<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new Error(
      `the api answered ${what} in a shape this CLI does not know: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}
