import { type AppNetwork, appNetworks } from '@gatehouse/db';
import {
  acmeProfilePattern,
  certificateModeSchema,
  challengePreferenceSchema,
  type KeyType,
  keyTypeSchema,
  wwwModeSchema,
} from '@gatehouse/events';
import { z } from 'zod';
import { type FieldError, fieldPath, plainErrorMap, zodFieldErrors } from '../http/field-errors.ts';
import {
  certificateNames,
  type DomainSpec,
  maxHostnameLength,
  parseDomainUrl,
  type WwwMode,
  wwwCounterpart,
} from './domain-url.ts';
import { describeBadImageReference } from './image-reference.ts';
import { checkTcpPorts, type TcpPortSpec, tcpPortsSchema, traefikReservedPorts } from './tcp-ports.ts';

/** The fields of an app an operator sets; `name` only at creation. */
export interface AppSpecInput {
  image: string;
  port: number;
  domains: DomainSpec[];
  env: Record<string, string>;
  command: string[] | null;
  www: WwwMode;
  /** Container memory limit, MiB. */
  memoryMb: number;
  /** Container process (PID) limit. */
  pidsLimit: number;
  /** `shared`: the apps network; `isolated`: a network of the app's own that only Traefik joins. */
  network: AppNetwork;
  /** The certificate's key: ECDSA P-256 by default, RSA on request (some old clients need it). */
  keyType: KeyType;
  /** TCP proxies, one Traefik instance per public port (see tcp-ports.ts). */
  tcp: TcpPortSpec[];
}

/** Defaults for a small web app; the operator raises them per app. */
export const appLimitDefaults = { memoryMb: 512, pidsLimit: 256 } as const;
export type CreateAppInput = AppSpecInput & { name: string };
export type PatchAppInput = Partial<AppSpecInput>;

/**
 * A parse result. A refusal is `unprocessable` when the input is well-formed and only a domain's certificate
 * mode cannot serve its name (acme for an internal name): a 422, where malformed input is a 400.
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldError[]; unprocessable: boolean };

/** A CA puts at most 100 names on one certificate (Let's Encrypt's limit). */
const maxCertificateNames = 100;
/**
 * Domains per app, http ones included: each becomes a router in the app's Traefik file and rows to check on
 * every request for a name, so a list is bounded like the certificate's names are.
 */
export const maxDomainsPerApp = 250;

const nameSchema = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
    'must be 1–63 lower-case letters, digits or hyphens, not starting or ending with a hyphen, as in shop-2',
  );
const imageSchema = z
  .string()
  .superRefine((image, ctx) => {
    const reason = describeBadImageReference(image);
    if (reason !== undefined) ctx.addIssue({ code: 'custom', message: reason });
  })
  .meta({ description: 'Docker image reference: [registry/][namespace/]name[:tag][@digest]' });
const portSchema = z
  .number()
  .int('must be a whole number')
  .min(1, 'must be between 1 and 65535')
  .max(65535, 'must be between 1 and 65535');
const commandSchema = z
  .array(z.string())
  .nullable()
  .meta({ description: "The container's Cmd; null keeps the image's default" });
const memorySchema = z
  .number()
  .int('must be a whole number of MiB')
  .min(16, 'must be at least 16 (MiB)')
  .max(1_048_576, 'must be at most 1048576 (MiB, 1 TiB)')
  .meta({ description: "The container's memory limit in MiB (swap included); 512 unless given" });
const pidsSchema = z
  .number()
  .int('must be a whole number')
  .min(8, 'must be at least 8 processes')
  .max(65_536, 'must be at most 65536 processes')
  .meta({ description: 'How many processes the container may run; 256 unless given' });
const networkSchema = z.enum(appNetworks, { error: `must be one of ${appNetworks.join(', ')}` }).meta({
  description:
    '`shared` (default): the apps network (DOCKER_NETWORK); `isolated`: a network of its own that only Traefik joins, so other apps cannot reach it',
});
const keyTypeInputSchema = z
  .enum(keyTypeSchema.options, { error: `must be one of ${keyTypeSchema.options.join(', ')}` })
  .meta({
    description:
      "The certificate's key: ECDSA P-256 unless asked otherwise; changing it orders a certificate with the new key type",
  });
const wwwSchema = z
  .enum(wwwModeSchema.options, { error: `must be one of ${wwwModeSchema.options.join(', ')}` })
  .meta({ description: 'What the www counterpart of each domain does; `none` unless given' });
const challengeSchema = z.enum(challengePreferenceSchema.options, {
  error: `must be one of ${challengePreferenceSchema.options.join(', ')}`,
});

