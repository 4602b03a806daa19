import { ApiKeyAuth, CurrentAccount } from '@app/common';
import { Controller, Get, Module } from '@nestjs/common';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { uniqueRedisPrefix } from '@test/support/test-env';
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { DataSource } from 'typeorm';

/** A service-API route that takes an API key, to prove what keys open. */
@Controller('openapi/fixture')
class WhoAmIController {
  @ApiKeyAuth()
  @Get('whoami')
  whoami(@CurrentAccount() accountId: string) {
    return { account_id: accountId };
  }
}

@Module({ controllers: [WhoAmIController] })
class ApiKeyFixtureModule {}

const FULL_KEY = /^llmops-v1\/[A-Za-z0-9_-]{48}$/;
const MASKED_KEY = /^llmops-v1\/[A-Za-z0-9_-]{4}…[A-Za-z0-9_-]{4}$/;
const NOT_FOUND = { code: 'not_found', message: 'The API key does not exist', data: {} };

describe('API keys', () => {
  let t: TestApp;
  let a: TestAccount;
  let b: TestAccount;

  beforeAll(async () => {
    t = await createTestApp({ imports: [ApiKeyFixtureModule] });
    [a, b] = await Promise.all([createAccount(t), createAccount(t)]);
  });
  afterAll(() => t.close());

  /** Key management is console API: HTTP 200 whatever the outcome. */
  async function consoleCall(res: Promise<{ status: number; body: any }>): Promise<any> {
    const r = await res;
    expect(r.status).toBe(200);
    return r.body;
  }
  const create = (who: TestAccount, body: Record<string, unknown> = {}) =>
    consoleCall(t.http().post('/openapi/api-keys').set(who.auth).send(body));
  const list = (who: TestAccount, query = '') =>
    consoleCall(t.http().get(`/openapi/api-keys${query}`).set(who.auth));
  const post = (who: TestAccount, path: string, body: Record<string, unknown> = {}) =>
    consoleCall(t.http().post(`/openapi/api-keys${path}`).set(who.auth).send(body));
  const whoami = (authorization?: string) => {
    const req = t.http().get('/openapi/fixture/whoami');
    return authorization ? req.set('Authorization', authorization) : req;
  };
  const newKey = async (who: TestAccount, body: Record<string, unknown> = {}) => {
    const res = await create(who, body);
    expect(res.code).toBe('success');
    return res.data as { id: string; api_key: string; is_active: boolean; remark: string };
  };

  it('shows the full key to its owner at creation and in the list (the console copies it there)', async () => {
    const res = await create(a, { remark: 'ci pipeline' });
    expect(res).toEqual({
      code: 'success',
      message: 'API key created',
      data: {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        api_key: expect.stringMatching(FULL_KEY),
        is_masked: false,
        is_active: true,
        remark: 'ci pipeline',
        last_used_at: 0,
        created_at: expect.any(Number),
        updated_at: expect.any(Number),
      },
    });
    expect(Math.abs(res.data.created_at - Date.now() / 1000)).toBeLessThan(60);
    const key = res.data.api_key as string;

    const listed = await list(a);
    expect(listed.code).toBe('success');
    const row = listed.data.list.find((k: { id: string }) => k.id === res.data.id);
    expect(row).toMatchObject({ api_key: key, is_masked: false });
    // The key copied from the list row opens the service API.
    expect((await whoami(`Bearer ${row.api_key}`)).body.data).toEqual({ account_id: a.id });
    // Keys are random.
    expect((await newKey(a)).api_key).not.toBe(key);
  });

  it('stores keys sealed beside their lookup hash, never in plain text', async () => {
    const key = await newKey(a, { remark: 'sealed' });
    const db = t.app.get(DataSource);
    const [row] = await db.query<{ key_hash: string; key_sealed: string; hint: string }[]>(
      'SELECT key_hash, key_sealed, hint FROM api_keys WHERE id = $1',
      [key.id],
    );
    expect(row.key_sealed).toMatch(/^v1\./);
    const secretPart = key.api_key.slice('llmops-v1/'.length);
    expect(JSON.stringify(row)).not.toContain(secretPart);
    expect(row.hint).toMatch(MASKED_KEY);
  });

  it('lists keys created before sealing by their hint, and says so', async () => {
    const key = await newKey(a, { remark: 'legacy' });
    await t.app
      .get(DataSource)
      .query('UPDATE api_keys SET key_sealed = NULL WHERE id = $1', [key.id]);
    const row = (await list(a, '?page_size=50')).data.list.find(
      (k: { id: string }) => k.id === key.id,
    );
    expect(row.api_key).toMatch(MASKED_KEY);
    expect(row.is_masked).toBe(true);
    // It still authorizes: only its display is limited.
    expect((await whoami(`Bearer ${key.api_key}`)).body.data).toEqual({ account_id: a.id });
  });

  it('answers every key mutation with a message the console can toast', async () => {
    const key = await newKey(a, { remark: 'toast' });
    expect((await post(a, `/${key.id}`, { remark: 'toast2' })).message).toBe('API key updated');
    expect((await post(a, `/${key.id}/is-active`, { is_active: false })).message).toBe(
      'API key status updated',
    );
    expect((await post(a, `/${key.id}/delete`)).message).toBe('API key deleted');
  });

  it('paginates the list newest first, and only lists the account own keys', async () => {
    const owner = await createAccount(t);
    for (const remark of ['k1', 'k2', 'k3']) await newKey(owner, { remark });
    const page1 = await list(owner, '?current_page=1&page_size=2');
    expect(page1.data.paginator).toEqual({
      current_page: 1,
      page_size: 2,
      total_page: 2,
      total_record: 3,
    });
    expect(page1.data.list.map((k: { remark: string }) => k.remark)).toEqual(['k3', 'k2']);
    const page2 = await list(owner, '?current_page=2&page_size=2');
    expect(page2.data.paginator.current_page).toBe(2);
    expect(page2.data.list.map((k: { remark: string }) => k.remark)).toEqual(['k1']);
    // Defaults, search and empty filters as the console sends them.
    const all = await list(owner, '?current_page=&page_size=&search_word=');
    expect(all.data.paginator).toEqual({
      current_page: 1,
      page_size: 20,
      total_page: 1,
      total_record: 3,
    });
    const found = await list(owner, '?search_word=k2');
    expect(found.data.list.map((k: { remark: string }) => k.remark)).toEqual(['k2']);
    const bad = await list(owner, '?page_size=51');
    expect(bad.code).toBe('validate_error');

    const other = await createAccount(t);
    expect((await list(other)).data).toEqual({
      list: [],
      paginator: { current_page: 1, page_size: 20, total_page: 0, total_record: 0 },
    });
  });

  it('updates remark and is_active, and toggles with is-active', async () => {
    const key = await newKey(a, { remark: 'before' });
    const renamed = await post(a, `/${key.id}`, { remark: 'after' });
    expect(renamed.code).toBe('success');
    expect(renamed.data).toMatchObject({ id: key.id, remark: 'after', is_active: true });
    expect(renamed.data.api_key).toBe(key.api_key);

    const disabled = await post(a, `/${key.id}`, { is_active: false });
    expect(disabled.data).toMatchObject({ remark: 'after', is_active: false });

    const enabled = await post(a, `/${key.id}/is-active`, { is_active: true });
    expect(enabled.data).toMatchObject({ id: key.id, remark: 'after', is_active: true });
    const off = await post(a, `/${key.id}/is-active`, { is_active: 'false' });
    expect(off.data.is_active).toBe(false);
    const row = (await list(a, '?page_size=50')).data.list.find(
      (k: { id: string }) => k.id === key.id,
    );
    expect(row).toMatchObject({ remark: 'after', is_active: false });

    const created = await newKey(a, { is_active: false, remark: '' });
    expect(created).toMatchObject({ is_active: false, remark: '' });
  });

  it('validates create, update and is-active bodies', async () => {
    const long = 'x'.repeat(101);
    const created = await create(a, { remark: long });
    expect(created).toEqual({
      code: 'validate_error',
      message: 'remark must be at most 100 characters',
      data: { remark: ['remark must be at most 100 characters'] },
    });
    expect((await create(a, { remark: 'x'.repeat(100) })).code).toBe('success');
    expect((await create(a, { is_active: 'maybe' })).message).toBe(
      'is_active must be true or false',
    );
    const key = await newKey(a);
    expect((await post(a, `/${key.id}`, { remark: long })).code).toBe('validate_error');
    expect((await post(a, `/${key.id}`, { remark: 5 })).message).toBe('remark must be a string');
    const missing = await post(a, `/${key.id}/is-active`, {});
    expect(missing.code).toBe('validate_error');
    expect(missing.message).toBe('is_active must be true or false');
  });

  it('deletes a key', async () => {
    const key = await newKey(a, { remark: 'to delete' });
    const res = await post(a, `/${key.id}/delete`);
    expect(res).toEqual({ code: 'success', message: 'API key deleted', data: {} });
    const ids = (await list(a, '?page_size=50')).data.list.map((k: { id: string }) => k.id);
    expect(ids).not.toContain(key.id);
    expect(await post(a, `/${key.id}/delete`)).toEqual(NOT_FOUND);
    expect(await post(a, `/${key.id}`, { remark: 'x' })).toEqual(NOT_FOUND);
  });

  it("gives not_found for another account's key and for malformed ids", async () => {
    const key = await newKey(a, { remark: 'mine' });
    expect(await post(b, `/${key.id}`, { remark: 'stolen' })).toEqual(NOT_FOUND);
    expect(await post(b, `/${key.id}/is-active`, { is_active: false })).toEqual(NOT_FOUND);
    expect(await post(b, `/${key.id}/delete`)).toEqual(NOT_FOUND);
    const row = (await list(a, '?page_size=50')).data.list.find(
      (k: { id: string }) => k.id === key.id,
    );
    expect(row).toMatchObject({ remark: 'mine', is_active: true });
    const ids = (await list(b, '?page_size=50')).data.list.map((k: { id: string }) => k.id);
    expect(ids).not.toContain(key.id);

    for (const id of ['abc', '123', `${key.id}x`, "1' OR '1'='1", randomUUID()]) {
      const path = `/${encodeURIComponent(id)}`;
      expect(await post(a, path, { remark: 'x' })).toEqual(NOT_FOUND);
      expect(await post(a, `${path}/is-active`, { is_active: true })).toEqual(NOT_FOUND);
      expect(await post(a, `${path}/delete`)).toEqual(NOT_FOUND);
    }
  });

  it('requires a console sign-in to manage keys', async () => {
    const res = await consoleCall(t.http().get('/openapi/api-keys'));
    expect(res.code).toBe('unauthorized');
    const key = await newKey(a);
    const withKey = await consoleCall(
      t.http().get('/openapi/api-keys').set('Authorization', `Bearer ${key.api_key}`),
    );
    expect(withKey.code).toBe('unauthorized');
    const createWithKey = await consoleCall(
      t.http().post('/openapi/api-keys').set('Authorization', `Bearer ${key.api_key}`).send({}),
    );
    expect(createWithKey.code).toBe('unauthorized');
  });

  describe('authorizing the service API', () => {
    it('lets a valid key in as its account, and records its use', async () => {
      const key = await newKey(a);
      const res = await whoami(`Bearer ${key.api_key}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ code: 'success', message: '', data: { account_id: a.id } });
      const keyB = await newKey(b);
      expect((await whoami(`Bearer ${keyB.api_key}`)).body.data).toEqual({ account_id: b.id });
      const row = (await list(a, '?page_size=50')).data.list.find(
        (k: { id: string }) => k.id === key.id,
      );
      expect(Math.abs(row.last_used_at - Date.now() / 1000)).toBeLessThan(60);
    });

    it('refuses a disabled key, and lets it in again once enabled', async () => {
      const key = await newKey(a);
      await post(a, `/${key.id}/is-active`, { is_active: false });
      const res = await whoami(`Bearer ${key.api_key}`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        code: 'unauthorized',
        message: 'The API key is invalid or disabled',
        data: {},
      });
      await post(a, `/${key.id}`, { is_active: true });
      expect((await whoami(`Bearer ${key.api_key}`)).status).toBe(200);

      const createdDisabled = await newKey(a, { is_active: false });
      expect((await whoami(`Bearer ${createdDisabled.api_key}`)).status).toBe(401);
    });

    it('refuses a deleted key at once', async () => {
      const key = await newKey(a);
      expect((await whoami(`Bearer ${key.api_key}`)).status).toBe(200);
      await post(a, `/${key.id}/delete`);
      const res = await whoami(`Bearer ${key.api_key}`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('unauthorized');
    });

    it('refuses unknown, altered and truncated keys', async () => {
      const key = await newKey(a);
      const last = key.api_key.at(-1) === 'A' ? 'B' : 'A';
      for (const bad of [
        `llmops-v1/${'a'.repeat(48)}`,
        `${key.api_key.slice(0, -1)}${last}`,
        key.api_key.slice(0, -1),
        `${key.api_key}x`,
        `llmops-v1/${'a'.repeat(300)}`,
      ]) {
        const res = await whoami(`Bearer ${bad}`);
        expect(res.status).toBe(401);
        expect(res.body.message).toBe('The API key is invalid or disabled');
      }
    });

    it('refuses the key of an account that no longer exists', async () => {
      const gone = await createAccount(t);
      const key = await newKey(gone);
      expect((await whoami(`Bearer ${key.api_key}`)).status).toBe(200);
      await t.app.get(DataSource).query('DELETE FROM accounts WHERE id = $1', [gone.id]);
      expect((await whoami(`Bearer ${key.api_key}`)).status).toBe(401);
    });

    it('refuses a console access token with a message saying it takes an API key', async () => {
      const res = await whoami(a.auth.Authorization);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        code: 'unauthorized',
        message: 'This API takes an API key (llmops-v1/...), not a console access token',
        data: {},
      });
    });

    it('refuses a request without a key', async () => {
      const res = await whoami();
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('unauthorized');
      expect(res.body.message).toMatch(/API key is required/);
      for (const header of ['Bearer', 'Basic dXNlcjpwYXNz', 'llmops-v1/abc']) {
        const r = await whoami(header);
        expect(r.status).toBe(401);
        expect(r.body.code).toBe('unauthorized');
      }
    });

    it('does not let a key call a console route (HTTP 200, unauthorized)', async () => {
      const key = await newKey(a);
      const res = await t.http().get('/account').set('Authorization', `Bearer ${key.api_key}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        code: 'unauthorized',
        message: 'API keys only open the service API (/openapi, /v1); sign in to use this one',
        data: {},
      });
    });
  });
});

