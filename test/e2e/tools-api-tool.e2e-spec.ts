import { FakeOpenApi, LEAK_MARKER } from '@test/fakes/fake-openapi';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { DataSource } from 'typeorm';

/**
 * API tools end to end: documents in every accepted format imported from a fake REST API on
 * loopback, the tools listed and invoked through the runtime, what the fake received checked
 * (provider auth header included), bad documents refused with nothing stored, masked headers,
 * the SSRF guard, and ownership.
 */

const TOKEN = 'fake-api-token-0123456789';
const ICON = 'http://localhost:5000/icons/items.png';

interface Envelope<T = Record<string, unknown>> {
  code: string;
  message: string;
  data: T;
}
interface ToolResult {
  ok: boolean;
  output: string;
  data: Record<string, unknown> | string | null;
  error: string;
  latency: number;
}
interface ListItem {
  id: string;
  name: string;
  icon: string;
  description: string;
  headers: Array<{ key: string; value: string }>;
  tools: Array<{
    id: string;
    name: string;
    description: string;
    inputs: Array<{ name: string; description: string; required: boolean; type: string }>;
  }>;
  created_at: number;
}

describe('API tools (e2e)', () => {
  let t: TestApp;
  let fake: FakeOpenApi; // 127.0.0.1: allow-listed
  let blocked: FakeOpenApi; // 127.0.0.2: not allow-listed
  let acc: TestAccount;

  beforeAll(async () => {
    fake = await new FakeOpenApi('127.0.0.1').start();
    blocked = await new FakeOpenApi('127.0.0.2').start();
    fake.token = TOKEN;
    t = await createTestApp({ env: { OUTBOUND_ALLOW_HOSTS: '127.0.0.1' } });
    acc = await createAccount(t);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
    await blocked?.stop();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    blocked.requests.length = 0;
  });

  const get = async <T = Record<string, unknown>>(
    a: TestAccount,
    path: string,
    query: Record<string, unknown> = {},
  ): Promise<Envelope<T>> => {
    const res = await t.http().get(path).query(query).set(a.auth);
    expect(res.status).toBe(200);
    return res.body as Envelope<T>;
  };
  const post = async <T = Record<string, unknown>>(
    a: TestAccount,
    path: string,
    body: Record<string, unknown> = {},
  ): Promise<Envelope<T>> => {
    const res = await t.http().post(path).set(a.auth).send(body);
    expect(res.status).toBe(200);
    return res.body as Envelope<T>;
  };
  const rows = async (accountId: string): Promise<[number, number]> => {
    const db = t.app.get(DataSource);
    const [p] = await db.query<Array<{ n: number }>>(
      'SELECT count(*)::int AS n FROM api_tool_providers WHERE account_id = $1',
      [accountId],
    );
    const [tl] = await db.query<Array<{ n: number }>>(
      'SELECT count(*)::int AS n FROM api_tools WHERE account_id = $1',
      [accountId],
    );
    return [p.n, tl.n];
  };
  const create = async (
    a: TestAccount,
    name: string,
    schema: string,
    headers = [{ key: 'Authorization', value: `Bearer ${TOKEN}` }],
  ): Promise<string> => {
    const res = await post<{ id: string }>(a, '/api-tools', {
      name,
      icon: ICON,
      openapi_schema: schema,
      headers,
      fileList: [{ uid: '1', name: 'icon.png', url: ICON }], // the console's whole form model
    });
    expect(res).toMatchObject({ code: 'success', message: 'API tool provider created' });
    return res.data.id;
  };
  const invoke = async (
    providerId: string,
    tool: string,
    args: Record<string, unknown>,
    a: TestAccount = acc,
  ): Promise<ToolResult> => {
    const res = await post<ToolResult>(a, `/api-tools/${providerId}/tools/${tool}/invoke`, {
      arguments: args,
    });
    expect(res.code).toBe('success');
    return res.data;
  };

  describe('imports every format and calls every method', () => {
    let ids: Record<'v30' | 'v31' | 'v20' | 'llmops', string>;

    beforeAll(async () => {
      ids = {
        v30: await create(acc, 'items 3.0', fake.openapi30()),
        v31: await create(acc, 'items 3.1', fake.openapi31()),
        v20: await create(acc, 'items 2.0', fake.swagger20()),
        llmops: await create(acc, 'items llmops', fake.llmops()),
      };
    });

    it('lists the providers with their tools and typed inputs', async () => {
      const res = await get<{ list: ListItem[]; paginator: Record<string, number> }>(
        acc,
        '/api-tools',
      );
      expect(res.code).toBe('success');
      const byName = new Map(res.data.list.map((p) => [p.name, p]));
      const v30 = byName.get('items 3.0')!;
      expect(v30).toMatchObject({
        id: ids.v30,
        icon: ICON,
        description: 'Items over OpenAPI 3.0.3',
        headers: [{ key: 'Authorization', value: 'Bear…' }],
      });
      expect(typeof v30.created_at).toBe('number');
      expect(v30.tools.map((x) => x.name)).toEqual([
        'getItem',
        'replaceItem',
        'patchItem',
        'deleteItem',
        'createItem',
        'getText',
        'getMissing',
        'getBroken',
        'followRedirect',
      ]);
      const getItem = v30.tools.find((x) => x.name === 'getItem')!;
      expect(getItem).toMatchObject({ description: 'Read one item' });
      expect(getItem.inputs).toEqual([
        { name: 'id', description: '', required: true, type: 'int' },
        { name: 'verbose', description: '', required: false, type: 'bool' },
        { name: 'tags', description: '', required: false, type: 'str' },
        { name: 'X-Request-Tag', description: '', required: false, type: 'str' },
        { name: 'session', description: '', required: false, type: 'str' },
      ]);
      const createItem = v30.tools.find((x) => x.name === 'createItem')!;
      expect(createItem.inputs).toEqual([
        { name: 'dry', description: '', required: false, type: 'bool' },
        { name: 'name', description: 'Item name', required: true, type: 'str' },
        { name: 'price', description: '', required: false, type: 'float' },
        { name: 'tags', description: '', required: false, type: 'str' },
      ]);
      expect(byName.get('items 3.1')!.tools).toHaveLength(9);
      expect(
        byName
          .get('items 2.0')!
          .tools.map((x) => x.name)
          .sort(),
      ).toEqual(['createItem', 'deleteItem', 'getItem', 'patchItem', 'replaceItem'].sort());
      const llmops = byName.get('items llmops')!;
      expect(llmops.description).toBe('Items in the LLMOps format');
      expect(llmops.tools.find((x) => x.name === 'createItem')!.inputs).toEqual([
        { name: 'X-Request-Tag', description: '', required: false, type: 'str' },
        { name: 'name', description: 'Name', required: true, type: 'str' },
        { name: 'price', description: '', required: false, type: 'float' },
      ]);
    });

    it('GET with path, query (arrays repeated), header and cookie parameters (3.0 JSON)', async () => {
      const r = await invoke(ids.v30, 'getItem', {
        id: 7,
        verbose: true,
        tags: ['a', 'b c'],
        'X-Request-Tag': 'tag-1',
        session: 's=1;2',
      });
      expect(r).toMatchObject({ ok: true, error: '' });
      expect(typeof r.latency).toBe('number');
      expect(r.data).toMatchObject({ ok: true, method: 'GET', id: '7' });
      const seen = fake.last()!;
      expect(seen).toMatchObject({
        method: 'GET',
        path: '/items/7',
        query: { verbose: 'true', tags: ['a', 'b c'] },
        cookies: { session: 's=1;2' },
      });
      expect(seen.headers['x-request-tag']).toBe('tag-1');
      expect(seen.headers.authorization).toBe(`Bearer ${TOKEN}`);
    });

    it('POST, PUT, PATCH and DELETE with JSON bodies and headers (3.0 JSON)', async () => {
      const created = await invoke(ids.v30, 'createItem', { dry: false, name: 'lamp', price: 9.5 });
      expect(created.ok).toBe(true);
      expect(fake.last()).toMatchObject({
        method: 'POST',
        path: '/items',
        query: { dry: 'false' },
        body: { name: 'lamp', price: 9.5 },
      });
      expect(fake.last()!.headers['content-type']).toBe('application/json');

      await invoke(ids.v30, 'replaceItem', { id: 3, name: 'desk', tags: ['x'] });
      expect(fake.last()).toMatchObject({
        method: 'PUT',
        path: '/items/3',
        body: { name: 'desk', tags: ['x'] },
      });

      await invoke(ids.v30, 'patchItem', { id: 3, price: 1 });
      expect(fake.last()).toMatchObject({ method: 'PATCH', path: '/items/3', body: { price: 1 } });

      const del = await invoke(ids.v30, 'deleteItem', { id: 3, 'X-Reason': 'sold' });
      expect(del).toMatchObject({ ok: true, data: '', output: '' });
      expect(fake.last()).toMatchObject({ method: 'DELETE', path: '/items/3' });
      expect(fake.last()!.headers['x-reason']).toBe('sold');
      for (const r of fake.requests) expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(fake.requests).toHaveLength(4);
    });

    it('OpenAPI 3.1 YAML', async () => {
      const r = await invoke(ids.v31, 'getItem', { id: 1, session: 'abc' });
      expect(r.data).toMatchObject({ id: '1' });
      expect(fake.last()!.cookies).toEqual({ session: 'abc' });
      await invoke(ids.v31, 'createItem', { name: 'chair' });
      expect(fake.last()).toMatchObject({ method: 'POST', body: { name: 'chair' } });
      expect(fake.last()!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    });

    it('Swagger 2.0: JSON body, form body, header, delete', async () => {
      await invoke(ids.v20, 'getItem', { id: 2, verbose: false, 'X-Request-Tag': 't2' });
      expect(fake.last()).toMatchObject({ path: '/items/2', query: { verbose: 'false' } });
      expect(fake.last()!.headers['x-request-tag']).toBe('t2');
      await invoke(ids.v20, 'replaceItem', { id: 2, name: 'sofa', price: 100 });
      expect(fake.last()).toMatchObject({
        method: 'PUT',
        body: { name: 'sofa', price: 100 },
      });
      await invoke(ids.v20, 'patchItem', { id: 2, price: 3.25 });
      expect(fake.last()).toMatchObject({ method: 'PATCH', rawBody: 'price=3.25' });
      expect(fake.last()!.headers['content-type']).toBe('application/x-www-form-urlencoded');
      await invoke(ids.v20, 'deleteItem', { id: 2 });
      expect(fake.last()).toMatchObject({ method: 'DELETE', path: '/items/2' });
      for (const r of fake.requests) expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
    });

    it('the original LLMOps format', async () => {
      await invoke(ids.llmops, 'getItem', { id: 5, verbose: true, session: 'legacy' });
      expect(fake.last()).toMatchObject({
        method: 'GET',
        path: '/items/5',
        query: { verbose: 'true' },
        cookies: { session: 'legacy' },
      });
      await invoke(ids.llmops, 'createItem', { name: 'old', price: 2, 'X-Request-Tag': 'L' });
      expect(fake.last()).toMatchObject({ method: 'POST', body: { name: 'old', price: 2 } });
      expect(fake.last()!.headers['x-request-tag']).toBe('L');
      expect(fake.last()!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    });

    it('text answers, upstream errors without their bodies, invalid arguments', async () => {
      expect(await invoke(ids.v30, 'getText', {})).toMatchObject({
        ok: true,
        data: 'plain text answer',
      });
      const missing = await invoke(ids.v30, 'getMissing', { id: 'x9' });
      expect(missing).toMatchObject({
        ok: false,
        error: 'HTTP 404 Not Found: item x9 is gone',
        data: null,
      });
      const broken = await invoke(ids.v30, 'getBroken', {});
      expect(broken).toMatchObject({ ok: false, error: 'HTTP 500 Internal Server Error' });
      expect(JSON.stringify([missing, broken])).not.toContain(LEAK_MARKER);

      const bad = await post(acc, `/api-tools/${ids.v30}/tools/getItem/invoke`, {
        arguments: { id: 'seven', extra: 1 },
      });
      expect(bad.code).toBe('validate_error');
      expect(bad.data).toHaveProperty('id');
      expect(bad.data).toHaveProperty('extra');
      const missingArg = await post(acc, `/api-tools/${ids.v30}/tools/getItem/invoke`, {});
      expect(missingArg).toMatchObject({ code: 'validate_error', message: 'id is required' });
      expect(fake.requests).toHaveLength(3);
    });

    it('a wrong provider header reaches the API and its 401 comes back', async () => {
      const id = await create(acc, 'items wrong key', fake.openapi30(), [
        { key: 'Authorization', value: 'Bearer wrong-token-000000' },
      ]);
      const r = await invoke(id, 'getItem', { id: 1 });
      expect(r).toMatchObject({
        ok: false,
        error: 'HTTP 401 Unauthorized: missing or wrong token',
      });
      await post(acc, `/api-tools/${id}/delete`);
    });

    it('one tool, the provider, and the tool route shapes', async () => {
      const one = await get(acc, `/api-tools/${ids.v30}`);
      expect(one.data).toMatchObject({
        id: ids.v30,
        name: 'items 3.0',
        icon: ICON,
        openapi_schema: fake.openapi30(),
        headers: [{ key: 'Authorization', value: 'Bear…' }],
      });
      const tool = await get(acc, `/api-tools/${ids.v30}/tools/createItem`);
      expect(tool.data).toMatchObject({
        name: 'createItem',
        description: 'Create an item',
        method: 'POST',
        path: '/items',
        provider: {
          id: ids.v30,
          name: 'items 3.0',
          icon: ICON,
          description: 'Items over OpenAPI 3.0.3',
          headers: [{ key: 'Authorization', value: 'Bear…' }],
        },
      });
      expect(tool.data.inputs).toHaveLength(4);
      expect(await get(acc, `/api-tools/${ids.v30}/tools/nope`)).toMatchObject({
        code: 'not_found',
      });
      expect(await get(acc, '/api-tools/not-a-uuid')).toMatchObject({ code: 'not_found' });
    });

    it('an update replaces the tools; a bad update changes nothing', async () => {
      const id = await create(acc, 'to update', fake.openapi30());
      expect((await rows(acc.id))[1]).toBeGreaterThan(0);
      const bad = await post(acc, `/api-tools/${id}`, {
        name: 'to update',
        icon: ICON,
        openapi_schema: '{"openapi": "3.0.3", "paths": {}}',
        headers: [],
      });
      expect(bad.code).toBe('validate_error');
      const before = await get<{ tools: unknown[] }>(acc, `/api-tools/${id}/tools/getText`);
      expect(before.code).toBe('success');

      const res = await post(acc, `/api-tools/${id}`, {
        name: 'updated',
        icon: ICON,
        openapi_schema: fake.llmops(),
        headers: [{ key: 'Authorization', value: 'Bear…' }],
      });
      expect(res).toMatchObject({ code: 'success', message: 'API tool provider updated' });
      const list = await get<{ list: ListItem[] }>(acc, '/api-tools', { search_word: 'UPDATED' });
      expect(list.data.list).toHaveLength(1);
      expect(list.data.list[0]).toMatchObject({
        name: 'updated',
        description: 'Items in the LLMOps format',
      });
      expect(list.data.list[0].tools.map((x) => x.name)).toEqual(['getItem', 'createItem']);
      expect(await get(acc, `/api-tools/${id}/tools/getText`)).toMatchObject({
        code: 'not_found',
      });
      // The masked header kept the secret: the fake still accepts the calls.
      expect(await invoke(id, 'getItem', { id: 4 })).toMatchObject({ ok: true });

      const [p0, t0] = await rows(acc.id);
      const del = await post(acc, `/api-tools/${id}/delete`);
      expect(del).toMatchObject({ code: 'success', message: 'API tool provider deleted' });
      expect(await rows(acc.id)).toEqual([p0 - 1, t0 - 2]);
      expect(await get(acc, `/api-tools/${id}`)).toMatchObject({ code: 'not_found' });
    });
  });

  describe('bad documents: one validate_error naming where, nothing stored', () => {
    const base = () => JSON.parse(new FakeOpenApi().openapi30()) as Record<string, unknown>;
    const withServer = (doc: Record<string, unknown>) => ({
      ...doc,
      servers: [{ url: fake.url }],
    });
    const cases: Array<[string, () => string, RegExp]> = [
      ['invalid JSON', () => '{"openapi": "3.0.3", "paths": ', /invalid JSON/],
      ['invalid YAML', () => 'openapi: 3.0.3\npaths: [\n  - : :', /invalid YAML/],
      [
        'missing paths',
        () => JSON.stringify({ ...withServer(base()), paths: undefined }),
        /at paths: the document has no paths/,
      ],
      [
        'duplicate operationIds',
        () => {
          const doc = withServer(base()) as unknown as {
            paths: Record<string, Record<string, Record<string, unknown>>>;
          };
          doc.paths['/text'].get.operationId = 'getItem';
          return JSON.stringify(doc);
        },
        /at paths\.\/text\.get\.operationId: duplicate operationId "getItem"/,
      ],
      [
        'no servers',
        () => JSON.stringify({ ...base(), servers: [] }),
        /at servers: the document declares no server URL/,
      ],
      [
        'unsupported version',
        () => JSON.stringify({ ...withServer(base()), openapi: '4.0.0' }),
        /at openapi: unsupported version "4.0.0"/,
      ],
      [
        'invalid document',
        () => {
          const doc = withServer(base()) as unknown as {
            paths: Record<string, Record<string, Record<string, unknown>>>;
          };
          delete doc.paths['/text'].get.responses;
          return JSON.stringify(doc);
        },
        /at paths\.\/text\.get: invalid document: .*responses/,
      ],
      [
        'remote $ref',
        () => {
          const doc = withServer(base()) as unknown as {
            components: { schemas: Record<string, unknown> };
          };
          doc.components.schemas.Item = { $ref: `${fake.url}/items/evil.json` };
          return JSON.stringify(doc);
        },
        /at components\.schemas\.Item\.\$ref: remote \$ref .* is not allowed/,
      ],
    ];

    it.each(cases)('%s', async (_label, schema, message) => {
      const a = await createAccount(t);
      const text = schema();
      const validated = await post(a, '/api-tools/validate-openapi-schema', {
        openapi_schema: text,
      });
      expect(validated.code).toBe('validate_error');
      expect(validated.message).toMatch(message);
      expect(validated.data).toHaveProperty('openapi_schema');
      const created = await post(a, '/api-tools', {
        name: 'bad',
        icon: ICON,
        openapi_schema: text,
      });
      expect(created.code).toBe('validate_error');
      expect(created.message).toMatch(message);
      expect(await rows(a.id)).toEqual([0, 0]);
      expect(fake.requests).toHaveLength(0); // nothing fetched, ever
    });

    it('takes a document of almost 1 MB characters (past BODY_LIMIT in bytes) and refuses a larger one', async () => {
      const a = await createAccount(t);
      const doc = JSON.parse(fake.openapi30()) as { info: Record<string, unknown> };
      const size = fake.openapi30().length;
      doc.info['x-padding'] = 'é'.repeat(990_000 - size); // one character, two bytes in the body
      const big = JSON.stringify(doc);
      expect(big.length).toBeGreaterThan(980_000);
      expect(
        (await post(a, '/api-tools', { name: 'big', icon: ICON, openapi_schema: big })).code,
      ).toBe('success');
      const tooBig = `${big}${' '.repeat(1_000_001 - big.length)}`;
      const res = await post(a, '/api-tools/validate-openapi-schema', { openapi_schema: tooBig });
      expect(res).toMatchObject({
        code: 'validate_error',
        message: 'openapi_schema must be at most 1000000 characters',
      });
      expect(await rows(a.id)).toEqual([1, 9]);
    });

    it('a good document validates with its tools listed', async () => {
      const res = await post(acc, '/api-tools/validate-openapi-schema', {
        openapi_schema: fake.openapi31(),
      });
      expect(res).toMatchObject({
        code: 'success',
        message: 'The OpenAPI schema is valid',
        data: { format: 'openapi-3.1', description: 'Items over OpenAPI 3.1.0' },
      });
      expect(res.data.tools).toContain('followRedirect');
    });
  });

  describe('headers: sealed at rest, masked on read, kept when sent back masked', () => {
    it('round trips', async () => {
      const a = await createAccount(t);
      const secret = 'Bearer super-secret-value-1234';
      const id = await create(a, 'secrets', fake.openapi30(), [
        { key: 'Authorization', value: `Bearer ${TOKEN}` },
        { key: 'X-Api-Key', value: secret },
        { key: 'X-Short', value: 'abc' },
        { key: '', value: '' }, // a blank row of the console's form
      ]);
      const [raw] = await t.app
        .get(DataSource)
        .query<Array<{ headers_sealed: string }>>(
          'SELECT headers_sealed FROM api_tool_providers WHERE id = $1',
          [id],
        );
      expect(raw.headers_sealed).toMatch(/^v1\./);
      expect(raw.headers_sealed).not.toContain('super-secret');
      const read = await get<{ headers: Array<{ key: string; value: string }> }>(
        a,
        `/api-tools/${id}`,
      );
      expect(read.data.headers).toEqual([
        { key: 'Authorization', value: 'Bear…' },
        { key: 'X-Api-Key', value: 'Bear…' },
        { key: 'X-Short', value: '…' },
      ]);
      expect(JSON.stringify(read)).not.toContain('super-secret');

      // The console posts back what it read, with one value changed.
      const headers = read.data.headers.map((h) =>
        h.key === 'X-Short' ? { key: h.key, value: 'new-short' } : h,
      );
      expect(
        (
          await post(a, `/api-tools/${id}`, {
            name: 'secrets',
            icon: ICON,
            openapi_schema: fake.openapi30(),
            headers,
          })
        ).code,
      ).toBe('success');
      await invoke(id, 'getItem', { id: 1 }, a);
      expect(fake.last()!.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(fake.last()!.headers['x-api-key']).toBe(secret);
      expect(fake.last()!.headers['x-short']).toBe('new-short');
    });

    it('bounds and checks headers', async () => {
      const a = await createAccount(t);
      const save = (headers: unknown) =>
        post(a, '/api-tools', {
          name: 'h',
          icon: ICON,
          openapi_schema: fake.openapi30(),
          headers,
        });
      const many = Array.from({ length: 21 }, (_, i) => ({ key: `X-H${i}`, value: 'v' }));
      expect((await save(many)).code).toBe('validate_error');
      expect((await save([{ key: 'X-A', value: 'a'.repeat(4001) }])).code).toBe('validate_error');
      expect((await save([{ key: 'Bad Name', value: 'v' }])).code).toBe('validate_error');
      expect((await save([{ key: 'X-A', value: 'a\r\nInjected: 1' }])).code).toBe('validate_error');
      expect((await save([{ key: 'Host', value: 'evil' }])).code).toBe('validate_error');
      const twice = await save([
        { key: 'X-A', value: '1' },
        { key: 'x-a', value: '2' },
      ]);
      expect(twice).toMatchObject({ code: 'validate_error' });
      expect(twice.message).toContain('appears twice');
      expect(await rows(a.id)).toEqual([0, 0]);
    });
  });

  describe('the SSRF guard', () => {
    it('refuses a server on a loopback address that is not allow-listed', async () => {
      const a = await createAccount(t);
      const doc = JSON.parse(blocked.openapi30()) as Record<string, unknown>;
      const id = await create(a, 'private', JSON.stringify(doc));
      const r = await invoke(id, 'getText', {}, a);
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/Refused to connect to 127\.0\.0\.2: .*not allowed/);
      expect(blocked.requests).toHaveLength(0);
    });

    it('drops the provider headers on a redirect to another origin', async () => {
      const other = await new FakeOpenApi('127.0.0.1').start(); // allowed, another port
      try {
        const a = await createAccount(t);
        const id = await create(a, 'cross origin', fake.openapi30(), [
          { key: 'Authorization', value: `Bearer ${TOKEN}` },
          { key: 'X-Api-Key', value: 'provider-secret-key-42' },
        ]);
        const r = await invoke(id, 'followRedirect', { to: `${other.url}/items/9` }, a);
        expect(r).toMatchObject({ ok: true, data: { id: '9' } });
        expect(fake.last()!.headers['x-api-key']).toBe('provider-secret-key-42');
        expect(other.requests).toHaveLength(1);
        expect(other.last()!.headers.authorization).toBeUndefined();
        expect(other.last()!.headers['x-api-key']).toBeUndefined();
      } finally {
        await other.stop();
      }
    });

    it('checks every redirect hop', async () => {
      const a = await createAccount(t);
      const id = await create(a, 'redirector', fake.openapi30());
      const r = await invoke(id, 'followRedirect', { to: `${blocked.url}/text` }, a);
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/Refused to connect to 127\.0\.0\.2/);
      expect(fake.requests).toHaveLength(1);
      expect(blocked.requests).toHaveLength(0);
    });
  });

  describe('ownership, names, pagination', () => {
    it('answers not_found for another account on every route', async () => {
      const owner = await createAccount(t);
      const other = await createAccount(t);
      const id = await create(owner, 'mine', fake.openapi30());
      const body = { name: 'theirs', icon: ICON, openapi_schema: fake.openapi30() };
      expect(await get(other, `/api-tools/${id}`)).toMatchObject({ code: 'not_found' });
      expect(await post(other, `/api-tools/${id}`, body)).toMatchObject({ code: 'not_found' });
      expect(await post(other, `/api-tools/${id}/delete`)).toMatchObject({ code: 'not_found' });
      expect(await get(other, `/api-tools/${id}/tools/getItem`)).toMatchObject({
        code: 'not_found',
      });
      expect(
        await post(other, `/api-tools/${id}/tools/getItem/invoke`, { arguments: { id: 1 } }),
      ).toMatchObject({ code: 'not_found' });
      const list = await get<{ list: ListItem[] }>(other, '/api-tools');
      expect(list.data.list).toEqual([]);
      expect(fake.requests).toHaveLength(0);
      // Still the owner's, unchanged.
      expect(await get(owner, `/api-tools/${id}`)).toMatchObject({ data: { name: 'mine' } });
    });

    it('checks name length and uniqueness per account', async () => {
      const a = await createAccount(t);
      const b = await createAccount(t);
      const save = (who: TestAccount, name: string) =>
        post(who, '/api-tools', { name, icon: ICON, openapi_schema: fake.llmops() });
      expect(await save(a, 'x'.repeat(31))).toMatchObject({
        code: 'validate_error',
        message: 'name must be 1-30 characters',
      });
      expect((await save(a, 'y'.repeat(60))).code).toBe('validate_error');
      expect((await save(a, '   ')).code).toBe('validate_error');
      expect((await save(a, 'z'.repeat(30))).code).toBe('success');
      expect((await save(a, 'same')).code).toBe('success');
      expect(await save(a, 'same')).toMatchObject({
        code: 'validate_error',
        message: 'An API tool provider with this name already exists',
      });
      expect((await save(b, 'same')).code).toBe('success');
      const list = await get<{ list: ListItem[] }>(a, '/api-tools', { search_word: 'z' });
      const zId = list.data.list[0].id;
      expect(
        await post(a, `/api-tools/${zId}`, {
          name: 'same',
          icon: ICON,
          openapi_schema: fake.llmops(),
        }),
      ).toMatchObject({ code: 'validate_error' });
      expect(await rows(a.id)).toEqual([2, 4]);
      expect(
        (
          await post(a, '/api-tools', {
            name: 'noicon',
            icon: 'not a url',
            openapi_schema: fake.llmops(),
          })
        ).code,
      ).toBe('validate_error');
    });

    it('paginates newest first and searches names case-insensitively', async () => {
      const a = await createAccount(t);
      for (const name of ['Alpha tools', 'beta', 'ALPHA two', 'gamma 50%']) {
        await create(a, name, fake.llmops());
      }
      const page1 = await get<{ list: ListItem[]; paginator: Record<string, number> }>(
        a,
        '/api-tools',
        { current_page: 1, page_size: 3 },
      );
      expect(page1.data.list.map((p) => p.name)).toEqual(['gamma 50%', 'ALPHA two', 'beta']);
      expect(page1.data.paginator).toEqual({
        current_page: 1,
        page_size: 3,
        total_page: 2,
        total_record: 4,
      });
      const page2 = await get<{ list: ListItem[] }>(a, '/api-tools', {
        current_page: 2,
        page_size: 3,
      });
      expect(page2.data.list.map((p) => p.name)).toEqual(['Alpha tools']);
      const found = await get<{ list: ListItem[]; paginator: Record<string, number> }>(
        a,
        '/api-tools',
        { search_word: 'alpha' },
      );
      expect(found.data.list.map((p) => p.name)).toEqual(['ALPHA two', 'Alpha tools']);
      expect(found.data.list[0].tools).toHaveLength(2);
      const literal = await get<{ list: ListItem[] }>(a, '/api-tools', { search_word: '%' });
      expect(literal.data.list.map((p) => p.name)).toEqual(['gamma 50%']);
      const all = await get<{ list: ListItem[] }>(a, '/api-tools', { search_word: '' });
      expect(all.data.list).toHaveLength(4);
    });
  });
});
