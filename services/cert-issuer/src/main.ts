import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { consumerName, startConsumer } from '@gatehouse/messaging';
import { createSecretBox } from '@gatehouse/pki';
import { closeServer, listen, runService } from '@gatehouse/runtime';
import { configureAcmeHttp } from './acme/acme-http.ts';
import { createCaRegistry } from './acme/ca-registry.ts';
import { createDnsLookup, createResolveHost } from './challenges/dns-lookup.ts';
import { createChalltestsrvProvider } from './challenges/dns-provider.ts';
import { createDnsProviderRegistry } from './challenges/dns-provider-registry.ts';
import { createDns01Solver } from './challenges/dns01-solver.ts';
import { createHttp01Probes, http01ProbeKeyPurpose } from './challenges/http01-probe.ts';
import { createHttp01Responder } from './challenges/http01-responder.ts';
import { createHttp01Solver, pruneExpiredHttp01Tokens } from './challenges/http01-solver.ts';
import { createHttp01TokenCache } from './challenges/http01-token-cache.ts';
import { certIssuerConfigShape } from './config.ts';
import { createBudgets } from './issuance/budgets.ts';
import { issuanceSubscriptions } from './issuance/issuance-consumer.ts';
import { startIssuanceWorker } from './issuance/issuance-worker.ts';
import { defaultRetryLadderMs } from './issuance/retry-ladder.ts';
import { registerRateLimitMetrics } from './metrics.ts';
import { onDemandSettingsOrExit, startOnDemandTls } from './on-demand/start-on-demand.ts';
import { createPreflight } from './preflight-adapter.ts';

await runService({
  name: 'cert-issuer',
  configShape: certIssuerConfigShape,
  defaultHealthPort: 9103,
  async start({ config, runtime, db, nc, js, jsm, logger }) {
    const onDemandSettings = onDemandSettingsOrExit(config);
    const box = createSecretBox(config.GATEHOUSE_MASTER_KEY);
    const acmeHttp = configureAcmeHttp({
      caBundlePem: config.ACME_CA_BUNDLE ? readFileSync(config.ACME_CA_BUNDLE, 'utf8') : undefined,
    });
    const cas = createCaRegistry({
      db,
      box,
      http: acmeHttp,
      email: config.ACME_EMAIL ?? '',
      eab: config.ACME_EAB ?? {},
      preferredChain: config.ACME_PREFERRED_CHAIN,
    });
    const dns01 = createDns01Solver({
      registry: createDnsProviderRegistry({
        db,
        box,
        policy: {
          execDir: config.DNS_EXEC_DIR,
          webhookAllow: config.DNS_WEBHOOK_ALLOW,
          resolveHost: config.DNS_RESOLVERS ? createResolveHost(config.DNS_RESOLVERS) : undefined,
        },
        fallback: config.DNS01_PROVIDER
          ? createChalltestsrvProvider(config.DNS01_PROVIDER.slice('challtestsrv:'.length))
          : undefined,
      }),
      lookup: createDnsLookup({ servers: config.DNS_RESOLVERS }),
      aliases: config.DNS01_ALIASES,
      propagation: {
        timeoutMs: config.DNS01_PROPAGATION_TIMEOUT,
        intervalMs: config.DNS01_PROPAGATION_INTERVAL,
        nameserverPort: config.DNS01_NAMESERVER_PORT,
      },
      logger,
    });
    const budgets = createBudgets(db, config.ACME_RATE_LIMITS);
    registerRateLimitMetrics(config.ACME_DIRECTORY_URL, (directoryUrl) => budgets.remaining(directoryUrl));
    // HTTP-01: the solver puts the tokens it presents into the responder's cache (no query for the CA's request
    // to this replica), and the preflight's probes are answered from a key every replica derives alike.
    const http01Tokens = createHttp01TokenCache();
    const http01Probes = createHttp01Probes(box.deriveKey(http01ProbeKeyPurpose));
    const preflight = createPreflight({
      probes: http01Probes,
      mode: config.PREFLIGHT,
      httpPort: config.PREFLIGHT_HTTP_PORT,
      resolvers: config.DNS_RESOLVERS,
      expectedAddresses: config.PUBLIC_IPS,
    });
    const responder = await listen(
      createHttp01Responder(db, { tokens: http01Tokens, probes: http01Probes }),
      config.HTTP01_LISTEN,
      logger,
      'http-01 responder listening',
    );

    // Its cleanups' deletes are coalesced; flushed on stop, once the worker's last order has ended.
    const http01 = createHttp01Solver(db, { tokens: http01Tokens, logger });

    const worker = startIssuanceWorker({
      db,
      logger,
      holder: `${runtime.INSTANCE_NAME ?? hostname()}-${process.pid}`,
      concurrency: config.ISSUANCE_CONCURRENCY,
      leaseMs: config.ISSUANCE_LEASE[0]!,
      pollMs: 250,
      deps: {
        db,
        box,
        logger,
        directoryUrls: config.ACME_DIRECTORY_URL,
        stagingDirectoryUrl: config.ACME_STAGING_DIRECTORY_URL,
        issuerFor: cas.issuerFor,
        forgetAccount: cas.forgetAccount,
        solvers: {
          'http-01': http01,
          'dns-01': dns01,
        },
        preflight,
        reserveOrderBudget: budgets.reserveOrderBudget,
        checkFailedAuthorizationBudget: budgets.checkFailedAuthorizationBudget,
        throttleRequest: budgets.throttleRequest,
        recordFailedAuthorizations: budgets.recordFailedAuthorizations,
        quickRetryDelayMs: config.ISSUANCE_QUICK_RETRY[0]!,
        retryLadderMs: config.ISSUANCE_RETRY_LADDER ?? defaultRetryLadderMs,
        profile: config.ACME_PROFILE,
        source: 'cert-issuer',
      },
    });
    // One shared durable consumer: each request is handled by one replica.
    // On-demand TLS (off unless ON_DEMAND_TLS_LISTEN is set; refuses to start without its ask URL).
    const onDemand = await startOnDemandTls({
      settings: onDemandSettings,
      db,
      box,
      logger,
      wakeIssuer: () => worker.wake(),
    });
    const consumer = await startConsumer({
      nc,
      js,
      jsm,
      db,
      logger,
      name: consumerName('cert-issuer', 'issuance'),
      subscriptions: issuanceSubscriptions(() => worker.wake()),
      // Its handlers only queue jobs through the transaction: a burst of requests (100 apps created at once) is
      // queued a batch per transaction instead of one transaction each.
      batchSize: 32,
    });
    // Housekeeping: the rate-limit ledger and HTTP-01 tokens whose cleanup never ran (a crash).
    const housekeeping = setInterval(async () => {
      try {
        await budgets.prune(config.ACME_DIRECTORY_URL);
        await pruneExpiredHttp01Tokens(db);
      } catch (error) {
        logger.warn({ err: error }, 'housekeeping failed');
      }
    }, 10 * 60_000);
    return {
      async stop() {
        clearInterval(housekeeping);
        await consumer.stop();
        await onDemand?.stop();
        await worker.stop();
        await http01.flush();
        await closeServer(responder);
      },
    };
  },
});
