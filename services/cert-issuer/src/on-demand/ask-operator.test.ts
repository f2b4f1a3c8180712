import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askOperator } from './ask-operator.ts';

describe('on-demand ask', () => {
  let server: Server;
  let base: URL;
  const seen: string[] = [];
  beforeAll(async () => {
    server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://ask');
      seen.push(url.search);
      const domain = url.searchParams.get('domain') ?? '';
      if (domain.startsWith('slow.')) return; // never answers
      if (domain.startsWith('moved.')) {
        response.writeHead(302, { location: 'http://127.0.0.1:1/' }).end();
        return;
      }
      response.statusCode = domain.startsWith('ok.') ? 204 : 404;
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/check?token=t`);
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('on-demand - only a 2xx allows; the name is a query parameter next to the URL’s own', async () => {
    expect(await askOperator(base, 'ok.example.com', 2_000)).toEqual({ allowed: true, status: 204 });
    expect(seen.at(-1)).toBe('?token=t&domain=ok.example.com');
    expect(await askOperator(base, 'no.example.com', 2_000)).toEqual({ allowed: false, status: 404 });
    // A redirect is a no, and is not followed.
    expect(await askOperator(base, 'moved.example.com', 2_000)).toEqual({ allowed: false, status: 302 });
  });

  it('on-demand - no answer in time or no server is a denial without a status (not cached by the terminator)', async () => {
    const slow = await askOperator(base, 'slow.example.com', 200);
    expect(slow).toEqual({ allowed: false, status: null, error: 'no answer within 200 ms' });
    const refused = await askOperator(new URL('http://127.0.0.1:1/'), 'x.example.com', 2_000);
    expect(refused).toMatchObject({ allowed: false, status: null });
  });
});
