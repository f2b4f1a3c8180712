import type { AcmeHttpClient } from '@gatehouse/acme-http';
import { sleep } from '@gatehouse/messaging';
import { createCsrPem } from '@gatehouse/pki';
import type { Authorization, Order } from 'acme-client';
import acme from 'acme-client';
import { signWithAccountKeyObject } from './account-key-object.ts';
import type { AcmeAccount } from './account-store.ts';
import { sendAcmeRequestsDirectly } from './acme-http.ts';
import { acmeIdentifierOf } from './acme-identifier.ts';
import { classifyAcmeError, clearLastProblem, lastProblem, runCapturingProblems } from './acme-problem.ts';
import { IssueError } from './issue-error.ts';
import type { CaFacts, IssuedCertificate, IssueRequest, Issuer } from './issuer.ts';
import { generatePrivateKeyPem } from './keys.ts';
import { poolNonces } from './nonce-pool.ts';
import { createValidationEstimate } from './validation-estimate.ts';

const noError = () => undefined;

/**
 * Whether a newOrder failed because of its `replaces` field: `alreadyReplaced` (RFC 9773 §5), or any
 * problem whose detail names `replaces` (CAs answer `malformed` for an identifier they do not accept).
 */
export function isReplacesRejection(error: IssueError): boolean {
  if (error.problemType?.endsWith(':alreadyReplaced')) return true;
  return error.problemType !== undefined && /\breplaces\b/i.test(error.message);
}

/** Whether a newOrder failed because of its `profile` (draft-ietf-acme-profiles `invalidProfile`). */
export function isProfileRejection(error: IssueError): boolean {
  return error.problemType?.endsWith(':invalidProfile') === true;
}

export interface AcmeIssuerOptions {
  account: AcmeAccount;
  /** The shared ACME HTTP client (`configureAcmeHttp`): directory cache and this CA's nonce pool. */
  http: AcmeHttpClient;
  /** Issuer common name of the chain to prefer when the CA offers alternates. */
  preferredChain?: string | undefined;
  /**
   * Polling of pending challenges and processing orders: the first poll at once, then after `pollMinMs`,
   * doubling up to `pollMaxMs`, at most `pollAttempts` polls (the defaults wait ~35 s in all). A short first
   * interval adapts to the CA: a test CA or a fast one answers within a few tens of ms and costs one or two
   * polls; a slow one (Let's Encrypt takes about a second to validate) is asked a handful of times more,
   * read from pooled nonces on a kept-alive connection, which is cheap for both sides. acme-client's 5 s
   * default would add seconds to every order.
   */
  pollMinMs?: number;
  pollMaxMs?: number;
  pollAttempts?: number;
}

/**
 * The only place that speaks ACME (through acme-client). One order: create (or resume) → solve the
 * pending authorizations with the request's solver (already-valid ones are skipped) → finalize with
 * a fresh key → download the chain. Every failure is thrown as a classified `IssueError`.
 */
