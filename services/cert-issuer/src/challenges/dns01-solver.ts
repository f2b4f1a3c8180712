import type { Logger } from '@gatehouse/telemetry';
import { IssueError } from '../acme/issue-error.ts';
import type { ChallengeSolver } from '../acme/issuer.ts';
import { type ChallengeAliases, type ChallengeRecord, locateChallengeRecord } from './challenge-record.ts';
import type { DnsLookup } from './dns-lookup.ts';
import { isDnsProviderError } from './dns-provider-error.ts';
import type { DnsProviderRegistry, ZoneProvider } from './dns-provider-registry.ts';
import { type PropagationOptions, PropagationTimeoutError, waitForTxtOnNameservers } from './propagation.ts';

/** A DNS-01 solver that can also tell, before an order, whether it can serve the names at all. */
export interface Dns01Solver extends ChallengeSolver {
  readonly type: 'dns-01';
  /** Whether every name's challenge record lands in a zone some provider serves (for `auto`). */
  covers(names: readonly string[]): Promise<boolean>;
  /**
   * Before an order is placed: finds each record's provider and proves its credentials, so a wrong secret
   * costs no order (and no failed authorization) at the CA. Throws a classified IssueError.
   */
  prepare(names: readonly string[]): Promise<void>;
}

export interface Dns01SolverOptions {
  registry: DnsProviderRegistry;
  lookup: DnsLookup;
  aliases?: ChallengeAliases;
  propagation: Omit<PropagationOptions, 'signal'>;
  logger?: Logger | undefined;
}

interface Placed {
  record: ChallengeRecord;
  zoneProvider: ZoneProvider;
}

/**
 * DNS-01 through the registered providers: the record is located (CNAME delegation, alias), written by the
 * provider of the zone it lands in, and the CA is told only once every authoritative nameserver serves it.
 * A record written is removed again whatever happens next (the issuer calls `cleanup` in a finally; a
 * failure between writing and returning is cleaned up here).
 */
export function createDns01Solver(options: Dns01SolverOptions): Dns01Solver {
  const placed = new Map<string, Placed>();

  async function locate(name: string): Promise<Placed> {
    let record: ChallengeRecord;
    try {
      record = await locateChallengeRecord(name, options.lookup, options.aliases);
    } catch (error) {
      throw new IssueError(
        'dns',
        `cannot find where the DNS-01 record of ${name} goes: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const zoneProvider = await options.registry.providerFor(record.target);
    if (!zoneProvider) {
      const where =
        record.via === 'direct' ? record.target : `${record.target} (${record.via} of ${record.recordName})`;
      throw new IssueError(
        'preflight',
        `no DNS provider is registered for the zone of ${where}: add one with POST /v1/dns-providers, or use HTTP-01 for ${name}`,
      );
    }
    return { record, zoneProvider };
  }

  function classify(error: unknown, { record, zoneProvider }: Placed, action: string): IssueError {
    if (error instanceof IssueError) return error;
    const zone = zoneProvider.zone ? ` for zone ${zoneProvider.zone}` : '';
    const prefix = `the ${zoneProvider.provider.kind} DNS provider${zone} could not ${action} ${record.target}`;
    if (isDnsProviderError(error)) {
      const kind = error.code === 'auth' || error.code === 'refused' ? 'dns-provider-auth' : 'dns';
      return new IssueError(kind, `${prefix}: ${error.message}`, { cause: error });
    }
    return new IssueError('dns', `${prefix}: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
    });
  }

  async function removeRecord(target: Placed, value: string): Promise<void> {
    // One retry: a record left behind is harmless to the CA but clutters the zone, so try hard, then say so.
    for (let attempt = 1; ; attempt++) {
      try {
        await target.zoneProvider.provider.cleanup(target.record.target, value);
        return;
      } catch (error) {
        if (attempt >= 2) {
          options.logger?.warn(
            { record: target.record.target, err: (error as Error).message },
            'DNS-01 record could not be removed',
          );
          return;
        }
      }
    }
  }

  const key = (name: string, value: string) => `${name}\n${value}`;

  return {
    type: 'dns-01',
    async covers(names) {
      try {
        await Promise.all(names.map((name) => locate(name)));
        return true;
      } catch {
        return false;
      }
    },
    async prepare(names) {
      const targets = await Promise.all(names.map((name) => locate(name)));
      const verified = new Set<string>();
      for (const target of targets) {
        const { provider } = target.zoneProvider;
        const id = `${target.zoneProvider.zone}\n${target.record.target}`;
        if (!provider.verify || verified.has(id)) continue;
        verified.add(id);
        try {
          await provider.verify(target.record.target);
        } catch (error) {
          throw classify(error, target, 'be used to write');
        }
      }
    },
    async present(name, _token, value) {
      const target = await locate(name);
      const { record, zoneProvider } = target;
      if (record.via !== 'direct')
        options.logger?.info(
          { record: record.recordName, target: record.target, via: record.via },
          'DNS-01 record delegated',
        );
      try {
        await zoneProvider.provider.present(record.target, value);
      } catch (error) {
        throw classify(error, target, 'write');
      }
      placed.set(key(name, value), target);
      if (!zoneProvider.checkPropagation) return;
      try {
        const zone = (await options.lookup.zoneOf(record.target).catch(() => undefined)) ?? zoneProvider.zone;
        if (!zone) return;
        await waitForTxtOnNameservers(options.lookup, zone, record.target, value, options.propagation);
      } catch (error) {
        // The issuer cleans up only after a successful present: this record is ours to remove.
        placed.delete(key(name, value));
        await removeRecord(target, value);
        if (error instanceof PropagationTimeoutError)
          throw new IssueError('dns', error.message, { cause: error });
        throw classify(error, target, 'confirm');
      }
    },
    async cleanup(name, _token, value) {
      const target = placed.get(key(name, value)) ?? (await locate(name).catch(() => undefined));
      placed.delete(key(name, value));
      if (target) await removeRecord(target, value);
    },
  };
}
