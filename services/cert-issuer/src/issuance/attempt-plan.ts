import { isIP } from 'node:net';
import { assertNever } from '@gatehouse/runtime';
import type { IssueErrorKind } from '../acme/issue-error.ts';
import type { ChallengeType } from '../acme/issuer.ts';

/** One try within a round: which CA, which challenge type, and whether it is the quick retry. */
export interface AttemptStep {
  directoryUrl: string;
  challenge: ChallengeType;
  quickRetry: boolean;
}

/**
 * The order of tries in one round, as Caddy does it: for each CA in fallback order, the first
 * challenge type, once more soon, then the other challenge types; then the next CA.
 */
export function planRound(
  directoryUrls: readonly string[],
  challenges: readonly ChallengeType[],
): AttemptStep[] {
  const steps: AttemptStep[] = [];
  for (const directoryUrl of directoryUrls) {
    challenges.forEach((challenge, index) => {
      steps.push({ directoryUrl, challenge, quickRetry: false });
      if (index === 0) steps.push({ directoryUrl, challenge, quickRetry: true });
    });
  }
  return steps;
}

export type StepDecision =
  /** Stop the round: retrying cannot help (the CA refuses these names). */
  | 'abandon'
  /** Skip the rest of this CA's steps (it is unreachable or rate-limits us); go to the next CA. */
  | 'next-ca'
  /** Go on with the next step. */
  | 'continue';

/** What a failure of a given kind means for the rest of the round. */
export function decideAfterFailure(kind: IssueErrorKind, step: AttemptStep): StepDecision {
  switch (kind) {
    case 'policy':
      return 'abandon';
    case 'rate-limited':
    case 'dns-provider-auth':
      return 'next-ca';
    case 'connection':
    case 'ca-server':
      // The challenge type is irrelevant when the CA itself fails: one quick retry, then move on.
      return step.quickRetry ? 'next-ca' : 'continue';
    case 'validation':
    case 'dns':
    case 'preflight':
    case 'internal':
      return 'continue';
    default:
      return assertNever(kind, 'error kind');
  }
}

/**
 * Challenge types to use, in order. Wildcards can only be proven by DNS-01, IP addresses never by it
 * (RFC 8738 §7: there is no DNS name to put a TXT record under); `auto` tries HTTP-01 first and DNS-01
 * when a DNS provider is configured.
 */
export function challengeOrder(
  names: readonly string[],
  preference: 'http-01' | 'dns-01' | 'auto',
  dnsProviderAvailable: boolean,
): ChallengeType[] | { error: string } {
  const wildcard = names.some((name) => name.startsWith('*.'));
  if (names.some((name) => isIP(name) !== 0)) {
    if (wildcard || preference === 'dns-01')
      return {
        error:
          'IP addresses can only be validated by HTTP-01; put them on a domain whose challenge is http-01',
      };
    return ['http-01'];
  }
  if (wildcard || preference === 'dns-01') {
    return dnsProviderAvailable
      ? ['dns-01']
      : {
          error: `${wildcard ? 'wildcard names need' : 'this domain asks for'} DNS-01, and no DNS provider is configured`,
        };
  }
  if (preference === 'http-01') return ['http-01'];
  return dnsProviderAvailable ? ['http-01', 'dns-01'] : ['http-01'];
}
