import { FakeOpenAI } from '@test/fakes/fake-openai';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { randomBytes } from 'node:crypto';
import { ModelCatalog } from 'src/modules/model/catalog/model-catalog.service';
import { CredentialsService } from 'src/modules/model/credentials.service';
import { DataSource } from 'typeorm';

/**
 * The provider catalog (`GET /language-models`, detail, icons) and per-account credentials
 * (`/language-models/credentials`), against a fake OpenAI for the test calls.
 */

const PROVIDERS = [
  'openai',
  'moonshot',
  'deepseek',
  'tongyi',
  'anthropic',
  'gemini',
  'ollama',
  'openai_compatible',
];
const SERVER_KEY = 'sk-server-default-0000';

type Res = Promise<{ status: number; body: any }>;

/** Every console response is HTTP 200, errors included; returns the envelope. */
async function consoleCall(res: Res): Promise<any> {
  const r = await res;
  expect(r.status).toBe(200);
  return r.body;
}

const secretKey = () => `sk-acct-${randomBytes(12).toString('hex')}`;

describe('language models', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let a: TestAccount;

  beforeAll(async () => {
    fake = await FakeOpenAI.create();
    t = await createTestApp({
      env: {
        OPENAI_API_KEY: SERVER_KEY,
        OPENAI_API_BASE: fake.baseURL,
        MODEL_MAX_RETRIES: '0',
        // Not set: ANTHROPIC_API_KEY, OPENAI_COMPATIBLE_API_BASE, OUTBOUND_ALLOW_HOSTS.
        ANTHROPIC_API_KEY: '',
        OUTBOUND_ALLOW_HOSTS: '',
      },
    });
    a = await createAccount(t);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });
  afterEach(() => fake.reset());

  const get = (acc: TestAccount, path: string) =>
    consoleCall(t.http().get(path).set(acc.auth).set('Content-Type', 'application/json'));
  const post = (acc: TestAccount, path: string, body: Record<string, unknown> = {}) =>
    consoleCall(t.http().post(path).set(acc.auth).send(body));

  describe('GET /language-models', () => {
    it('lists every provider in position order with the console shape', async () => {
      const res = await get(a, '/language-models');
      expect(res.code).toBe('success');
      expect(Array.isArray(res.data)).toBe(true); // a plain array, not a paginator
      expect(res.data.map((p: any) => p.name)).toEqual(PROVIDERS);
      const positions = res.data.map((p: any) => p.position);
      expect(positions.every((n: unknown) => Number.isInteger(n))).toBe(true);
      expect([...positions].sort((x: number, y: number) => x - y)).toEqual(positions);
      for (const p of res.data) {
        expect(Object.keys(p).sort()).toEqual(
          [
            'background',
            'configured',
            'description',
            'icon',
            'label',
            'models',
            'name',
            'position',
            'support_model_types',
          ].sort(),
        );
        expect(p).toEqual({
          name: expect.stringMatching(/^[a-z_]+$/),
          position: expect.any(Number),
          label: expect.any(String),
          icon: expect.stringMatching(/\.(svg|png)$/),
          description: expect.any(String),
          background: expect.stringMatching(/^#[0-9A-Fa-f]{6}$/),
          support_model_types: expect.arrayContaining(['chat']),
          configured: expect.any(Boolean),
          models: expect.any(Array),
        });
        expect(p.label.length).toBeGreaterThan(0);
        for (const m of p.models) {
          expect(m).toEqual({
            model_name: expect.any(String),
            label: expect.any(String),
            model_type: 'chat', // the default filter
            features: expect.any(Array),
            context_window: expect.any(Number),
            max_output_tokens: expect.any(Number),
            attributes: { model: m.model_name },
            metadata: {
              pricing: {
                input: expect.any(Number),
                output: expect.any(Number),
                unit: expect.any(Number),
                currency: expect.stringMatching(/^[A-Z]{3}$/),
              },
            },
            parameters: expect.any(Array),
          });
          for (const f of m.features)
            expect(['tool_call', 'agent_thought', 'image_input']).toContain(f);
          expect(m.context_window).toBeGreaterThan(0);
          expect(m.max_output_tokens).toBeGreaterThan(0);
          expect(m.parameters.length).toBeGreaterThan(0);
          for (const param of m.parameters) {
            expect(Object.keys(param).sort()).toEqual(
              [
                'default',
                'help',
                'label',
                'max',
                'min',
                'name',
                'options',
                'precision',
                'required',
                'type',
              ].sort(),
            );
            expect(['float', 'int', 'string', 'boolean']).toContain(param.type);
            expect(typeof param.required).toBe('boolean');
            expect(Array.isArray(param.options)).toBe(true);
            expect(Number.isInteger(param.precision)).toBe(true);
          }
        }
      }
      // Every provider but openai_compatible (any model name) ships chat models.
      for (const p of res.data.filter((x: any) => x.name !== 'openai_compatible'))
        expect(p.models.length).toBeGreaterThan(0);
    });

    it('describes gpt-4o-mini with its parameters and price', async () => {
      const res = await get(a, '/language-models');
      const openai = res.data.find((p: any) => p.name === 'openai');
      expect(openai).toMatchObject({
        position: 1,
        label: 'OpenAI',
        icon: 'icon.svg',
        support_model_types: ['chat', 'embedding'],
      });
      const mini = openai.models.find((m: any) => m.model_name === 'gpt-4o-mini');
      expect(mini).toMatchObject({
        label: 'GPT-4o mini',
        model_type: 'chat',
        features: ['tool_call', 'agent_thought', 'image_input'],
        context_window: 128000,
        max_output_tokens: 16384,
        attributes: { model: 'gpt-4o-mini' },
        metadata: { pricing: { input: 0.15, output: 0.6, unit: 1_000_000, currency: 'USD' } },
      });
      expect(mini.parameters.map((p: any) => p.name)).toEqual([
        'temperature',
        'top_p',
        'presence_penalty',
        'frequency_penalty',
        'max_tokens',
      ]);
      expect(mini.parameters[0]).toEqual({
        name: 'temperature',
        label: 'Temperature',
        type: 'float',
        help: expect.any(String),
        required: false,
        default: 1,
        min: 0,
        max: 2,
        precision: 2,
        options: [],
      });
      expect(mini.parameters.find((p: any) => p.name === 'max_tokens')).toMatchObject({
        type: 'int',
        max: 16384,
        precision: 0,
      });
      // Anthropic's max_tokens is required and its temperature tops out at 1.
      const claude = res.data.find((p: any) => p.name === 'anthropic').models[0];
      expect(claude.parameters.find((p: any) => p.name === 'max_tokens').required).toBe(true);
      expect(claude.parameters.find((p: any) => p.name === 'temperature').max).toBe(1);
    });

    it('lists dynamic models while they are registered (the cached list follows them)', async () => {
      const catalog = t.app.get(ModelCatalog);
      const names = async () =>
        (await get(a, '/language-models')).data
          .find((p: any) => p.name === 'openai_compatible')
          .models.map((m: any) => m.model_name);
      const res = await t.http().get('/language-models').set(a.auth);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(await names()).not.toContain('my-deployment');
      catalog.registerDynamic({ model_name: 'my-deployment', base_url: 'http://127.0.0.1:9/v1' });
      try {
        expect(await names()).toContain('my-deployment');
      } finally {
        catalog.unregisterDynamic('my-deployment');
      }
      expect(await names()).not.toContain('my-deployment');
    });

    it('lists chat models only by default; embedding and all on request', async () => {
      const chat = await get(a, '/language-models');
      const embedding = await get(a, '/language-models?model_type=embedding');
      const all = await get(a, '/language-models?model_type=all');
      const explicitChat = await get(a, '/language-models?model_type=chat');
      const names = (res: any, provider: string) =>
        res.data.find((p: any) => p.name === provider).models.map((m: any) => m.model_name);
      expect(explicitChat.data).toEqual(chat.data);
      expect(names(chat, 'openai')).toContain('gpt-4o-mini');
      expect(names(chat, 'openai')).not.toContain('text-embedding-3-small');
      expect(names(embedding, 'openai')).toEqual([
        'text-embedding-3-small',
        'text-embedding-3-large',
      ]);
      expect(names(embedding, 'anthropic')).toEqual([]);
      expect(names(embedding, 'ollama')).toEqual(['nomic-embed-text']);
      const small = embedding.data
        .find((p: any) => p.name === 'openai')
        .models.find((m: any) => m.model_name === 'text-embedding-3-small');
      expect(small).toMatchObject({
        model_type: 'embedding',
        attributes: { model: 'text-embedding-3-small', dimensions: 1536 },
        metadata: { pricing: { input: 0.02, output: 0, unit: 1_000_000, currency: 'USD' } },
        parameters: [],
      });
      for (const p of all.data) {
        const chatCount = chat.data.find((x: any) => x.name === p.name).models.length;
        const embCount = embedding.data.find((x: any) => x.name === p.name).models.length;
        expect(p.models.length).toBe(chatCount + embCount);
      }
      // Empty filters come as empty strings from the console: the default applies.
      expect((await get(a, '/language-models?model_type=')).data).toEqual(chat.data);
    });

    it('answers validate_error for an unknown model_type', async () => {
      const res = await get(a, '/language-models?model_type=image');
      expect(res.code).toBe('validate_error');
      expect(res.message).toBe('model_type must be chat, embedding or all');
      expect(res.data).toEqual({ model_type: ['model_type must be chat, embedding or all'] });
    });

    it('shows which providers can be called', async () => {
      const res = await get(a, '/language-models');
      const configured = Object.fromEntries(res.data.map((p: any) => [p.name, p.configured]));
      expect(configured).toMatchObject({
        openai: true, // OPENAI_API_KEY on the server
        anthropic: false,
        moonshot: false,
        ollama: true, // no key needed, default local address
        openai_compatible: false, // base_url required
      });
    });

    it('needs a signed-in account', async () => {
      for (const path of [
        '/language-models',
        '/language-models/openai/gpt-4o-mini',
        '/language-models/credentials',
      ]) {
        const res = await consoleCall(t.http().get(path));
        expect(res.code).toBe('unauthorized');
      }
      const set = await consoleCall(
        t.http().post('/language-models/credentials/openai').send({ api_key: secretKey() }),
      );
      expect(set.code).toBe('unauthorized');
    });
  });

  describe('GET /language-models/:provider_name/:model_name', () => {
    it('answers one model', async () => {
      const res = await get(a, '/language-models/openai/gpt-4o-mini');
      expect(res.code).toBe('success');
      const list = await get(a, '/language-models');
      const fromList = list.data
        .find((p: any) => p.name === 'openai')
        .models.find((m: any) => m.model_name === 'gpt-4o-mini');
      expect(res.data).toEqual(fromList);
      const emb = await get(a, '/language-models/openai/text-embedding-3-small');
      expect(emb.data.model_type).toBe('embedding');
    });

    it('answers a custom Ollama tag with generic parameters', async () => {
      const res = await get(a, '/language-models/ollama/mistral:7b');
      expect(res.code).toBe('success');
      expect(res.data).toMatchObject({ model_name: 'mistral:7b', model_type: 'chat' });
      expect(res.data.parameters.map((p: any) => p.name)).toContain('temperature');
    });

    it('answers not_found for an unknown provider or model', async () => {
      const provider = await get(a, '/language-models/nope/gpt-4o-mini');
      expect(provider.code).toBe('not_found');
      expect(provider.message).toMatch(/nope/);
      const model = await get(a, '/language-models/openai/gpt-nope');
      expect(model.code).toBe('not_found');
      expect(model.message).toMatch(/gpt-nope/);
    });
  });

  describe('GET /language-models/:provider_name/icon', () => {
    it('serves the image without a token', async () => {
      for (const name of PROVIDERS) {
        const res = await t
          .http()
          .get(`/language-models/${name}/icon`)
          .buffer(true)
          .parse((r, cb) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () => cb(null, Buffer.concat(chunks)));
          });
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toMatch(/^image\/svg\+xml/);
        const body = (res.body as Buffer).toString('utf8');
        expect(body).toMatch(/^<svg[\s>]/);
        expect(body).not.toMatch(/"code"/);
      }
    });

    it('answers not_found for an unknown provider', async () => {
      const res = await t.http().get('/language-models/nope/icon');
      expect(res.body).toMatchObject({ code: 'not_found' });
    });
  });

  describe('credentials', () => {
    const creds = (acc: TestAccount) => get(acc, '/language-models/credentials');
    const setCred = (acc: TestAccount, provider: string, body: Record<string, unknown>) =>
      post(acc, `/language-models/credentials/${provider}`, body);
    const entry = (list: any, provider: string) =>
      list.data.find((c: any) => c.provider === provider);
    const storedRow = async (accountId: string, provider: string) => {
      const rows = await t.app
        .get(DataSource)
        .query<{ secret: string; api_key_hint: string; base_url: string }[]>(
          'SELECT secret, api_key_hint, base_url FROM model_credentials WHERE account_id = $1 AND provider = $2',
          [accountId, provider],
        );
      return rows[0];
    };

    it('lists every provider, unconfigured or server defaults, for a new account', async () => {
      const acc = await createAccount(t);
      const res = await creds(acc);
      expect(res.code).toBe('success');
      expect(res.data.map((c: any) => c.provider)).toEqual(PROVIDERS);
      expect(entry(res, 'openai')).toEqual({
        provider: 'openai',
        label: 'OpenAI',
        configured: true,
        source: 'server',
        api_key: '', // the server's key is never shown
        base_url: '',
        organization: '',
        fields: { api_key: 'required', base_url: 'optional', organization: 'optional' },
        last_tested_at: 0,
        last_test_status: null,
        last_test_error: null,
      });
      expect(entry(res, 'anthropic')).toMatchObject({ configured: false, source: 'none' });
      expect(entry(res, 'openai_compatible')).toMatchObject({
        configured: false,
        source: 'none',
        fields: { api_key: 'optional', base_url: 'required' },
      });
      expect(entry(res, 'ollama')).toMatchObject({
        configured: true,
        source: 'server',
        fields: { api_key: 'none', base_url: 'optional' },
      });
      expect(JSON.stringify(res)).not.toContain(SERVER_KEY);
    });

    it('stores a key sealed and answers it masked everywhere', async () => {
      const acc = await createAccount(t);
      const key = secretKey();
      const res = await setCred(acc, 'anthropic', { api_key: key });
      expect(res.code).toBe('success');
      expect(res.data).toMatchObject({
        provider: 'anthropic',
        configured: true,
        source: 'account',
        api_key: `${key.slice(0, 3)}…${key.slice(-4)}`,
        base_url: '',
        last_test_status: null,
      });
      expect(JSON.stringify(res)).not.toContain(key);
      const list = await creds(acc);
      expect(entry(list, 'anthropic')).toMatchObject({
        source: 'account',
        api_key: res.data.api_key,
      });
      expect(JSON.stringify(list)).not.toContain(key);
      const models = await get(acc, '/language-models');
      expect(models.data.find((p: any) => p.name === 'anthropic').configured).toBe(true);
      expect(JSON.stringify(models)).not.toContain(key);
      // At rest: sealed, not the clear key nor an obvious encoding of it.
      const row = await storedRow(acc.id, 'anthropic');
      expect(row.secret).not.toContain(key);
      expect(row.secret).not.toContain(key.slice(8));
      expect(row.secret).not.toContain(Buffer.from(key).toString('base64'));
      expect(row.api_key_hint).toBe(res.data.api_key);
      // ... yet the runtime gets the real key back.
      const resolved = await t.app.get(CredentialsService).resolve(acc.id, 'anthropic');
      expect(resolved).toMatchObject({ apiKey: key, source: 'account', userSupplied: false });
    });

    it.each([
      ['not a URL', 'not a url', /valid URL/],
      ['not http(s)', 'ftp://files.example.com/v1', /http\(s\)/],
      ['with credentials', 'https://user:pass@api.example.com/v1', /credentials/],
      ['a loopback address', 'http://127.0.0.1:11434/v1', /loopback/],
      ['a private address', 'http://10.0.0.5/v1', /private/],
      ['a metadata host', 'http://metadata.google.internal/v1', /metadata/],
    ])('refuses a base_url that is %s', async (_label, base_url, message) => {
      const acc = await createAccount(t);
      const res = await setCred(acc, 'openai', { api_key: secretKey(), base_url });
      expect(res.code).toBe('validate_error');
      expect(Object.keys(res.data)).toEqual(['base_url']);
      expect(res.data.base_url[0]).toMatch(message);
      expect(res.message).toBe(res.data.base_url[0]);
      expect(await storedRow(acc.id, 'openai')).toBeUndefined();
    });

    it('refuses the fake (loopback) as an openai_compatible base_url without OUTBOUND_ALLOW_HOSTS', async () => {
      const res = await setCred(a, 'openai_compatible', { base_url: fake.baseURL });
      expect(res.code).toBe('validate_error');
      expect(res.data.base_url[0]).toMatch(/loopback/);
      expect(res.data.base_url[0]).toMatch(/OUTBOUND_ALLOW_HOSTS/);
    });

    it('refuses at call time a host name that resolves to a loopback address', async () => {
      const acc = await createAccount(t);
      const base_url = fake.baseURL.replace('127.0.0.1', 'localhost');
      // A name is not resolved when saved; the guarded connection checks every address.
      const set = await setCred(acc, 'openai_compatible', { base_url });
      expect(set.code).toBe('success');
      const res = await post(acc, '/language-models/credentials/openai_compatible/test', {
        model: 'any-model',
      });
      expect(res.code).toBe('success');
      expect(res.data.ok).toBe(false);
      expect(res.data.error).toMatch(/localhost \(.+\).*loopback.*OUTBOUND_ALLOW_HOSTS/);
      expect(fake.requests).toHaveLength(0);
    });

    it('requires api_key for openai, refuses it for ollama, needs base_url for openai_compatible', async () => {
      const acc = await createAccount(t);
      const openai = await setCred(acc, 'openai', { base_url: 'https://api.example.com/v1' });
      expect(openai.code).toBe('validate_error');
      expect(openai.data).toEqual({ api_key: ['api_key is required for OpenAI'] });
      const ollama = await setCred(acc, 'ollama', { api_key: secretKey() });
      expect(ollama.code).toBe('validate_error');
      expect(ollama.data).toEqual({ api_key: ['Ollama takes no API key'] });
      const compatible = await setCred(acc, 'openai_compatible', { api_key: secretKey() });
      expect(compatible.code).toBe('validate_error');
      expect(compatible.data.base_url).toEqual(['base_url is required for OpenAI-compatible']);
      const org = await setCred(acc, 'anthropic', { api_key: secretKey(), organization: 'org-1' });
      expect(org.code).toBe('validate_error');
      expect(org.data.organization).toBeDefined();
      const notString = await setCred(acc, 'openai', { api_key: 12345 });
      expect(notString.code).toBe('validate_error');
      expect(notString.data.api_key).toBeDefined();
      const unknown = await setCred(acc, 'nope', { api_key: secretKey() });
      expect(unknown.code).toBe('not_found');
      // Nothing was stored.
      expect((await creds(acc)).data.every((c: any) => c.source !== 'account')).toBe(true);
      // Ollama with only a base URL is fine.
      const ok = await setCred(acc, 'ollama', { base_url: 'https://ollama.example.com/' });
      expect(ok.code).toBe('success');
      expect(ok.data).toMatchObject({ api_key: '', base_url: 'https://ollama.example.com' });
    });

    it('keeps the stored key when only base_url changes', async () => {
      const acc = await createAccount(t);
      const key = secretKey();
      const first = await setCred(acc, 'openai', { api_key: key, organization: 'org-a' });
      expect(first.code).toBe('success');
      const second = await setCred(acc, 'openai', { base_url: 'https://gateway.example.com/v1' });
      expect(second.code).toBe('success');
      expect(second.data).toMatchObject({
        api_key: first.data.api_key,
        base_url: 'https://gateway.example.com/v1',
        organization: 'org-a',
      });
      const resolved = await t.app.get(CredentialsService).resolve(acc.id, 'openai');
      expect(resolved).toMatchObject({
        apiKey: key,
        organization: 'org-a',
        baseUrl: 'https://gateway.example.com/v1',
        userSupplied: true,
      });
      // A new key replaces the old one; an empty base_url goes back to the default.
      const key2 = secretKey();
      const third = await setCred(acc, 'openai', { api_key: key2, base_url: '' });
      expect(third.data.api_key).toBe(`${key2.slice(0, 3)}…${key2.slice(-4)}`);
      expect(third.data.base_url).toBe('');
      expect(await t.app.get(CredentialsService).resolve(acc.id, 'openai')).toMatchObject({
        apiKey: key2,
        userSupplied: false,
      });
    });

    it('deletes credentials; deleting again is not_found', async () => {
      const acc = await createAccount(t);
      expect((await setCred(acc, 'anthropic', { api_key: secretKey() })).code).toBe('success');
      const del = await post(acc, '/language-models/credentials/anthropic/delete');
      expect(del).toEqual({ code: 'success', message: expect.any(String), data: {} });
      expect(entry(await creds(acc), 'anthropic')).toMatchObject({
        configured: false,
        source: 'none',
        api_key: '',
      });
      expect(await storedRow(acc.id, 'anthropic')).toBeUndefined();
      const again = await post(acc, '/language-models/credentials/anthropic/delete');
      expect(again.code).toBe('not_found');
      const unknown = await post(acc, '/language-models/credentials/nope/delete');
      expect(unknown.code).toBe('not_found');
    });

    it("keeps accounts apart: B never sees or uses A's key", async () => {
      const accA = await createAccount(t);
      const accB = await createAccount(t);
      const keyA = secretKey();
      expect((await setCred(accA, 'openai', { api_key: keyA })).code).toBe('success');
      expect((await setCred(accA, 'anthropic', { api_key: secretKey() })).code).toBe('success');

      const listB = await creds(accB);
      expect(entry(listB, 'openai')).toMatchObject({ source: 'server', api_key: '' });
      expect(entry(listB, 'anthropic')).toMatchObject({ configured: false, source: 'none' });
      const modelsB = await get(accB, '/language-models');
      expect(modelsB.data.find((p: any) => p.name === 'anthropic').configured).toBe(false);

      // B's call goes out with the server's key, A's with A's.
      const testB = await post(accB, '/language-models/credentials/openai/test');
      expect(testB.data.ok).toBe(true);
      expect(fake.lastRequest()?.headers.authorization).toBe(`Bearer ${SERVER_KEY}`);
      const testA = await post(accA, '/language-models/credentials/openai/test');
      expect(testA.data.ok).toBe(true);
      expect(fake.lastRequest()?.headers.authorization).toBe(`Bearer ${keyA}`);

      // B cannot delete A's credentials.
      expect((await post(accB, '/language-models/credentials/openai/delete')).code).toBe(
        'not_found',
      );
      expect(entry(await creds(accA), 'openai').source).toBe('account');
    });

    describe('POST /language-models/credentials/:provider/test', () => {
      it('makes one cheap call and records the outcome', async () => {
        const acc = await createAccount(t);
        expect((await setCred(acc, 'openai', { api_key: secretKey() })).code).toBe('success');
        fake.enqueue({ type: 'text', text: 'pong' });
        const res = await post(acc, '/language-models/credentials/openai/test');
        expect(res).toEqual({
          code: 'success',
          message: expect.any(String),
          data: {
            ok: true,
            provider: 'openai',
            model: 'gpt-4o-mini',
            latency_ms: expect.any(Number),
            error: null,
          },
        });
        expect(fake.requestsTo('chat')).toHaveLength(1);
        expect(fake.lastRequest()?.body).toMatchObject({ model: 'gpt-4o-mini', max_tokens: 1 });
        const saved = entry(await creds(acc), 'openai');
        expect(saved).toMatchObject({ last_test_status: 'ok', last_test_error: null });
        expect(saved.last_tested_at).toBeGreaterThan(Date.now() / 1000 - 60);
        expect(saved.last_tested_at).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
      });

      it('tests a named model', async () => {
        const res = await post(a, '/language-models/credentials/openai/test', {
          model: 'gpt-4.1-mini',
        });
        expect(res.data).toMatchObject({ ok: true, model: 'gpt-4.1-mini' });
        expect(fake.lastRequest()?.body.model).toBe('gpt-4.1-mini');
      });

      it('answers ok:false with the provider error when the key is refused', async () => {
        const acc = await createAccount(t);
        const key = secretKey();
        expect((await setCred(acc, 'openai', { api_key: key })).code).toBe('success');
        fake.enqueue({ type: 'error', status: 401, message: 'Incorrect API key provided: sk-...' });
        const res = await post(acc, '/language-models/credentials/openai/test');
        expect(res.code).toBe('success');
        expect(res.data).toMatchObject({ ok: false, provider: 'openai', model: 'gpt-4o-mini' });
        expect(res.data.error).toMatch(/Incorrect API key/);
        expect(fake.requestsTo('chat')).toHaveLength(1); // 401 is not retried
        expect(JSON.stringify(res)).not.toContain(key);
        const saved = entry(await creds(acc), 'openai');
        expect(saved).toMatchObject({ last_test_status: 'failed' });
        expect(saved.last_test_error).toMatch(/Incorrect API key/);
        // Saving the credentials again clears the last test.
        const again = await setCred(acc, 'openai', { api_key: secretKey() });
        expect(again.data).toMatchObject({ last_test_status: null, last_test_error: null });
      });

      it('answers fail naming what to configure when the provider is not configured', async () => {
        const acc = await createAccount(t);
        const res = await post(acc, '/language-models/credentials/anthropic/test');
        expect(res.code).toBe('fail');
        expect(res.message).toMatch(/not configured/);
        expect(res.message).toMatch(/ANTHROPIC_API_KEY/);
        expect(res.message).toMatch(/\/language-models\/credentials\/anthropic/);
        const compatible = await post(acc, '/language-models/credentials/openai_compatible/test', {
          model: 'my-model',
        });
        expect(compatible.code).toBe('fail');
        expect(compatible.message).toMatch(/OPENAI_COMPATIBLE_API_BASE/);
        expect(fake.requests).toHaveLength(0);
      });

      it('answers not_found for an unknown provider or model', async () => {
        expect((await post(a, '/language-models/credentials/nope/test')).code).toBe('not_found');
        const model = await post(a, '/language-models/credentials/openai/test', {
          model: 'gpt-nope',
        });
        expect(model.code).toBe('not_found');
        expect(model.message).toMatch(/gpt-nope/);
        const embedding = await post(a, '/language-models/credentials/openai/test', {
          model: 'text-embedding-3-small',
        });
        expect(embedding.code).toBe('not_found');
        expect(embedding.message).toMatch(/not a chat model/);
        expect(fake.requests).toHaveLength(0);
      });
    });
  });
});

