import { explainErrorKind } from '@gatehouse/events';

export interface AttemptLine {
  at: Date;
  challenge: string | null;
  outcome: string;
  errorKind: string | null;
  errorMessage: string | null;
}

export interface Mail {
  subject: string;
  body: string;
}

const list = (names: readonly string[]) => names.map((name) => `  ${name}`).join('\n');
const utc = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
const footer = (certificateId: string) =>
  `\n--\nCertificate ${certificateId}: GET /v1/certificates/${certificateId} shows its state and every attempt.\n`;

function attemptsBlock(attempts: readonly AttemptLine[]): string {
  if (attempts.length === 0) return '';
  const lines = attempts.map(
    (attempt) =>
      `  ${utc(attempt.at)}  ${attempt.challenge ?? '-'}  ${attempt.outcome}${attempt.errorKind ? ` (${attempt.errorKind})` : ''}${attempt.errorMessage ? `: ${attempt.errorMessage}` : ''}`,
  );
  return `\nLast attempts:\n${lines.join('\n')}\n`;
}

export interface FailureFacts {
  certificateId: string;
  names: readonly string[];
  errorKind: string;
  errorMessage: string;
  retryAt: Date | null;
  /** The certificate still being served, if any (a renewal failed; the site keeps working until then). */
  servingUntil: Date | null;
  attempts: readonly AttemptLine[];
}

function failureText(facts: FailureFacts): string {
  const explanation = explainErrorKind(facts.errorKind);
  const next = facts.retryAt
    ? `Gatehouse tries again at ${utc(facts.retryAt)}, and on its retry ladder after that (for up to 30 days).`
    : `No further attempt is scheduled: fix the cause, then renew with POST /v1/certificates/${facts.certificateId}/renew.`;
  const serving = facts.servingUntil
    ? `The current certificate stays in use until it expires at ${utc(facts.servingUntil)}; after that a fallback certificate is served.`
    : 'These names have no certificate yet; browsers get a fallback certificate meanwhile.';
  return `What failed: ${explanation.what}.
The error: ${facts.errorMessage}

What to check:
${explanation.check.map((item) => `  - ${item}`).join('\n')}

${next}
${serving}
${attemptsBlock(facts.attempts)}`;
}

export function issueFailedMail(facts: FailureFacts): Mail {
  const action = facts.servingUntil ? 'renew' : 'obtain';
  return {
    subject: `Gatehouse could not ${action} the certificate for ${facts.names[0]}${facts.names.length > 1 ? ` (+${facts.names.length - 1})` : ''}`,
    body: `Gatehouse could not ${action} the certificate for:\n${list(facts.names)}\n\n${failureText(facts)}${footer(facts.certificateId)}`,
  };
}

export function reminderMail(facts: FailureFacts & { since: Date; reminder: number }): Mail {
  const action = facts.servingUntil ? 'renewed' : 'obtained';
  return {
    subject: `Reminder ${facts.reminder}: the certificate for ${facts.names[0]} still cannot be ${action}`,
    body: `Since ${utc(facts.since)} Gatehouse has not ${action} the certificate for:\n${list(facts.names)}\n\n${failureText(facts)}${footer(facts.certificateId)}`,
  };
}

export function expiringMail(facts: {
  certificateId: string;
  names: readonly string[];
  notAfter: Date;
  source: string;
}): Mail {
  const days = Math.max(0, Math.floor((facts.notAfter.getTime() - Date.now()) / 86_400_000));
  const what =
    facts.source === 'custom'
      ? 'It was uploaded, so Gatehouse does not renew it: upload a replacement with POST /v1/certificates.'
      : 'Its renewal has been failing (earlier mails say why); Gatehouse keeps trying.';
  return {
    subject: `The certificate for ${facts.names[0]} expires in ${days} day${days === 1 ? '' : 's'}`,
    body: `The certificate for:\n${list(facts.names)}\nexpires at ${utc(facts.notAfter)}.\n\n${what}\n${footer(facts.certificateId)}`,
  };
}

export function fallbackMail(facts: {
  certificateId: string;
  names: readonly string[];
  fallback: string;
  reason: string;
}): Mail {
  const served =
    facts.fallback === 'custom-wildcard'
      ? "the operator's fallback wildcard certificate"
      : 'a self-signed certificate (browsers will warn)';
  const why =
    facts.reason === 'expired'
      ? 'The certificate expired without a successful renewal.'
      : 'No certificate could be obtained after many reminders.';
  return {
    subject: `Fallback certificate now served for ${facts.names[0]}`,
    body: `${why}\nGatehouse now serves ${served} for:\n${list(facts.names)}\nso the sites keep answering over HTTPS. The real certificate replaces it the moment a renewal succeeds; earlier mails say what to fix.\n${footer(facts.certificateId)}`,
  };
}

export function recoveredMail(facts: {
  certificateId: string;
  names: readonly string[];
  since: Date;
  notAfter: Date;
}): Mail {
  return {
    subject: `Certificate for ${facts.names[0]} is working again`,
    body: `A new certificate was issued for:\n${list(facts.names)}\nafter failures since ${utc(facts.since)}. It is valid until ${utc(facts.notAfter)} and is now served; any fallback is gone.\n${footer(facts.certificateId)}`,
  };
}

export function digestMail(items: ReadonlyArray<{ kind: string; subject: string; createdAt: Date }>): Mail {
  const lines = items.map((item) => `  ${utc(item.createdAt)}  [${item.kind}] ${item.subject}`);
  return {
    subject: `Gatehouse: ${items.length} certificate notifications`,
    body: `Many certificates changed state at once, so here they are in one mail instead of ${items.length}:\n\n${lines.join('\n')}\n\nGET /v1/notifications has each one in full; GET /v1/certificates?status=failed lists what is failing.\n`,
  };
}

export interface TcpProxyFailureFacts {
  appName: string;
  publicPort: number;
  reason: 'port-in-use' | 'proxy-failed';
  message: string;
}

/** A TCP proxy of an app cannot serve its public port (deployments.tcp-proxy-failed). */
export function tcpProxyFailedMail(facts: TcpProxyFailureFacts): Mail {
  const check =
    facts.reason === 'port-in-use'
      ? [
          `which process holds the port on the Docker host: ss -ltnp 'sport = :${facts.publicPort}'`,
          'stop that process, or give the app another public port (PATCH /v1/apps/{name} with tcp)',
        ]
      : [
          `the proxy container's log: docker logs <stack>-tcp-proxy-${facts.publicPort}`,
          'TCP_PROXY_IMAGE and the directories TCP_PROXY_DYNAMIC_DIR / TCP_PROXY_CERTS_DIR on the deployer',
        ];
  return {
    subject: `Gatehouse cannot serve TCP port ${facts.publicPort} of app ${facts.appName}`,
    body: `Clients of app ${facts.appName} cannot connect on port ${facts.publicPort}: its TCP proxy is not running.
The error: ${facts.message}

What to check:
${check.map((item) => `  - ${item}`).join('\n')}

Gatehouse keeps retrying; the proxy serves the port as soon as it can, and the app shows the port as running again
(GET /v1/apps/${facts.appName}, tcp[].status).
--
App ${facts.appName}: GET /v1/apps/${facts.appName} shows each TCP port's status.
`,
  };
}
