import { z } from 'zod';
import { type FieldError, fieldPath } from '../http/field-errors.ts';

/**
 * TCP proxies an app declares (issue 15, item 4; Coolify's database proxies): each `publicPort` gets a Traefik
 * instance of its own that forwards to the app's container on `targetPort` (default: the app's `port`), plain
 * or terminating TLS with the app's certificate.
 */
export interface TcpPortSpec {
  publicPort: number;
  /** Null: the app's own `port`. */
  targetPort: number | null;
  /** Terminate TLS with the app's certificate, routing by SNI on its https domains. */
  tls: boolean;
}

/**
 * Each entry is a container of its own on the Docker host and a listening port: a handful per app (a database
 * and its replica, an admin port) is the use; more is a mistake or abuse.
 */
export const maxTcpPortsPerApp = 16;

const tcpPortNumber = z
  .number()
  .int('must be a whole number')
  .min(1, 'must be between 1 and 65535')
  .max(65535, 'must be between 1 and 65535');

export const tcpPortEntrySchema = z.strictObject({
  publicPort: tcpPortNumber,
  targetPort: tcpPortNumber
    .optional()
    .meta({ description: "The container's port to forward to; default: the app's `port`" }),
  tls: z.boolean().optional().meta({
    description: "Terminate TLS with the app's certificate (HostSNI on its https domains); false: plain TCP",
  }),
});

export const tcpPortsSchema = z
  .array(tcpPortEntrySchema)
  .max(maxTcpPortsPerApp, `an app exposes at most ${maxTcpPortsPerApp} TCP ports`)
  .meta({
    description:
      'TCP proxies (databases): each public port gets a Traefik instance of its own that forwards to the container. Ports 80, 443, the api port and TCP_RESERVED_PORTS are refused; a public port another app holds is a 409; `tls` needs an https domain (its certificate is served, routed by SNI). A PATCH replaces the whole list.',
  });

/**
 * Ports no app may take, with the reason shown to the operator: Traefik's entry points (80, 443), the api's own
 * port, and the operator's list (TCP_RESERVED_PORTS: other ports the host publishes).
 */
export function reservedTcpPorts(options: {
  apiPort?: number | undefined;
  extra?: readonly number[] | undefined;
}): ReadonlyMap<number, string> {
  const reserved = new Map<number, string>();
  for (const port of options.extra ?? []) reserved.set(port, 'it is listed in TCP_RESERVED_PORTS');
  if (options.apiPort !== undefined)
    reserved.set(options.apiPort, "it is the Gatehouse api's port (API_LISTEN)");
  reserved.set(80, "it is Traefik's HTTP entry point (web), which also answers ACME HTTP-01 challenges");
  reserved.set(443, "it is Traefik's HTTPS entry point (websecure)");
  return reserved;
}

/** The default when the api is given no configuration (tests, tools): Traefik's entry points only. */
export const traefikReservedPorts = reservedTcpPorts({});

/**
 * Normalises parsed entries and reports reserved and repeated public ports, each on its own field. Called only
 * on entries the schema accepted.
 */
export function checkTcpPorts(
  entries: ReadonlyArray<z.output<typeof tcpPortEntrySchema>>,
  reserved: ReadonlyMap<number, string>,
  errors: FieldError[],
): TcpPortSpec[] {
  const seen = new Map<number, number>();
  const ports: TcpPortSpec[] = [];
  entries.forEach((entry, index) => {
    const field = fieldPath(['tcp', index, 'publicPort']);
    const reason = reserved.get(entry.publicPort);
    if (reason !== undefined) {
      errors.push({ field, message: `port ${entry.publicPort} is reserved: ${reason}; choose another port` });
      return;
    }
    const earlier = seen.get(entry.publicPort);
    if (earlier !== undefined) {
      errors.push({ field, message: `port ${entry.publicPort} is already listed as tcp[${earlier}]` });
      return;
    }
    seen.set(entry.publicPort, index);
    ports.push({
      publicPort: entry.publicPort,
      targetPort: entry.targetPort ?? null,
      tls: entry.tls ?? false,
    });
  });
  return ports;
}

/**
 * A TLS entry needs a certificate: the app's, which exists only for its https domains. Returns one error per
 * TLS entry when the app has none.
 */
export function tlsWithoutCertificate(ports: readonly TcpPortSpec[], hasHttpsDomain: boolean): FieldError[] {
  if (hasHttpsDomain) return [];
  return ports.flatMap((port, index) =>
    port.tls
      ? [
          {
            field: fieldPath(['tcp', index, 'tls']),
            message: `port ${port.publicPort} terminates TLS with the app's certificate, but the app has no https:// domain; add one or drop tls`,
          },
        ]
      : [],
  );
}