const modeSchema = z
  .enum(certificateModeSchema.options, {
    error: `must be one of ${certificateModeSchema.options.join(', ')}`,
  })
  .meta({
    description:
      'How the domain gets its certificate: `acme` (the default for public names), `custom` (waits for an uploaded certificate, never orders), `fallback-only` (the fallback certificate or a self-signed one, never a CA) or `local-ca` (the default for internal names and IP addresses). `acme` for an internal DNS name such as app.internal is refused with 422.',
  });

const profileSchema = z
  .string()
  .regex(
    acmeProfilePattern,
    'must be an ACME profile name the CA offers, such as classic, tlsserver or shortlived',
  )
  .meta({
    description:
      'The ACME certificate profile to order (draft-ietf-acme-profiles: classic, tlsserver, shortlived, …), sent only to a CA that lists it; null or absent: ACME_PROFILE. https:// domains in mode acme only; all https:// domains of an app share it',
  });

/** The `params` of a zod issue that is only a certificate mode refused for its name (a 422, not a 400). */
const modeRefusal = { refusal: 'mode' } as const;

const domainUrlSchema = z
  .string()
  .meta({ description: 'http:// or https:// URL with only a host, as in https://shop.example.com' });
/**
 * One domain: its URL, or `{url, challenge, mode}`. The URL is parsed here (scheme, host, certificate policy) so
 * each bad entry gets its own message on its own path.
 */
const domainEntrySchema = z
  .union(
    [
      domainUrlSchema,
      z.strictObject({
        url: domainUrlSchema,
        challenge: challengeSchema
          .optional()
          .meta({ description: 'How to validate it; `auto` unless given' }),
        mode: modeSchema.optional(),
        profile: profileSchema.nullable().optional(),
      }),
    ],
    { error: 'must be a URL string or {url, challenge, mode, profile}, as in "https://shop.example.com"' },
  )
  .transform((entry, ctx): DomainSpec => {
    const {
      url,
      challenge = 'auto',
      mode,
      profile = null,
    } = typeof entry === 'string' ? { url: entry } : entry;
    const parsed = parseDomainUrl(url, challenge, mode, profile);
    if (parsed.ok) return parsed.domain;
    ctx.addIssue({
      code: 'custom',
      message: parsed.reason,
      path: typeof entry === 'string' ? [] : parsed.kind === 'mode' ? ['mode'] : ['url'],
      ...(parsed.kind === 'mode' ? { params: modeRefusal } : {}),
    });
    return z.NEVER;
  });
const domainsSchema = z
  .array(domainEntrySchema)
  .max(maxDomainsPerApp, `an app has at most ${maxDomainsPerApp} domains; split it into several apps`);

const envKey = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envSchema = z
  .record(
    z.string().regex(envKey, 'names must be letters, digits and underscores, not starting with a digit'),
    z
      .string({ error: 'must be a string (quote numbers and booleans)' })
      .refine((value) => !value.includes('\0'), 'must not contain a NUL character'),
  )
  .meta({ description: "The container's environment; stored sealed, shown masked" });

const specShape = {
  image: imageSchema,
  port: portSchema,
  domains: domainsSchema,
  env: envSchema,
  command: commandSchema,
  www: wwwSchema,
  memoryMb: memorySchema,
  pidsLimit: pidsSchema,
  network: networkSchema,
  keyType: keyTypeInputSchema,
  tcp: tcpPortsSchema,
};

/** `POST /v1/apps`: the validator, and (through OpenAPI) the documented request schema. */
export const createAppSchema = z.strictObject({
  name: nameSchema,
  ...specShape,
  env: specShape.env.optional(),
  command: commandSchema.optional(),
  www: wwwSchema.optional(),
  memoryMb: memorySchema.optional(),
  pidsLimit: pidsSchema.optional(),
  network: networkSchema.optional(),
  keyType: keyTypeInputSchema.optional(),
  tcp: tcpPortsSchema.optional(),
});
/** `PATCH /v1/apps/{name}`: any of the fields (at least one); `name` cannot change. */
export const patchAppSchema = z.strictObject(specShape).partial().meta({ minProperties: 1 });

/**
 * Validates a `POST /v1/apps` body; every bad field is reported, not only the first. `reservedPorts`: public TCP
 * ports no app may take, with the reason (see reservedTcpPorts).
 */
export function parseCreateApp(
  body: unknown,
  reservedPorts: ReadonlyMap<number, string> = traefikReservedPorts,
): Parsed<CreateAppInput> {
  const shape = createAppSchema.safeParse(body, { error: plainErrorMap });
  if (!shape.success) return zodRefusal(shape.error);
  const www = shape.data.www ?? 'none';
  const errors = domainSetErrors(shape.data.domains, www);
  const tcp = checkTcpPorts(shape.data.tcp ?? [], reservedPorts, errors);
  if (errors.length > 0) return { ok: false, errors, unprocessable: false };
  return {
    ok: true,
    value: {
      name: shape.data.name,
      image: shape.data.image,
      port: shape.data.port,
      domains: shape.data.domains,
      env: shape.data.env ?? {},
      command: shape.data.command ?? null,
      www,
      memoryMb: shape.data.memoryMb ?? appLimitDefaults.memoryMb,
      pidsLimit: shape.data.pidsLimit ?? appLimitDefaults.pidsLimit,
      network: shape.data.network ?? 'shared',
      keyType: shape.data.keyType ?? 'ecdsa-p256',
      tcp,
    },
  };
}

