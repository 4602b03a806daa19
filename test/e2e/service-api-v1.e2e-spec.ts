import { FakeOpenAI } from '@test/fakes/fake-openai';
import { fakeEmbedding } from '@test/fakes/fake-llm-common';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import OpenAI from 'openai';
import { CredentialsService } from 'src/modules/model/credentials.service';

/**
 * The OpenAI-compatible `/v1` routes driven by the OpenAI Node SDK itself with a service-API key:
 * `/v1/models` lists the key account's published apps, `/v1/embeddings` embeds through the
 * configured provider (the fake OpenAI) with the account's credentials, in float and base64 (the
 * SDK's default), and every error is an OpenAI error object with a real status.
 */
type Json = Record<string, any>;

describe('Service API /v1 (e2e, OpenAI SDK)', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let alice: TestAccount;
  let bob: TestAccount;
  let aliceKey: string;
  let bobKey: string;

  beforeAll(async () => {
    fake = await FakeOpenAI.create();
    t = await createTestApp({
      env: { OPENAI_API_KEY: '', OPENAI_API_BASE: fake.baseURL },
    });
    alice = await createAccount(t);
    bob = await createAccount(t);
    const creds = t.app.get(CredentialsService);
    await creds.set(alice.id, 'openai', { api_key: 'sk-alice-0123456789' });
    aliceKey = await newKey(alice);
    bobKey = await newKey(bob);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });
  afterEach(() => fake.reset());

  async function newKey(acc: TestAccount): Promise<string> {
    const res = await t.http().post('/openapi/api-keys').set(acc.auth).send({});
    expect((res.body as Json).code).toBe('success');
    return (res.body as Json).data.api_key as string;
  }
  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
  const sdk = (apiKey: string) =>
    new OpenAI({ apiKey, baseURL: `${t.url}/v1`, maxRetries: 0, timeout: 10_000 });
  const consolePost = async (acc: TestAccount, path: string, body: Json = {}) =>
    (await t.http().post(path).set(acc.auth).send(body)).body as Json;

  describe('/v1/embeddings', () => {
    it('embeds through the provider with the account’s key (the SDK asks for base64)', async () => {
      const res = await sdk(aliceKey).embeddings.create({
        model: 'text-embedding-3-small',
        input: ['hello world', '你好'],
      });
      expect(res.object).toBe('list');
      expect(res.model).toBe('text-embedding-3-small');
      expect(res.data.map((d) => d.index)).toEqual([0, 1]);
      const dims = res.data[0].embedding.length;
      expect(dims).toBeGreaterThan(0);
      const want = fakeEmbedding('hello world', dims);
      res.data[0].embedding.forEach((x, i) => expect(x).toBeCloseTo(want[i], 5));
      expect(res.usage.prompt_tokens).toBeGreaterThan(0);
      // The upstream call carried the account's own key.
      expect(fake.lastRequest('embeddings')?.headers.authorization).toBe(
        'Bearer sk-alice-0123456789',
      );
    });

    it('answers floats when asked, and takes provider/model and a single string', async () => {
      const res = await sdk(aliceKey).embeddings.create({
        model: 'openai/text-embedding-3-small',
        input: 'one text',
        encoding_format: 'float',
      });
      expect(res.data).toHaveLength(1);
      expect(Array.isArray(res.data[0].embedding)).toBe(true);
      const want = fakeEmbedding('one text', res.data[0].embedding.length);
      res.data[0].embedding.forEach((x, i) => expect(x).toBeCloseTo(want[i], 6));
    });

    it('embeds token arrays as their cl100k_base text (LangChain OpenAIEmbeddings sends them)', async () => {
      const sdkClient = sdk(aliceKey);
      const tokens = await sdkClient.embeddings.create({
        model: 'text-embedding-3-small',
        input: [[9906, 1917], [9906]],
        encoding_format: 'float',
      });
      const texts = await sdkClient.embeddings.create({
        model: 'text-embedding-3-small',
        input: ['Hello world', 'Hello'],
        encoding_format: 'float',
      });
      expect(tokens.data.map((d) => d.embedding)).toEqual(texts.data.map((d) => d.embedding));
      // One token array alone is one input.
      const one = await sdkClient.embeddings.create({
        model: 'text-embedding-3-small',
        input: [9906, 1917],
        encoding_format: 'float',
      });
      expect(one.data).toHaveLength(1);
      expect(one.data[0].embedding).toEqual(texts.data[0].embedding);
    });

    it.each([
      [{ model: 'text-embedding-3-small' }, 'input is required'],
      [{ model: 'text-embedding-3-small', input: [] }, 'input must not be empty'],
      [{ model: 'text-embedding-3-small', input: [[1, 999_999]] }, 'not a cl100k_base token'],
      [{ model: 'text-embedding-3-small', input: [{ text: 'x' }] }, 'must be a string or a token'],
      [{ model: 'text-embedding-3-small', input: [''] }, 'input[0] must not be empty'],
      [{ model: 'text-embedding-3-small', input: ['x'.repeat(32_769)] }, 'longer than 32768'],
      [{ model: 'text-embedding-3-small', input: 'x', dimensions: 8 }, 'dimensions is not'],
      [{ input: 'x' }, 'model is required'],
      [{ model: 'gpt-4o-mini', input: 'x' }, 'not an embedding model of any'],
      [{ model: 'openai/gpt-4o-mini', input: 'x' }, 'is a chat model, not an embedding model'],
      [{ model: 'no-such-embedder', input: 'x' }, 'not an embedding model of any'],
      [
        { model: 'text-embedding-3-small', input: 'x', encoding_format: 'hex' },
        'encoding_format must be float or base64',
      ],
    ])('answers an OpenAI error object for a bad request (%#)', async (body, message) => {
      const err = await sdk(aliceKey)
        .embeddings.create(body as never)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      const e = err as InstanceType<typeof OpenAI.APIError>;
      const unknownModel = /chat model|not an embedding model of any/.test(message);
      expect(e.status).toBe(unknownModel ? 404 : 400);
      expect(e.message).toContain(message);
      expect((e.error as Json).type).toMatch(/invalid_request_error|not_found_error/);
      if (e.status === 400)
        expect((e.error as Json).param).toMatch(/^(model|input|encoding_format|dimensions)$/);
      expect(fake.requests).toHaveLength(0);
    });

    it("answers a provider's refusal as 502 or 429, never as the caller's bad request", async () => {
      fake.enqueue(
        { type: 'error', status: 401, message: 'Incorrect API key provided: sk-alic*****6789' },
        { endpoint: 'embeddings' },
      );
      const denied = await sdk(aliceKey)
        .embeddings.create({ model: 'text-embedding-3-small', input: 'x' })
        .catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(OpenAI.APIError);
      expect((denied as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
      expect((denied as Error).message).toMatch(/refused this account's credentials \(HTTP 401\)/);
      expect((denied as Error).message).not.toMatch(/sk-/);
      fake.reset();
      // Every attempt of the runtime's retries rate-limited: 429, which the SDKs retry later.
      fake.enqueue(
        Array.from({ length: 5 }, () => ({
          type: 'error' as const,
          status: 429,
          message: 'Rate limit reached',
          retry_after: 0,
        })),
        { endpoint: 'embeddings' },
      );
      const limited = await sdk(aliceKey)
        .embeddings.create({ model: 'text-embedding-3-small', input: 'x' })
        .catch((e: unknown) => e);
      expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
      expect((limited as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
        type: 'rate_limit_error',
      });
    });

    it('refuses a request without a key, or with a console token, as 401', async () => {
      const noKey = await t.http().post('/v1/embeddings').send({ model: 'x', input: 'y' });
      expect(noKey.status).toBe(401);
      expect(noKey.body).toMatchObject({ error: { type: 'authentication_error' } });
      const err = await sdk(alice.auth.Authorization.replace(/^Bearer /, ''))
        .embeddings.create({ model: 'text-embedding-3-small', input: 'x' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('malformed input on the service API', () => {
    it('refuses NUL characters and over-long strings before any model call', async () => {
      const nul = 'a\u0000b';
      const long = 'x'.repeat(1024 * 1024 + 1);
      const huge = Array.from({ length: 11 }, () => 'x'.repeat(1000 * 1000));
      const withNul = await t
        .http()
        .post('/v1/embeddings')
        .set(bearer(aliceKey))
        .send({ model: 'text-embedding-3-small', input: nul });
      expect(withNul.status).toBe(400);
      expect(withNul.body.error).toMatchObject({ type: 'invalid_request_error' });
      expect(withNul.body.error.message).toMatch(/NUL/);
      // A string past JSON_MAX_STRING_LENGTH: 400 before any model call.
      const overlong = await t
        .http()
        .post('/v1/embeddings')
        .set(bearer(aliceKey))
        .send({ model: 'text-embedding-3-small', input: long });
      expect(overlong.status).toBe(400);
      expect(overlong.body.error).toMatchObject({ type: 'invalid_request_error' });
      // Past the large body limit (10 MB; /v1 bodies may be big batches): 413, still an OpenAI
      // error object.
      const tooBig = await t
        .http()
        .post('/v1/embeddings')
        .set(bearer(aliceKey))
        .send({ model: 'text-embedding-3-small', input: huge });
      expect(tooBig.status).toBe(413);
      expect(tooBig.body.error).toMatchObject({ type: 'invalid_request_error' });
      const chat = await t
        .http()
        .post('/v1/chat/completions')
        .set(bearer(aliceKey))
        .send({
          model: '00000000-0000-4000-8000-000000000000',
          messages: [{ role: 'user', content: nul }],
        });
      expect(chat.status).toBe(400);
      expect(chat.body.error.message).toMatch(/NUL/);
      const openapi = await t
        .http()
        .post('/openapi/chat')
        .set(bearer(aliceKey))
        .send({ app_id: '00000000-0000-4000-8000-000000000000', query: nul });
      expect(openapi.status).toBe(422);
      expect(openapi.body).toMatchObject({ code: 'validate_error' });
      expect(openapi.body.message).toMatch(/NUL/);
      // Not a UUID in app_id: a clear validation error, no query.
      const badId = await t
        .http()
        .post('/openapi/chat')
        .set(bearer(aliceKey))
        .send({ app_id: "x' OR 1=1 --", query: 'hi' });
      expect([404, 422]).toContain(badId.status);
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('/v1/models', () => {
    it('lists the key account’s published apps only', async () => {
      const created = await consolePost(alice, '/apps', {
        name: 'Travel agent',
        icon: 'http://localhost:5000/upload/app.png',
      });
      expect(created.code).toBe('success');
      const appId = created.data.id as string;
      const draftOnly = await consolePost(alice, '/apps', {
        name: 'Unpublished',
        icon: 'http://localhost:5000/upload/app.png',
      });
      expect((await sdk(aliceKey).models.list()).data.map((m) => m.id)).not.toContain(appId);
      expect((await consolePost(alice, `/apps/${appId}/publish`)).code).toBe('success');

      const models: Json[] = [];
      for await (const m of sdk(aliceKey).models.list()) models.push(m);
      expect(models).toContainEqual({
        id: appId,
        object: 'model',
        created: expect.any(Number),
        owned_by: 'Travel agent',
      });
      expect(models.map((m) => m.id)).not.toContain(draftOnly.data.id);
      expect((await sdk(bobKey).models.list()).data).toEqual([]);
      // One model: a published app of the key's account; 404 for a draft, another account's.
      expect(await sdk(aliceKey).models.retrieve(appId)).toMatchObject(
        models.find((m) => m.id === appId)!,
      );
      for (const [key, id] of [
        [aliceKey, draftOnly.data.id as string],
        [bobKey, appId],
      ]) {
        const missing = await sdk(key)
          .models.retrieve(id)
          .catch((e: unknown) => e);
        expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
      }
    });
  });
});
