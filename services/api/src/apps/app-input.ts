import { challengePreferenceSchema, type KeyType, keyTypeSchema, wwwModeSchema } from '@gatehouse/events';
import { z } from 'zod';
import { type FieldError, fieldPath, plainErrorMap, zodFieldErrors } from '../http/field-errors.ts';
import {
  type ChallengePreference,
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

export const appNetworks = ['shared', 'isolated'] as const;
export type AppNetwork = (typeof appNetworks)[number];
/** Defaults for a small web app; the operator raises them per app. */
export const appLimitDefaults = { memoryMb: 512, pidsLimit: 256 } as const;
export type CreateAppInput = AppSpecInput & { name: string };
export type PatchAppInput = Partial<AppSpecInput>;

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

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
const imageSchema = z.string().superRefine((image, ctx) => {
  const reason = describeBadImageReference(image);
  if (reason !== undefined) ctx.addIssue({ code: 'custom', message: reason });
});
const portSchema = z
  .number()
  .int('must be a whole number')
  .min(1, 'must be between 1 and 65535')
  .max(65535, 'must be between 1 and 65535');
const commandSchema = z.array(z.string()).nullable();
const memorySchema = z
  .number()
  .int('must be a whole number of MiB')
  .min(16, 'must be at least 16 (MiB)')
  .max(1_048_576, 'must be at most 1048576 (MiB, 1 TiB)');
const pidsSchema = z
  .number()
  .int('must be a whole number')
  .min(8, 'must be at least 8 processes')
  .max(65_536, 'must be at most 65536 processes');
const networkSchema = z.enum(appNetworks, { error: `must be one of ${appNetworks.join(', ')}` });
const keyTypeInputSchema = z.enum(keyTypeSchema.options, {
  error: `must be one of ${keyTypeSchema.options.join(', ')}`,
});
const wwwSchema = z.enum(wwwModeSchema.options, {
  error: `must be one of ${wwwModeSchema.options.join(', ')}`,
});

const specShape = {
  image: imageSchema,
  port: portSchema,
  // Checked field by field below, so every bad entry gets its own message.
  domains: z.array(z.unknown()),
  env: z.record(z.string(), z.unknown()),
  command: commandSchema,
  www: wwwSchema,
  memoryMb: memorySchema,
  pidsLimit: pidsSchema,
  network: networkSchema,
  keyType: keyTypeInputSchema,
  tcp: tcpPortsSchema,
};
const createSchema = z.strictObject({
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
const patchSchema = z.strictObject(specShape).partial();

/**
 * Validates a `POST /v1/apps` body; every bad field is reported, not only the first. `reservedPorts`: public TCP
 * ports no app may take, with the reason (see reservedTcpPorts).
 */
export function parseCreateApp(
  body: unknown,
  reservedPorts: ReadonlyMap<number, string> = traefikReservedPorts,
): Parsed<CreateAppInput> {
  const shape = createSchema.safeParse(body, { error: plainErrorMap });
  const errors = shape.success ? [] : zodFieldErrors(shape.error);
  const raw = isRecord(body) ? body : {};
  const tcp = parseTcp(raw.tcp, reservedPorts, errors) ?? [];
  const www = shape.success ? (shape.data.www ?? 'none') : wwwOrNone(raw.www);
  const domains = Array.isArray(raw.domains) ? parseDomains(raw.domains, www, errors) : [];
  const env = isRecord(raw.env) ? parseEnv(raw.env, errors) : {};
  if (!shape.success || errors.length > 0) return { ok: false, errors: dedupe(errors) };
  return {
    ok: true,
    value: {
      name: shape.data.name,
      image: shape.data.image,
      port: shape.data.port,
      domains,
      env,
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
    return { ok: false, errors: [{ field: 'name', message: 'cannot be changed; create a new app instead' }] };
  }
  const shape = patchSchema.safeParse(body, { error: plainErrorMap });
  const errors = shape.success ? [] : zodFieldErrors(shape.error);
  const raw = isRecord(body) ? body : {};
  if (isRecord(body) && Object.keys(body).length === 0) {
    errors.push({ field: '(body)', message: 'name at least one field to change' });
  }
  const www = raw.www === undefined ? currentWww : wwwOrNone(raw.www);
  const value: PatchAppInput = {};
  if (Array.isArray(raw.domains)) value.domains = parseDomains(raw.domains, www, errors);
  if (isRecord(raw.env)) value.env = parseEnv(raw.env, errors);
  const tcp = parseTcp(raw.tcp, reservedPorts, errors);
  if (tcp !== undefined) value.tcp = tcp;
  if (!shape.success || errors.length > 0) return { ok: false, errors: dedupe(errors) };
  const data = shape.data;
  if (data.image !== undefined) value.image = data.image;
  if (data.port !== undefined) value.port = data.port;
  if (data.command !== undefined) value.command = data.command;
  if (data.www !== undefined) value.www = data.www;
  if (data.memoryMb !== undefined) value.memoryMb = data.memoryMb;
  if (data.pidsLimit !== undefined) value.pidsLimit = data.pidsLimit;
  if (data.network !== undefined) value.network = data.network;
  if (data.keyType !== undefined) value.keyType = data.keyType;
  return { ok: true, value };
}

/** Parses each domain entry, collecting one error per bad entry, duplicates and a too-large name set. */
function parseDomains(entries: readonly unknown[], www: WwwMode, errors: FieldError[]): DomainSpec[] {
  const domains: DomainSpec[] = [];
  if (entries.length > maxDomainsPerApp) {
    errors.push({
      field: 'domains',
      message: `an app has at most ${maxDomainsPerApp} domains (got ${entries.length}); split it into several apps`,
    });
    return domains;
  }
  const seen = new Map<string, number>();
  entries.forEach((entry, index) => {
    const parsed = parseDomainEntry(entry, index);
    if (!parsed.ok) {
      errors.push(parsed.error);
      return;
    }
    const { domain } = parsed;
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
    domains.push(domain);
  });
  const byHostname = new Map(domains.map((domain) => [domain.hostname, domain]));
  for (const domain of domains) {
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
  if (certificateNames(domains, www).length > maxCertificateNames) {
    errors.push({
      field: 'domains',
      message: `one certificate covers at most ${maxCertificateNames} names (www counterparts included); split the app`,
    });
  }
  return domains;
}

function parseDomainEntry(
  entry: unknown,
  index: number,
): { ok: true; domain: DomainSpec } | { ok: false; error: FieldError } {
  let url: unknown = entry;
  let challenge: ChallengePreference = 'auto';
  let path: PropertyKey[] = ['domains', index];
  if (isRecord(entry)) {
    const unknownKey = Object.keys(entry).find((key) => key !== 'url' && key !== 'challenge');
    if (unknownKey !== undefined) {
      return {
        ok: false,
        error: { field: fieldPath([...path, unknownKey]), message: 'is not a known field' },
      };
    }
    url = entry.url;
    path = [...path, 'url'];
    if (entry.challenge !== undefined) {
      const parsedChallenge = challengePreferenceSchema.safeParse(entry.challenge);
      if (!parsedChallenge.success) {
        return {
          ok: false,
          error: {
            field: fieldPath(['domains', index, 'challenge']),
            message: `must be one of ${challengePreferenceSchema.options.join(', ')}`,
          },
        };
      }
      challenge = parsedChallenge.data;
    }
  } else if (typeof entry !== 'string') {
    return {
      ok: false,
      error: {
        field: fieldPath(path),
        message: 'must be a URL string or {url, challenge}, as in "https://shop.example.com"',
      },
    };
  }
  if (typeof url !== 'string') {
    return {
      ok: false,
      error: { field: fieldPath(path), message: url === undefined ? 'is required' : 'must be a string' },
    };
  }
  const parsed = parseDomainUrl(url, challenge);
  if (!parsed.ok) return { ok: false, error: { field: fieldPath(path), message: parsed.reason } };
  return parsed;
}

/**
 * Reserved and repeated public ports of a `tcp` list the schema accepts (its shape errors come from the body's
 * schema); undefined when the list is absent or malformed.
 */
function parseTcp(
  raw: unknown,
  reservedPorts: ReadonlyMap<number, string>,
  errors: FieldError[],
): TcpPortSpec[] | undefined {
  const parsed = tcpPortsSchema.safeParse(raw);
  return parsed.success ? checkTcpPorts(parsed.data, reservedPorts, errors) : undefined;
}

const envKey = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseEnv(env: Record<string, unknown>, errors: FieldError[]): Record<string, string> {
  const parsed: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (!envKey.test(key)) {
      errors.push({
        field: fieldPath(['env', key]),
        message: 'names must be letters, digits and underscores, not starting with a digit',
      });
    } else if (typeof value !== 'string') {
      errors.push({
        field: fieldPath(['env', key]),
        message: 'must be a string (quote numbers and booleans)',
      });
    } else if (value.includes('\0')) {
      errors.push({ field: fieldPath(['env', key]), message: 'must not contain a NUL character' });
    } else {
      parsed[key] = value;
    }
  }
  return parsed;
}

function wwwOrNone(value: unknown): WwwMode {
  const parsed = wwwModeSchema.safeParse(value);
  return parsed.success ? parsed.data : 'none';
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
