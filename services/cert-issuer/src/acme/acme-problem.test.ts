import { describe, expect, it } from 'vitest';
import { classifyAcmeError, lastProblem, observeResponse, runCapturingProblems } from './acme-problem.ts';

describe('acme problems', () => {
  it('acme problems - are captured per operation and classified by type', async () => {
    const [a, b] = await Promise.all([
      runCapturingProblems(async () => {
        observeResponse(
          429,
          { 'retry-after': '60' },
          {
            type: 'urn:ietf:params:acme:error:rateLimited',
            detail: 'too many new orders',
          },
        );
        await new Promise((resolve) => setTimeout(resolve, 10));
        return classifyAcmeError(new Error('too many new orders'));
      }),
      runCapturingProblems(async () => {
        observeResponse(
          200,
          {},
          {
            status: 'invalid',
            error: { type: 'urn:ietf:params:acme:error:unauthorized', detail: 'wrong key authorization' },
          },
        );
        return classifyAcmeError(new Error('x'));
      }),
    ]);
    expect(a.kind).toBe('rate-limited');
    expect(a.retryAfter!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect(b.kind).toBe('validation');
    expect(b.message).toBe('wrong key authorization');
    expect(lastProblem()).toBeUndefined();
  });

  it('acme problems - network errors are connection, policy problems are policy', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:14000'), {
      code: 'ECONNREFUSED',
    });
    expect(classifyAcmeError(refused, undefined).kind).toBe('connection');
    const blocked = classifyAcmeError(new Error('x'), {
      type: 'urn:ietf:params:acme:error:rejectedIdentifier',
      detail: 'Cannot issue for "blocked.test": policy forbids',
      status: 400,
      retryAfter: undefined,
      subproblems: [],
    });
    expect(blocked).toMatchObject({
      kind: 'policy',
      problemType: 'urn:ietf:params:acme:error:rejectedIdentifier',
    });
    expect(classifyAcmeError(new Error('Operation is pending'), undefined).kind).toBe('internal');
  });
});