export function createAcmeIssuer(options: AcmeIssuerOptions): Issuer {
  const { account } = options;
  const directoryUrl = account.directoryUrl;
  const client = new acme.Client({
    directoryUrl,
    accountKey: account.keyPem,
    accountUrl: account.accountUrl,
    backoffMin: options.pollMinMs ?? 10,
    backoffMax: options.pollMaxMs ?? 2_000,
    backoffAttempts: options.pollAttempts ?? 24,
  });
  sendAcmeRequestsDirectly(client); // Before poolNonces, which wraps the request function.
  poolNonces(client, options.http.nonces(directoryUrl));
  signWithAccountKeyObject(client, account.keyPem);
  const validation = createValidationEstimate();
  let factsCache: CaFacts | undefined;

  async function facts(): Promise<CaFacts> {
    if (factsCache) return factsCache;
    const directory = await runCapturingProblems(async () => {
      try {
        return await options.http.directory(directoryUrl);
      } catch (error) {
        throw classifyAcmeError(error);
      }
    });
    factsCache = {
      directoryUrl,
      caaIdentities: directory.meta?.caaIdentities ?? [],
      renewalInfo: typeof directory.renewalInfo === 'string',
      profiles: Object.keys(directory.meta?.profiles ?? {}),
    };
    return factsCache;
  }

  /**
   * Proves one authorization. On success the solver's cleanup is not waited for: it is handed to `cleanups`
   * and runs while the order is finalized (the issue waits for it before it returns); on failure it is
   * waited for here.
   */
  async function solve(
    authorization: Authorization,
    request: IssueRequest,
    cleanups: Array<Promise<{ error: unknown } | undefined>>,
  ): Promise<void> {
    if (authorization.status === 'valid') return; // Reused authorization: nothing to prove.
    const name = authorization.identifier.value;
    const challenge = authorization.challenges.find((candidate) => candidate.type === request.solver.type);
    if (!challenge) {
      throw new IssueError(
        'policy',
        `the CA offers no ${request.solver.type} challenge for ${name} (offered: ${authorization.challenges.map((c) => c.type).join(', ')})`,
      );
    }
    const identifier = authorization.wildcard ? `*.${name}` : name;
    const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
    await request.solver.present(identifier, challenge.token, keyAuthorization);
    const cleanup = () => request.solver.cleanup(identifier, challenge.token, keyAuthorization);
    try {
      await request.beforeRequest?.();
      // A resumed order may find the challenge already submitted: then only wait for its outcome.
      if (challenge.status === 'pending') {
        const submitted = performance.now();
        await client.completeChallenge(challenge);
        const delayMs = validation.firstPollDelayMs();
        if (delayMs > 0) await sleep(delayMs);
        await client.waitForValidStatus(challenge);
        validation.observe(performance.now() - submitted);
      } else {
        await client.waitForValidStatus(challenge);
      }
    } catch (error) {
      await cleanup();
      throw error;
    }
    // Settled into a value at once: a cleanup that fails before the issue waits for it is no unhandled rejection.
    cleanups.push(cleanup().then(noError, (error: unknown) => ({ error })));
  }

  /** acme-client returns the order body without its URL; keep it, later steps need it. */
  async function waitForOrder(order: Order): Promise<Order> {
    return { ...(await client.waitForValidStatus(order)), url: order.url };
  }

  /**
   * newOrder, carrying `replaces` when asked to and the CA offers ARI, and `profile` when asked for one the CA
   * lists. Optional fields never fail an order: a rejection about `replaces` (already replaced, or an identifier
   * the CA does not accept) drops `replaces`, an `invalidProfile` drops `profile`, and the order is placed again.
   */
  async function createOrder(
    request: IssueRequest,
  ): Promise<{ order: Order; replaced: string | undefined; profile: string | undefined }> {
    const identifiers = request.names.map(acmeIdentifierOf);
    const caFacts = await facts();
    let replaces = request.replaces && caFacts.renewalInfo ? request.replaces : undefined;
    let profile = request.profile && caFacts.profiles.includes(request.profile) ? request.profile : undefined;
    for (;;) {
      await request.beforeRequest?.();
      try {
        const payload = {
          identifiers,
          ...(replaces ? { replaces } : {}),
          ...(profile ? { profile } : {}),
        } as Parameters<typeof client.createOrder>[0];
        return { order: await client.createOrder(payload), replaced: replaces, profile };
      } catch (error) {
        const problem = classifyAcmeError(error);
        if (profile && isProfileRejection(problem)) profile = undefined;
        else if (replaces && isReplacesRejection(problem)) replaces = undefined;
        else throw error;
        clearLastProblem(); // Handled: the retry's own failure, if any, is classified by itself.
      }
    }
  }

  /**
   * Finalizes an order whose authorizations are all valid. The order is not polled first: once its last
   * authorization is valid the order is `ready` (RFC 8555 §7.1.6), so the poll would only cost a round trip.
   * A CA that has not caught up yet answers `orderNotReady`; then the order is polled until ready and
   * finalized again.
   */
  async function finalize(order: Order, csr: Buffer, request: IssueRequest): Promise<Order> {
    await request.beforeRequest?.();
    try {
      return await client.finalizeOrder(order, csr);
    } catch (error) {
      if (!lastProblem()?.type.endsWith(':orderNotReady')) throw error;
      clearLastProblem();
      const ready = await waitForOrder(order);
      await request.beforeRequest?.();
      return client.finalizeOrder(ready, csr);
    }
  }

  async function issue(request: IssueRequest): Promise<IssuedCertificate> {
    // Cleanups of proven challenges, run alongside finalize; every one is waited for before issue returns.
    const cleanups: Array<Promise<{ error: unknown } | undefined>> = [];
    return runCapturingProblems(async () => {
      try {
        let order: Order | undefined;
        let keyPem = request.resume?.keyPem;
        if (request.resume) {
          await request.beforeRequest?.();
          order = await client.getOrder({ url: request.resume.orderUrl } as Order).catch(() => undefined);
          // An invalid or vanished order cannot be finished: start a new one.
          if (!order || order.status === 'invalid') {
            order = undefined;
            keyPem = undefined;
          }
        }
        let replaced: string | undefined;
        let profile: string | undefined;
        let checkpointed: Promise<void> = Promise.resolve();
        if (!order) {
          // The certificate key is made on the thread pool while newOrder is on the wire, and saved with the
          // order URL in one checkpoint (before finalize, so a resumed finalize uses the same key).
          const [created, freshKey] = await Promise.all([
            createOrder(request),
            generatePrivateKeyPem(request.keyType),
          ]);
          ({ order, replaced, profile } = created);
          keyPem = freshKey;
          checkpointed = request.checkpoint({ orderUrl: order.url, keyPem });
          // Awaited below; handled now so a failure while the next request waits is not an unhandled rejection.
          checkpointed.catch(noError);
        }

        if (order.status === 'pending') {
          await request.beforeRequest?.();
          // Reading the authorizations changes nothing at the CA, so it runs while the checkpoint is written;
          // no challenge is answered before the checkpoint is stored.
          const [authorizations] = await Promise.all([client.getAuthorizations(order), checkpointed]);
          // Every challenge is submitted at once; already-valid (reused) authorizations are skipped.
          await Promise.all(authorizations.map((authorization) => solve(authorization, request, cleanups)));
        }
        await checkpointed;
        if (order.status === 'pending' || order.status === 'ready') {
          if (!keyPem) {
            keyPem = await generatePrivateKeyPem(request.keyType);
            await request.checkpoint({ orderUrl: order.url, keyPem });
          }
          // An IP address becomes an iPAddress SAN (RFC 8738 §3), every other name a dNSName. Built with
          // node:crypto directly: acme-client's createCsr (an ASN.1 object model and a WebCrypto key import)
          // cost several times the signature itself.
          const csr = Buffer.from(createCsrPem(request.names, keyPem));
          order = await finalize(order, csr, request);
        }
        if (order.status === 'processing') order = await waitForOrder(order);
        if (order.status !== 'valid' || !keyPem) {
          throw new IssueError('ca-server', `order ended in status ${order.status} without a certificate`);
        }
        await request.beforeRequest?.();
        const chainPem = await client.getCertificate(order, options.preferredChain);
        for (const failed of await Promise.all(cleanups)) if (failed) throw failed.error;
        return { chainPem, keyPem, orderUrl: order.url, accountUrl: account.accountUrl, replaced, profile };
      } catch (error) {
        // A failure after the challenges were proven still waits for their cleanups (never left behind).
        await Promise.all(cleanups);
        throw classifyAcmeError(error);
      }
    });
  }

  return { directoryUrl, facts, issue };
}
