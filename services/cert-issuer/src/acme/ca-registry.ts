import type { AcmeHttpClient } from '@gatehouse/acme-http';
import type { Db } from '@gatehouse/db';
import type { SecretBox } from '@gatehouse/pki';
import {
  type AcmeAccount,
  type ExternalAccountBinding,
  ensureAccount,
  forgetAccount,
} from './account-store.ts';
import { createAcmeIssuer } from './acme-issuer.ts';
import type { Issuer } from './issuer.ts';

export interface CaRegistryOptions {
  db: Db;
  box: SecretBox;
  /** The shared ACME HTTP client (`configureAcmeHttp`). */
  http: AcmeHttpClient;
  email: string;
  /** EAB credentials by directory URL. */
  eab: Record<string, ExternalAccountBinding>;
  preferredChain?: string | undefined;
}

/**
 * One issuer per CA directory, each with the account every replica shares. `forgetAccount` drops a
 * stored account the CA no longer knows (a test CA restarted, an account deactivated), so the
 * next attempt registers anew.
 */
export function createCaRegistry(options: CaRegistryOptions) {
  const issuers = new Map<string, Promise<{ issuer: Issuer; account: AcmeAccount }>>();

  function load(directoryUrl: string) {
    let entry = issuers.get(directoryUrl);
    if (!entry) {
      entry = ensureAccount({
        db: options.db,
        box: options.box,
        directoryUrl,
        email: options.email,
        eab: options.eab[directoryUrl],
      }).then((account) => ({
        account,
        issuer: createAcmeIssuer({ account, http: options.http, preferredChain: options.preferredChain }),
      }));
      // A failed registration (CA down) is not cached: the next attempt tries again.
      entry.catch(() => issuers.delete(directoryUrl));
      issuers.set(directoryUrl, entry);
    }
    return entry;
  }

  return {
    async issuerFor(directoryUrl: string) {
      const { issuer, account } = await load(directoryUrl);
      return { issuer, accountId: account.id, accountUrl: account.accountUrl };
    },
    async forgetAccount(directoryUrl: string) {
      issuers.delete(directoryUrl);
      await forgetAccount(options.db, directoryUrl, options.email);
    },
  };
}
