import { describe, expect, it } from 'vitest';
import { AcmeDirectoryError } from './acme-directory.ts';
import { createDirectoryCache } from './directory-cache.ts';

const directory = {
  newNonce: 'https://ca.test/nonce',
  newAccount: 'https://ca.test/account',
  newOrder: 'https://ca.test/order',
  renewalInfo: 'https://ca.test/ari',
  meta: { profiles: { classic: 'x' } },
};

describe('directory cache', () => {
  it('directory cache - concurrent callers share one read; read again after the ttl', async () => {
    let reads = 0;
    let now = 0;
    const cache = createDirectoryCache({
      load: async () => {
        reads += 1;
        return directory;
      },
      ttlMs: 1_000,
      now: () => now,
    });
    const [first, second] = await Promise.all([
      cache.get('https://ca.test/dir'),
      cache.get('https://ca.test/dir'),
    ]);
    expect(first.renewalInfo).toBe('https://ca.test/ari');
    expect(second).toBe(first);
    expect(reads).toBe(1);
    now = 1_001;
    await cache.get('https://ca.test/dir');
    expect(reads).toBe(2);
  });

  it('directory cache - a failed read is not kept; a non-directory is refused naming the URL', async () => {
    let answer: unknown = new Error('ECONNREFUSED');
    const cache = createDirectoryCache({
      load: async () => {
        if (answer instanceof Error) throw answer;
        return answer;
      },
    });
    await expect(cache.get('https://ca.test/dir')).rejects.toThrow('ECONNREFUSED');
    answer = { hello: 'world' };
    await expect(cache.get('https://ca.test/dir')).rejects.toThrow(AcmeDirectoryError);
    await expect(cache.get('https://ca.test/dir')).rejects.toThrow(
      /https:\/\/ca\.test\/dir is not an ACME directory/,
    );
    answer = directory;
    await expect(cache.get('https://ca.test/dir')).resolves.toMatchObject({
      newOrder: 'https://ca.test/order',
    });
  });
});
