import { describe, expect, it } from 'vitest';
import { isReplacesRejection } from './acme-issuer.ts';
import { IssueError } from './issue-error.ts';

describe('replaces rejection', () => {
  it('ari - alreadyReplaced, or a problem whose detail names replaces, is a replaces rejection; others are not', () => {
    const problem = (type: string, detail: string) =>
      new IssueError('policy', detail, { problemType: `urn:ietf:params:acme:error:${type}` });
    expect(isReplacesRejection(problem('alreadyReplaced', 'certificate already replaced'))).toBe(true);
    expect(isReplacesRejection(problem('malformed', 'invalid "replaces" field: unknown certificate'))).toBe(
      true,
    );
    expect(isReplacesRejection(problem('malformed', 'JWS has an invalid anti-replay nonce'))).toBe(false);
    expect(isReplacesRejection(problem('rejectedIdentifier', 'blocked name'))).toBe(false);
    // Not a CA answer at all (a connection failure): never retried as a replaces rejection.
    expect(isReplacesRejection(new IssueError('connection', 'cannot reach the CA: replaces'))).toBe(false);
  });
});
