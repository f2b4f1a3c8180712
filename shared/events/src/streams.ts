/**
 * One JetStream stream per event domain; a stream captures `<domain>.>`. This module is the only
 * place stream and subject names are spelled.
 */
export const eventDomains = ['apps', 'deployments', 'certs', 'routes', 'notifications'] as const;
export type EventDomain = (typeof eventDomains)[number];

export interface StreamDefinition {
  name: string;
  subjects: string[];
}

/** `prefix` isolates test runs sharing one NATS server; production uses none. */
export function streamFor(domain: EventDomain, prefix = ''): StreamDefinition {
  return {
    name:
      prefix === ''
        ? domain.toUpperCase()
        : `${prefix.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}_${domain.toUpperCase()}`,
    subjects: [`${subjectPrefix(prefix)}${domain}.>`],
  };
}

export function allStreams(prefix = ''): StreamDefinition[] {
  return eventDomains.map((domain) => streamFor(domain, prefix));
}

/** The NATS subject an event type is published on. */
export function subjectForType(type: string, prefix = ''): string {
  return `${subjectPrefix(prefix)}${type}`;
}

export function domainOfType(type: string): EventDomain {
  const domain = type.split('.')[0];
  const known = eventDomains.find((candidate) => candidate === domain);
  if (!known) throw new Error(`event type ${type} belongs to no known domain (${eventDomains.join(', ')})`);
  return known;
}

function subjectPrefix(prefix: string): string {
  return prefix === '' ? '' : `${prefix}.`;
}