describe.each([
  ['in memory', false],
  ['in Redis, counted across two processes', true],
])('API keys: the per-key rate limit (%s)', (_label, redis) => {
  const LIMIT = 4;
  let a: TestApp;
  let b: TestApp;
  let owner: TestAccount;

  beforeAll(async () => {
    const opts = {
      imports: [ApiKeyFixtureModule],
      redis,
      redisPrefix: uniqueRedisPrefix('api-key-limit'),
      env: { API_KEY_THROTTLE_LIMIT: String(LIMIT) },
    };
    a = await createTestApp(opts);
    b = redis ? await createTestApp(opts) : a;
    owner = await createAccount(a);
  });
  afterAll(async () => {
    if (b !== a) await b?.close();
    await a?.close();
  });

  const newKey = async (): Promise<string> => {
    const res = await a.http().post('/openapi/api-keys').set(owner.auth).send({});
    expect(res.body.code).toBe('success');
    return (res.body.data as { api_key: string }).api_key;
  };
  const whoami = (app: TestApp, key: string) =>
    app.http().get('/openapi/fixture/whoami').set('Authorization', `Bearer ${key}`);

  it('answers 429 once a key has made its requests of the window, on any process; other keys go on', async () => {
    const key = await newKey();
    for (let i = 0; i < LIMIT; i++) {
      const res = await whoami(i % 2 ? b : a, key);
      expect(res.status).toBe(200);
      expect(res.headers['x-ratelimit-limit-api-key']).toBe(String(LIMIT));
    }
    const refused = await whoami(a, key);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      code: 'fail',
      message: 'Too many requests with this API key, please slow down and try again later',
      data: {},
    });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // The key's limit, not the client's: the per-client window is far from spent.
    expect(Number(refused.headers['x-ratelimit-remaining'])).toBeGreaterThan(500);
    expect((await whoami(b, key)).status).toBe(429);
    // The OpenAI-compatible API answers it as OpenAI does: the SDK's RateLimitError.
    const sdk = new OpenAI({ baseURL: `${b.url}/v1`, apiKey: key, maxRetries: 0 });
    const limited = await sdk.models.list().catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
      type: 'rate_limit_error',
      message: 'Too many requests with this API key, please slow down and try again later',
    });

    // Another key of the same account and client has its own count.
    expect((await whoami(a, await newKey())).status).toBe(200);
  });

  it('does not count requests with an invalid key against anyone', async () => {
    const key = await newKey();
    for (let i = 0; i < LIMIT + 2; i++)
      expect((await whoami(a, `${key.slice(0, -4)}AAAA`)).status).toBe(401);
    expect((await whoami(a, key)).headers['x-ratelimit-remaining-api-key']).toBe(String(LIMIT - 1));
  });
});
