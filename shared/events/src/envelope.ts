import { randomUUID } from 'node:crypto';
import { z } from 'zod';

/**
 * The wire form of every event (CloudEvents-like). `data` is validated separately by the contract
 * named by `type`, so an envelope can be routed and recorded even when its data is bad.
 */
export const envelopeSchema = z.object({
  /** Unique id (UUID); also the JetStream `Nats-Msg-Id`, so a republished event is dropped as a duplicate. */
  id: z.uuid(),
  /** Contract name, `<domain>.<past-tense-event>`, with `.v2`… appended for breaking revisions. */
  type: z.string().regex(/^[a-z]+\.[a-z-]+(\.v\d+)?$/),
  /** Contract revision; additive changes keep the number, breaking ones get a new type. */
  version: z.number().int().positive(),
  /** Service that produced it, e.g. `api`. */
  source: z.string().min(1),
  /** When it was produced (ISO 8601, UTC). */
  time: z.iso.datetime(),
  /** What it is about (an app or certificate id); events with the same subject keep their order. */
  subject: z.string().min(1),
  data: z.unknown(),
});
export type Envelope<Data = unknown> = Omit<z.infer<typeof envelopeSchema>, 'data'> & { data: Data };

/** A named, versioned event schema: the single definition both producer and consumer validate with. */
export interface EventContract<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly version: number;
  readonly data: z.ZodType<Data>;
}

export function defineEvent<const Type extends string, Data>(
  type: Type,
  version: number,
  data: z.ZodType<Data>,
): EventContract<Type, Data> {
  return { type, version, data };
}

export type EventData<Contract> = Contract extends EventContract<string, infer Data> ? Data : never;

/** Builds a valid envelope; the data is validated now so a bad event never reaches the outbox. */
export function createEvent<Data>(
  contract: EventContract<string, Data>,
  fields: { source: string; subject: string; data: Data; id?: string; time?: Date },
): Envelope<Data> {
  return {
    id: fields.id ?? randomUUID(),
    type: contract.type,
    version: contract.version,
    source: fields.source,
    time: (fields.time ?? new Date()).toISOString(),
    subject: fields.subject,
    data: contract.data.parse(fields.data),
  };
}

/** One line per problem (`path: message`), for dead-letter reasons and API errors. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
