// A certificate no app uses any more is released (migration 0020): not renewed, its renewal refused, and reused
// and scheduled again when an app brings its names back before it expires.
import { insertCertificateRow } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from './api-harness.ts';

const day = 24 * 60 * 60 * 1000;

describe('api certificate release', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApiHarness('api_certs_release');
  });
  afterAll(async () => {
    await api?.close();
  });

  async function create(name: string, domains: string[]) {
    const before = (await api.events('certs.requested')).length;
    const response = await api.call('POST', '/v1/apps', {
      body: { name, image: 'ghcr.io/acme/shop:v1', port: 8080, domains },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    const requested = (await api.events('certs.requested')).length - before;
    return { ids: (response.body.certificates as Array<{ id: string }>).map((c) => c.id), requested };
  }

  async function remove(name: string) {
    const response = await api.call('DELETE', '/v1/apps/{name}', { params: { name } });
    expect(response.status).toBe(202);
  }

  /** The certificate as cert-issuer leaves it after an issuance: valid, scheduled, polled for ARI. */
  async function issued(id: string) {
    await api.db
      .updateTable('certificates')
      .set({
        status: 'valid',
        chain_pem: '-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n',
        private_key_encrypted: 'sealed',
        not_before: new Date(Date.now() - 10 * day),
        not_after: new Date(Date.now() + 80 * day),
        renew_at: new Date(Date.now() + 50 * day),
        renew_reason: 'lifetime',
        ari_next_poll_at: new Date(Date.now() + 3_600_000),
      })
      .where('id', '=', id)
      .execute();
  }

  const row = (id: string) =>
    api.db
      .selectFrom('certificates')
      .select(['status', 'released_at', 'renew_at', 'ari_next_poll_at'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();

  /** A valid certificate for one name, as an earlier issuance or an upload left it. */
  const insertValid = (name: string, columns: { source: 'acme' | 'custom'; renew_at?: Date }) =>
    insertCertificateRow(api.db, name, {
      chain_pem: 'chain',
      not_before: new Date(Date.now() - day),
      not_after: new Date(Date.now() + 80 * day),
      ...columns,
    });

  it('api - deleting an app releases its certificate: shown as not renewed, renew refused; the names coming back reuse it and schedule it again', async () => {
    const [id] = (await create('gone', ['https://gone.test'])).ids;
    await issued(id!);
    await remove('gone');

    expect(await row(id!)).toMatchObject({ status: 'valid', renew_at: null, ari_next_poll_at: null });
    const shown = await api.call('GET', '/v1/certificates/{id}', { params: { id: id! } });
    expect(shown.status).toBe(200);
    expect(shown.body.releasedAt).toEqual(expect.any(String));
    expect(shown.body.renewAt).toBeNull();
    expect(shown.body.nextRenewal).toMatchObject({ at: null, reason: 'released' });
    expect(shown.body.nextRenewal.detail).toContain('no app uses it since');

    const renew = await api.call('POST', '/v1/certificates/{id}/renew', { params: { id: id! } });
    expect(renew.status).toBe(409);
    expect(renew.body.detail).toContain('an app with these names');

    const back = await create('back', ['https://gone.test']);
    expect(back.ids).toEqual([id]);
    expect(back.requested).toBe(0);
    const resumed = await row(id!);
    expect(resumed.released_at).toBeNull();
    expect(resumed.renew_at).not.toBeNull();
    expect(resumed.ari_next_poll_at).not.toBeNull();
    const again = await api.call('GET', '/v1/certificates/{id}', { params: { id: id! } });
    expect(again.body).toMatchObject({ releasedAt: null, nextRenewal: { reason: 'lifetime' } });
  });

  it('api - a patch that changes the names releases the old certificate; a pending one brought back is requested again', async () => {
    const [first] = (await create('moves', ['https://one.moves.test'])).ids;
    const patched = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'moves' },
      body: { domains: ['https://two.moves.test'] },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.certificates.map((c: { id: string }) => c.id)).not.toContain(first);
    // Never issued: cert-issuer drops a released certificate's first issuance, so coming back asks again.
    expect(await row(first!)).toMatchObject({ status: 'pending', released_at: expect.any(Date) });

    const before = (await api.events('certs.requested')).length;
    const back = await api.call('PATCH', '/v1/apps/{name}', {
      params: { name: 'moves' },
      body: { domains: ['https://one.moves.test'] },
    });
    expect(back.status).toBe(200);
    expect(back.body.certificates.map((c: { id: string }) => c.id)).toEqual([first]);
    const requested = (await api.events('certs.requested')).slice(before);
    expect(requested.map((event) => event.data.certificateId)).toEqual([first]);
    expect((await row(first!)).released_at).toBeNull();
  });

  it('api - a certificate another app or an on-demand host still uses is not released; uploads never are', async () => {
    const wildcard = await insertValid('*.shared.test', {
      source: 'acme',
      renew_at: new Date(Date.now() + 50 * day),
    });
    expect((await create('left', ['https://left.shared.test'])).ids).toEqual([wildcard]);
    expect((await create('right', ['https://right.shared.test'])).ids).toEqual([wildcard]);
    await remove('left');
    expect((await row(wildcard)).released_at).toBeNull();
    await remove('right');
    expect(await row(wildcard)).toMatchObject({ released_at: expect.any(Date), renew_at: null });
    // Released, it is no longer a candidate to cover a new app's names: that one orders its own.
    const after = await create('third', ['https://third.shared.test']);
    expect(after.ids).not.toContain(wildcard);
    expect(after.requested).toBe(1);

    const [onDemand] = (await create('ondemand', ['https://host.ondemand.test'])).ids;
    await api.db
      .insertInto('on_demand_hosts')
      .values({ hostname: 'host.ondemand.test', certificate_id: onDemand! })
      .execute();
    await remove('ondemand');
    expect((await row(onDemand!)).released_at).toBeNull();

    const upload = await insertValid('*.uploaded.test', { source: 'custom' });
    expect((await create('up', ['https://up.uploaded.test'])).ids).toEqual([upload]);
    await remove('up');
    expect((await row(upload)).released_at).toBeNull();
  });
});
