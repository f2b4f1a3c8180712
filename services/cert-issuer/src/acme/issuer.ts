import type { KeyType } from '@gatehouse/events';
import type { Challenge } from 'acme-client/types/rfc8555.js';

export type ChallengeType = 'http-01' | 'dns-01';
export type { KeyType };

/**
 * Answers one kind of ACME challenge; `cleanup` MUST run after `present`, also on failure.
 * `keyAuthorization` is what to publish: the key authorization itself for HTTP-01, its base64url
 * SHA-256 digest (the TXT value) for DNS-01 (RFC 8555 §8.3, §8.4).
 */
export interface ChallengeSolver {
  readonly type: ChallengeType;
  present(name: string, token: string, keyAuthorization: string): Promise<void>;
  cleanup(name: string, token: string, keyAuthorization: string): Promise<void>;
}

/** Where an order stands, persisted by the caller so a crash resumes instead of re-ordering. */
export interface OrderCheckpoint {
  orderUrl: string;
  /** PEM of the certificate key, saved before finalize so a resumed finalize uses the same key. */
  keyPem?: string | undefined;
}

export interface IssueRequest {
  names: string[];
  keyType: KeyType;
  solver: ChallengeSolver;
  /** An order already placed for these names at this CA (from a crashed earlier run). */
  resume?: OrderCheckpoint | undefined;
  /** Persists progress; called when the order is created and when its key is made. */
  checkpoint(progress: OrderCheckpoint): Promise<void>;
  /**
   * The ARI identifier (RFC 9773 §4.1, see `ariCertId`) of the certificate this order renews. The
   * caller MUST pass it only for a certificate from this issuer's directory and account. Sent as the
   * order's `replaces` when the CA's directory offers `renewalInfo`; when the CA rejects the order
   * over `replaces`, the order is placed once more without it.
   */
  replaces?: string | undefined;
  /**
   * The certificate profile to ask for (draft-ietf-acme-profiles: Let's Encrypt's `classic`, `tlsserver`,
   * `shortlived`). Sent as the order's `profile` only when the CA's directory lists it in `meta.profiles`; an
   * order the CA refuses with `invalidProfile` is placed once more without it (the CA's default profile).
   */
  profile?: string | undefined;
  /** Called before each ACME request, for the caller's per-account request throttle. */
  beforeRequest?: () => Promise<void>;
}

export interface IssuedCertificate {
  /** Leaf first, then intermediates. */
  chainPem: string;
  keyPem: string;
  orderUrl: string;
  accountUrl: string;
  /** The ARI identifier the order carried as `replaces` (undefined: none was sent, or the CA refused it). */
  replaced?: string | undefined;
  /** The profile the order carried (undefined: the CA's default). */
  profile?: string | undefined;
}

export interface CaFacts {
  directoryUrl: string;
  /** Domains that CAA records must name to permit this CA (directory `meta.caaIdentities`). */
  caaIdentities: string[];
  /** Whether the CA offers ARI (RFC 9773). */
  renewalInfo: boolean;
  /** Profile names the CA offers (directory `meta.profiles`, draft-ietf-acme-profiles); empty when none. */
  profiles: string[];
}

/**
 * The ACME protocol behind two methods, so policy (whether, when, which CA, retries) never touches
 * protocol details. Implementations throw `IssueError` with a classified kind.
 */
export interface Issuer {
  readonly directoryUrl: string;
  facts(): Promise<CaFacts>;
  issue(request: IssueRequest): Promise<IssuedCertificate>;
}

export type { Challenge };