describe('language model credentials with OUTBOUND_ALLOW_HOSTS', () => {
  let fake: FakeOpenAI;
  let t: TestApp;

  beforeAll(async () => {
    fake = await FakeOpenAI.create();
    t = await createTestApp({
      env: { OUTBOUND_ALLOW_HOSTS: '127.0.0.1', MODEL_MAX_RETRIES: '0', OPENAI_API_KEY: '' },
    });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('accepts an allow-listed loopback base_url for openai_compatible and calls it', async () => {
    const acc = await createAccount(t);
    const key = secretKey();
    const set = await consoleCall(
      t
        .http()
        .post('/language-models/credentials/openai_compatible')
        .set(acc.auth)
        .send({ base_url: `${fake.baseURL}/`, api_key: key }),
    );
    expect(set.code).toBe('success');
    expect(set.data).toMatchObject({
      provider: 'openai_compatible',
      configured: true,
      source: 'account',
      base_url: fake.baseURL, // trailing slash dropped
    });
    // openai_compatible has no catalog models: the test names one.
    const noModel = await consoleCall(
      t.http().post('/language-models/credentials/openai_compatible/test').set(acc.auth).send({}),
    );
    expect(noModel.code).toBe('fail');
    expect(noModel.message).toMatch(/model/);
    const res = await consoleCall(
      t
        .http()
        .post('/language-models/credentials/openai_compatible/test')
        .set(acc.auth)
        .send({ model: 'my-local-llm' }),
    );
    expect(res.data).toMatchObject({
      ok: true,
      provider: 'openai_compatible',
      model: 'my-local-llm',
    });
    expect(fake.lastRequest()?.body.model).toBe('my-local-llm');
    expect(fake.lastRequest()?.headers.authorization).toBe(`Bearer ${key}`);
    // Without a server key, openai is unconfigured for this account.
    const openai = await consoleCall(
      t.http().post('/language-models/credentials/openai/test').set(acc.auth).send({}),
    );
    expect(openai.code).toBe('fail');
    expect(openai.message).toMatch(/OPENAI_API_KEY/);
  });
});