/**
 * Validates a `PATCH /v1/apps/{name}` body. `currentWww` is the app's mode, used to check the domains when
 * the body changes them without changing the mode.
 */
export function parsePatchApp(
  body: unknown,
  currentWww: WwwMode,
  reservedPorts: ReadonlyMap<number, string> = traefikReservedPorts,
): Parsed<PatchAppInput> {
  if (isRecord(body) && 'name' in body) {
    return refused({ field: 'name', message: 'cannot be changed; create a new app instead' });
  }
  if (isRecord(body) && Object.keys(body).length === 0) {
    return refused({ field: '(body)', message: 'name at least one field to change' });
  }
  const shape = patchAppSchema.safeParse(body, { error: plainErrorMap });
  if (!shape.success) return zodRefusal(shape.error);
  const { domains, ...rest } = shape.data;
  const errors = domains === undefined ? [] : domainSetErrors(domains, rest.www ?? currentWww);
  const tcp = rest.tcp === undefined ? undefined : checkTcpPorts(rest.tcp, reservedPorts, errors);
  if (errors.length > 0) return { ok: false, errors, unprocessable: false };
  const value: PatchAppInput = {};
  for (const [key, fieldValue] of Object.entries(rest)) {
    if (fieldValue !== undefined && key !== 'tcp') Object.assign(value, { [key]: fieldValue });
  }
  if (domains !== undefined) value.domains = domains;
  if (tcp !== undefined) value.tcp = tcp;
  return { ok: true, value };
}

/**
 * The rules about an app's domains together, under its www mode: no name twice, www counterparts that fit in
 * a DNS name and are https when their pair is, and at most one certificate's worth of names.
 */
function domainSetErrors(domains: readonly DomainSpec[], www: WwwMode): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Map<string, number>();
  domains.forEach((domain, index) => {
    const counterpartName = wwwCounterpart(domain.hostname, www);
    if (counterpartName !== undefined && counterpartName.length > maxHostnameLength) {
      errors.push({
        field: fieldPath(['domains', index]),
        message: `its www counterpart ${counterpartName.slice(0, 24)}… would be longer than ${maxHostnameLength} characters; shorten the name or use www mode none`,
      });
      return;
    }
    const earlier = seen.get(domain.hostname);
    if (earlier !== undefined) {
      errors.push({
        field: fieldPath(['domains', index]),
        message: `${domain.hostname} is already listed as domains[${earlier}]`,
      });
      return;
    }
    seen.set(domain.hostname, index);
  });
  const byHostname = new Map(domains.map((domain) => [domain.hostname, domain]));
  for (const domain of byHostname.values()) {
    if (!domain.https) continue;
    // A www counterpart listed as http:// would need a certificate (it is redirected over TLS) and none at once.
    const counterpart = byHostname.get(wwwCounterpart(domain.hostname, www) ?? '');
    if (counterpart !== undefined && !counterpart.https) {
      errors.push({
        field: 'domains',
        message: `${counterpart.hostname} is http:// but the www mode pairs it with https://${domain.hostname}; use https:// for both`,
      });
    }
  }
  const profiles = [
    ...new Set(
      [...byHostname.values()].flatMap((domain) => (domain.https && domain.profile ? [domain.profile] : [])),
    ),
  ];
  if (profiles.length > 1) {
    errors.push({
      field: 'domains',
      message: `the https:// domains of an app share one certificate, so they need one profile (got ${profiles.join(', ')}); give them the same profile or split the app`,
    });
  }
  if (certificateNames([...byHostname.values()], www).length > maxCertificateNames) {
    errors.push({
      field: 'domains',
      message: `one certificate covers at most ${maxCertificateNames} names (www counterparts included); split the app`,
    });
  }
  return dedupe(errors);
}

function refused(error: FieldError): Parsed<never> {
  return { ok: false, errors: [error], unprocessable: false };
}

/** Zod's refusal: a 422 when every problem is a certificate mode that cannot serve its name, else a 400. */
function zodRefusal(error: z.ZodError): Parsed<never> {
  const unprocessable = error.issues.every(
    (issue) => issue.code === 'custom' && issue.params?.refusal === modeRefusal.refusal,
  );
  return { ok: false, errors: dedupe(zodFieldErrors(error)), unprocessable };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One error per field and message, even when two checks reach the same conclusion. */
function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const key = `${error.field}\0${error.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
