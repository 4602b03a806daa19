import { FakeMcpServer } from '@test/fakes/fake-mcp-server';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { ToolRuntime } from 'src/modules/tool/runtime/tool-runtime.service';
import { DataSource } from 'typeorm';

/**
 * MCP tool providers (`/mcp-tools`) against a real MCP server built from the SDK's server classes
 * on loopback: Streamable HTTP and the older SSE transport, tools listed and called, a failing
 * tool, a server that drops and comes back, refresh, the SSRF guard, masked headers, ownership.
 */

type Res = Promise<{ status: number; body: any }>;

async function envelope(res: Res): Promise<any> {
  const r = await res;
  expect(r.status).toBe(200);
  return r.body;
}

const SECRET = 'mcp-secret-key-0123456789';
const TOOL_NAMES = ['add', 'big', 'echo', 'fail', 'hang', 'whoami'];

/** Answers every request with a 307 to `target` + the same path. */
async function redirector(host: string, target: () => string): Promise<Server> {
  const srv = createHttpServer((req, res) => {
    res.writeHead(307, { location: `${target()}${req.url ?? '/'}` }).end();
  });
  await new Promise<void>((r) => srv.listen(0, host, r));
  return srv;
}
const portOf = (srv: Server) => (srv.address() as { port: number }).port;

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

describe('MCP tool providers', () => {
  let fake: FakeMcpServer;
  let t: TestApp;
  let a: TestAccount;
  let b: TestAccount;

  beforeAll(async () => {
    fake = await FakeMcpServer.create();
    t = await createTestApp({
      env: {
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
        TOOL_TIMEOUT_MS: '8000',
        OUTBOUND_MAX_RESPONSE_BYTES: String(256 * 1024),
      },
    });
    a = await createAccount(t);
    b = await createAccount(t);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });
  afterEach(() => fake.reset());

  const get = (acc: TestAccount, path: string, query: Record<string, unknown> = {}) =>
    envelope(t.http().get(path).query(query).set(acc.auth));
  const post = (acc: TestAccount, path: string, body: Record<string, unknown> = {}) =>
    envelope(t.http().post(path).set(acc.auth).send(body));

  let n = 0;
  const form = (url: string, extra: Record<string, unknown> = {}) => ({
    name: `mcp-${++n}`,
    icon: 'https://example.test/icon.png',
    url,
    headers: [{ key: 'X-Api-Key', value: SECRET }],
    // The console sends its whole form model: unknown keys are dropped, not refused.
    fileList: [{ uid: '1', name: 'icon.png', url: 'https://example.test/icon.png' }],
    ...extra,
  });
  async function create(acc: TestAccount, url: string, extra: Record<string, unknown> = {}) {
    const res = await post(acc, '/mcp-tools', form(url, extra));
    expect(res).toMatchObject({ code: 'success', message: 'MCP tool provider created' });
    return res.data;
  }
  const invoke = (acc: TestAccount, id: string, tool: string, args: unknown = {}) =>
    post(acc, `/mcp-tools/${id}/tools/${tool}/invoke`, { arguments: args });

  describe('create over both transports', () => {
    it('detects Streamable HTTP, lists the tools with console inputs and stores them', async () => {
      const p = await create(a, fake.streamableUrl, { description: '' });
      expect(p.transport).toBe('streamable_http');
      expect(p).toMatchObject({
        url: fake.streamableUrl,
        status: 'ok',
        last_error: null,
        description: 'A fake MCP server for the tests',
      });
      expect(p.tools_refreshed_at).toBeGreaterThan(0);
      expect(p.created_at).toBeGreaterThan(1_700_000_000);
      expect(p.tools.map((x: any) => x.name)).toEqual(TOOL_NAMES);
      const add = p.tools.find((x: any) => x.name === 'add');
      expect(add).toEqual({
        id: expect.any(String),
        name: 'add',
        description: 'Adds two numbers',
        inputs: [
          { name: 'a', description: 'First number', required: true, type: 'float' },
          { name: 'b', description: '', required: true, type: 'float' },
        ],
      });
      const echo = p.tools.find((x: any) => x.name === 'echo');
      expect(echo.inputs).toEqual([
        { name: 'text', description: 'What to repeat', required: true, type: 'str' },
        { name: 'times', description: '', required: false, type: 'int' },
        { name: 'loud', description: '', required: false, type: 'bool' },
      ]);
      // Headers masked on read; the real one reached the server.
      expect(p.headers).toEqual([{ key: 'X-Api-Key', value: expect.not.stringContaining(SECRET) }]);
      expect(fake.requests.some((r) => r.headers['x-api-key'] === SECRET)).toBe(true);
      expect(fake.requests.every((r) => r.path === '/mcp')).toBe(true);
      // Sealed at rest.
      const [row] = await t.app
        .get(DataSource)
        .query('SELECT headers FROM mcp_providers WHERE id = $1', [p.id]);
      expect(row.headers).not.toContain(SECRET);
    });

    it('falls back to the older SSE transport and calls its tools', async () => {
      const p = await create(a, fake.sseUrl);
      expect(p.transport).toBe('sse');
      expect(p.tools.map((x: any) => x.name)).toEqual(TOOL_NAMES);
      // The Streamable HTTP attempt (a POST answered 405) came first.
      expect(fake.requests[0]).toMatchObject({ method: 'POST', path: '/sse' });
      fake.reset();
      const res = await invoke(a, p.id, 'add', { a: 2, b: 40 });
      expect(res.data).toMatchObject({ ok: true, data: { sum: 42 }, error: '' });
      // The stored transport is used directly: no detection on calls.
      expect(fake.requests.some((r) => r.method === 'POST' && r.path === '/sse')).toBe(false);
      const who = await invoke(a, p.id, 'whoami');
      expect(who.data.output).toBe(SECRET);
    });
  });

  describe('with a Streamable HTTP provider', () => {
    let p: any;
    beforeAll(async () => {
      p = await create(a, fake.streamableUrl, { name: 'main-server' });
    });

    it('calls a tool: structuredContent as data, text parts and images for the model', async () => {
      const add = await invoke(a, p.id, 'add', { a: 1.5, b: 2 });
      expect(add).toMatchObject({ code: 'success', message: 'Tool invoked' });
      expect(add.data).toEqual({
        ok: true,
        output: '{"sum":3.5}',
        data: { sum: 3.5 },
        error: '',
        latency: expect.any(Number),
      });
      const echo = await invoke(a, p.id, 'echo', { text: 'hi', times: 2, loud: true });
      expect(echo.data.output).toBe('HI\nHI\n[image image/png, 3 bytes]');
      expect(echo.data.data).toBe(echo.data.output);
    });

    it('caps what the server sends at OUTBOUND_MAX_RESPONSE_BYTES', async () => {
      const fits = await invoke(a, p.id, 'big', { kb: 100 });
      expect(fits.data.ok).toBe(true);
      // The data in full; what the model reads is capped by the runtime.
      expect((fits.data.data as string).length).toBe(100 * 1024);
      expect(fits.data.output).toMatch(/\[output truncated at 20000 characters\]$/);
      const started = Date.now();
      const over = await invoke(a, p.id, 'big', { kb: 300 });
      expect(Date.now() - started).toBeLessThan(4000);
      expect(over.data).toMatchObject({
        ok: false,
        error: `The MCP server sent more than ${256 * 1024} bytes in one response`,
      });
    });

    it('checks arguments against the stored schema: bad ones are a validate_error', async () => {
      const wrongType = await invoke(a, p.id, 'add', { a: 'one', b: 2 });
      expect(wrongType.code).toBe('validate_error');
      expect(wrongType.data).toHaveProperty('a');
      const missing = await invoke(a, p.id, 'echo', {});
      expect(missing.code).toBe('validate_error');
      expect(missing.data.text).toEqual(['text is required']);
      const range = await invoke(a, p.id, 'echo', { text: 'x', times: 9 });
      expect(range.code).toBe('validate_error');
      // Nothing reached the server.
      expect(fake.requests).toHaveLength(0);
    });

    it('a tool that reports isError is an error result with its sanitized text', async () => {
      const res = await invoke(a, p.id, 'fail');
      expect(res.code).toBe('success');
      expect(res.data).toMatchObject({
        ok: false,
        data: null,
        error: 'the MCP tool failed: the database is down',
        output: 'Error: the MCP tool failed: the database is down',
      });
      // The server itself is fine.
      expect((await get(a, `/mcp-tools/${p.id}`)).data.status).toBe('ok');
    });

    it('lists (paginated, newest first, search_word) and gets one provider and one tool', async () => {
      const all = await get(a, '/mcp-tools', { page_size: 2 });
      expect(all.data.paginator).toMatchObject({ current_page: 1, page_size: 2 });
      expect(all.data.paginator.total_record).toBeGreaterThanOrEqual(3);
      expect(all.data.list[0].id).toBe(p.id);
      const found = await get(a, '/mcp-tools', { search_word: 'MAIN-serv' });
      expect(found.data.list.map((x: any) => x.id)).toEqual([p.id]);
      expect(Object.keys(found.data.list[0]).sort()).toEqual(
        [
          'created_at',
          'description',
          'headers',
          'icon',
          'id',
          'last_error',
          'name',
          'status',
          'tools',
          'tools_refreshed_at',
          'transport',
          'url',
        ].sort(),
      );
      const none = await get(a, '/mcp-tools', { search_word: '%' });
      expect(none.data.list).toEqual([]);
      const one = await get(a, `/mcp-tools/${p.id}`);
      expect(one.data).toEqual(found.data.list[0]);
      const tool = await get(a, `/mcp-tools/${p.id}/tools/add`);
      expect(tool.data).toMatchObject({
        name: 'add',
        inputs: expect.any(Array),
        input_schema: { type: 'object', required: ['a', 'b'] },
        annotations: { readOnlyHint: true },
        provider: { id: p.id, name: 'main-server', headers: one.data.headers },
      });
      expect((await get(a, `/mcp-tools/${p.id}/tools/nope`)).code).toBe('not_found');
      expect((await invoke(a, p.id, 'nope')).code).toBe('not_found');
    });

    it('is a LangChain tool for agents through the runtime, schema in the server order', async () => {
      const runtime = t.app.get(ToolRuntime);
      const tool = await runtime.resolve(a.id, { type: 'mcp_tool', provider: p.id, tool: 'echo' });
      expect(Object.keys(tool.inputSchema.properties)).toEqual(['text', 'times', 'loud']);
      const lc = runtime.toLangChain(a.id, tool);
      expect(lc.name).toBe('echo');
      expect(await lc.invoke({ text: 'yo' })).toBe('yo\n[image image/png, 3 bytes]');
      // Bad arguments reach the model as an error it can read, never as an exception.
      const bad = await runtime.invoke(
        a.id,
        { type: 'mcp_tool', provider: p.id, tool: 'add' },
        {
          a: 1,
        },
      );
      expect(bad).toMatchObject({ ok: false, error: expect.stringMatching(/b is required/) });
      await expect(
        runtime.resolve(b.id, { type: 'mcp_tool', provider: p.id, tool: 'echo' }),
      ).rejects.toMatchObject({ code: 'not_found' });
    });

    it('follows a redirect to the server, hop by hop', async () => {
      const hop = await redirector('127.0.0.1', () => fake.origin);
      fake.reset();
      try {
        const r = await create(a, `http://127.0.0.1:${portOf(hop)}/mcp`);
        expect(r).toMatchObject({ transport: 'streamable_http', status: 'ok' });
        expect((await invoke(a, r.id, 'add', { a: 1, b: 2 })).data.data).toEqual({ sum: 3 });
        // The provider's headers were meant for the redirector's origin only.
        expect((await invoke(a, r.id, 'whoami')).data.output).toBe('anonymous');
        expect(fake.requests.length).toBeGreaterThan(0);
        expect(fake.requests.some((q) => q.headers['x-api-key'])).toBe(false);
      } finally {
        hop.closeAllConnections();
        await new Promise((r) => hop.close(r));
      }
    });

    it('refresh picks up a tool the server added', async () => {
      fake.addTool('brand_new');
      const res = await post(a, `/mcp-tools/${p.id}/refresh`);
      expect(res).toMatchObject({ code: 'success', message: 'MCP tools refreshed' });
      expect(res.data.tools.map((x: any) => x.name)).toContain('brand_new');
      const call = await invoke(a, p.id, 'brand_new');
      expect(call.data).toMatchObject({ ok: true, output: 'brand_new ran' });
    });

    it('names are unique per account and 1-30 characters', async () => {
      const dup = await post(a, '/mcp-tools', form(fake.streamableUrl, { name: 'main-server' }));
      expect(dup.code).toBe('validate_error');
      expect(dup.data.name[0]).toMatch(/already exists/);
      const long = await post(a, '/mcp-tools', form(fake.streamableUrl, { name: 'x'.repeat(31) }));
      expect(long.code).toBe('validate_error');
      const blank = await post(a, '/mcp-tools', form(fake.streamableUrl, { name: '   ' }));
      expect(blank.data.name).toEqual(['name must be 1-30 characters']);
      // Surrounding spaces are not part of the name.
      const spaced = await post(
        a,
        '/mcp-tools',
        form(fake.streamableUrl, { name: ' main-server ' }),
      );
      expect(spaced.data.name[0]).toMatch(/already exists/);
      // Another account may use the same name.
      const other = await post(b, '/mcp-tools', form(fake.streamableUrl, { name: 'main-server' }));
      expect(other.code).toBe('success');
      await post(b, `/mcp-tools/${other.data.id}/delete`);
    });
  });

  describe('headers', () => {
    it('a masked value sent back keeps the secret; a new value replaces it', async () => {
      const p = await create(a, fake.streamableUrl, {
        headers: [
          { key: 'X-Api-Key', value: SECRET },
          { key: 'X-Team', value: 'team-blue-42' },
        ],
      });
      const read = (await get(a, `/mcp-tools/${p.id}`)).data;
      expect(read.headers.map((h: any) => h.value)).not.toContain(SECRET);
      // The console sends back what it read (masked) along with the other fields.
      const same = await post(a, `/mcp-tools/${p.id}`, {
        ...form(fake.streamableUrl, { name: read.name }),
        headers: read.headers,
      });
      expect(same).toMatchObject({ code: 'success', message: 'MCP tool provider updated' });
      expect((await invoke(a, p.id, 'whoami')).data.output).toBe(SECRET);
      const team = fake.requests.find((r) => r.headers['x-team'])?.headers['x-team'];
      expect(team).toBe('team-blue-42');

      await post(a, `/mcp-tools/${p.id}`, {
        ...form(fake.streamableUrl, { name: read.name }),
        headers: [{ key: 'X-Api-Key', value: 'a-brand-new-key-999' }],
      });
      expect((await invoke(a, p.id, 'whoami')).data.output).toBe('a-brand-new-key-999');
      const after = (await get(a, `/mcp-tools/${p.id}`)).data;
      expect(after.headers).toEqual([{ key: 'X-Api-Key', value: expect.any(String) }]);
      expect(after.headers[0].value).not.toContain('brand-new');
    });

    it('refuses a header given twice, one the transport sets, and broken names or values', async () => {
      const tryHeaders = (headers: unknown[]) =>
        post(a, '/mcp-tools', form(fake.streamableUrl, { headers }));
      const twice = await tryHeaders([
        { key: 'X-A', value: '1' },
        { key: 'x-a', value: '2' },
      ]);
      expect(twice.data.headers).toEqual(['Header "x-a" is given twice']);
      const reserved = await tryHeaders([{ key: 'Mcp-Session-Id', value: 'mine' }]);
      expect(reserved.data.headers).toEqual([
        'Header "Mcp-Session-Id" is set by the MCP transport',
      ]);
      const badName = await tryHeaders([{ key: 'X A', value: '1' }]);
      expect(badName.code).toBe('validate_error');
      const badValue = await tryHeaders([{ key: 'X-A', value: 'a\r\nHost: evil' }]);
      expect(badValue.code).toBe('validate_error');
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('a server that drops', () => {
    it.each(['streamable_http', 'sse'] as const)(
      '%s: a clear error at once, nothing hangs, the next call reconnects',
      async (kind) => {
        const server = await FakeMcpServer.create();
        try {
          const p = await create(a, kind === 'sse' ? server.sseUrl : server.streamableUrl);
          expect(p.transport).toBe(kind);
          await server.close();
          const started = Date.now();
          const down = await invoke(a, p.id, 'add', { a: 1, b: 1 });
          expect(Date.now() - started).toBeLessThan(4000);
          expect(down.data.ok).toBe(false);
          expect(down.data.error).toMatch(
            /^Could not reach the MCP server at 127\.0\.0\.1:\d+ \(connection refused\)$/,
          );
          const seen = (await get(a, `/mcp-tools/${p.id}`)).data;
          expect(seen).toMatchObject({ status: 'error', last_error: down.data.error });
          const refresh = await post(a, `/mcp-tools/${p.id}/refresh`);
          expect(refresh.code).toBe('fail');
          expect(refresh.message).toMatch(/connection refused/);
          // The stored tools survive a failed refresh.
          expect((await get(a, `/mcp-tools/${p.id}`)).data.tools).toHaveLength(TOOL_NAMES.length);

          await server.restart();
          const up = await invoke(a, p.id, 'add', { a: 1, b: 1 });
          expect(up.data).toMatchObject({ ok: true, data: { sum: 2 } });
          expect((await get(a, `/mcp-tools/${p.id}`)).data).toMatchObject({
            status: 'ok',
            last_error: null,
          });
        } finally {
          await server.close().catch(() => undefined);
        }
      },
    );

    it.each(['streamable_http', 'sse'] as const)(
      '%s: dropping in the middle of a call ends it with a clear error before the timeout',
      async (kind) => {
        const server = await FakeMcpServer.create();
        try {
          const p = await create(a, kind === 'sse' ? server.sseUrl : server.streamableUrl);
          const started = Date.now();
          const pending = invoke(a, p.id, 'hang');
          // Once the call reached the tool, cut every connection.
          while (server.hangs === 0 && Date.now() < started + 5000)
            await new Promise((r) => setTimeout(r, 10));
          expect(server.hangs).toBe(1);
          await server.close();
          const res = await pending;
          expect(Date.now() - started).toBeLessThan(7000); // TOOL_TIMEOUT_MS is 8000
          expect(res.data.ok).toBe(false);
          expect(res.data.error).toMatch(/MCP server at 127\.0\.0\.1:\d+ closed the connection/);
        } finally {
          await server.close().catch(() => undefined);
        }
      },
    );
  });

  describe('servers that cannot be used: a clear validate_error and nothing stored', () => {
    const count = async (acc: TestAccount) =>
      (await get(acc, '/mcp-tools')).data.paginator.total_record as number;

    it('refuses an unreachable server, a path with no MCP server and a bad URL', async () => {
      const before = await count(a);
      const port = await closedPort();
      const refused = await post(a, '/mcp-tools', form(`http://127.0.0.1:${port}/mcp`));
      expect(refused.code).toBe('validate_error');
      expect(refused.data.url[0]).toBe(
        `Could not reach the MCP server at 127.0.0.1:${port} (connection refused)`,
      );
      const nothing = await post(a, '/mcp-tools', form(`${fake.origin}/nothing-here`));
      expect(nothing.code).toBe('validate_error');
      expect(nothing.data.url[0]).toMatch(
        /^No MCP server answers at .*\/nothing-here \(HTTP 404\)/,
      );
      const bad = await post(a, '/mcp-tools', form('ftp://127.0.0.1/mcp'));
      expect(bad.data.url).toEqual(['url must be an http(s) URL']);
      expect(await count(a)).toBe(before);
    });

    it('follows the tools/list cursor; refuses over 200 tools, duplicates and unusable schemas', async () => {
      const tool = (name: string, inputSchema: object = {}) => ({
        name,
        inputSchema: { type: 'object' as const, ...inputSchema },
      });
      fake.pagedTools = ['t1', 't2', 't3', 't4', 't5'].map((x) => tool(x));
      const paged = await create(a, fake.pagedUrl);
      expect(paged.tools.map((x: any) => x.name)).toEqual(['t1', 't2', 't3', 't4', 't5']);
      expect(paged.tools[0].inputs).toEqual([]);
      // Three pages of two.
      const lists = fake.requests.filter((r) => r.method === 'POST').length;
      expect(lists).toBeGreaterThanOrEqual(5); // initialize, initialized, 3 x tools/list

      const before = await count(a);
      fake.pageSize = 50;
      fake.pagedTools = Array.from({ length: 201 }, (_, i) => tool(`t${i}`));
      const many = await post(a, '/mcp-tools', form(fake.pagedUrl));
      expect(many.code).toBe('validate_error');
      expect(many.data.url).toEqual([
        'The MCP server offers more than 200 tools; at most 200 are supported',
      ]);
      fake.pagedTools = [tool('same'), tool('other'), tool('same')];
      const dup = await post(a, '/mcp-tools', form(fake.pagedUrl));
      expect(dup.data['tools.same']).toEqual(['The server lists the tool "same" twice']);
      fake.pagedTools = [tool('ok'), tool('bad', { properties: { a: { type: 'nonsense' } } })];
      const bad = await post(a, '/mcp-tools', form(fake.pagedUrl));
      expect(bad.code).toBe('validate_error');
      expect(bad.data['tools.bad'][0]).toMatch(/^The input schema of "bad" cannot be used: /);
      expect(await count(a)).toBe(before);
    });

    it('another account: not_found on every route, and its list stays empty', async () => {
      const p = await create(a, fake.streamableUrl);
      const routes: Array<() => Promise<any>> = [
        () => get(b, `/mcp-tools/${p.id}`),
        () => post(b, `/mcp-tools/${p.id}`, form(fake.streamableUrl)),
        () => post(b, `/mcp-tools/${p.id}/refresh`),
        () => post(b, `/mcp-tools/${p.id}/delete`),
        () => get(b, `/mcp-tools/${p.id}/tools/add`),
        () => invoke(b, p.id, 'add', { a: 1, b: 2 }),
      ];
      fake.reset();
      for (const call of routes) expect((await call()).code).toBe('not_found');
      expect(fake.requests).toHaveLength(0);
      expect((await get(b, '/mcp-tools')).data.list.map((x: any) => x.id)).not.toContain(p.id);
      // Malformed ids are not_found too.
      expect((await get(a, '/mcp-tools/not-a-uuid')).code).toBe('not_found');
      // Still there for its owner.
      expect((await get(a, `/mcp-tools/${p.id}`)).code).toBe('success');
    });

    it('delete removes the provider and its tools', async () => {
      const p = await create(a, fake.streamableUrl);
      const del = await post(a, `/mcp-tools/${p.id}/delete`);
      expect(del).toMatchObject({ code: 'success', message: 'MCP tool provider deleted' });
      expect((await get(a, `/mcp-tools/${p.id}`)).code).toBe('not_found');
      expect((await invoke(a, p.id, 'add', { a: 1, b: 2 })).code).toBe('not_found');
      const [{ count: left }] = await t.app
        .get(DataSource)
        .query('SELECT count(*)::int AS count FROM mcp_tools WHERE provider_id = $1', [p.id]);
      expect(left).toBe(0);
    });
  });
});

describe('MCP tool providers without OUTBOUND_ALLOW_HOSTS', () => {
  let fake: FakeMcpServer;
  let t: TestApp;
  let a: TestAccount;

  beforeAll(async () => {
    fake = await FakeMcpServer.create();
    t = await createTestApp({ env: { OUTBOUND_ALLOW_HOSTS: '' } });
    a = await createAccount(t);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('refuses a loopback server by address and by name, without reaching it', async () => {
    const post = (url: string) =>
      envelope(
        t
          .http()
          .post('/mcp-tools')
          .set(a.auth)
          .send({ name: 'local', icon: 'https://example.test/i.png', url }),
      );
    const byIp = await post(fake.streamableUrl);
    expect(byIp.code).toBe('validate_error');
    expect(byIp.data.url[0]).toMatch(/127\.0\.0\.1.*loopback.*not allowed.*OUTBOUND_ALLOW_HOSTS/);
    // A name is checked when it resolves, at connect time.
    const byName = await post(fake.streamableUrl.replace('127.0.0.1', 'localhost'));
    expect(byName.code).toBe('validate_error');
    expect(byName.data.url[0]).toMatch(/localhost \(.+\).*loopback.*not allowed/);
    expect(fake.requests).toHaveLength(0);
    const list = await envelope(t.http().get('/mcp-tools').set(a.auth));
    expect(list.data.list).toEqual([]);
  });
});

describe('MCP tool providers: a redirect to a host that is not allow-listed, a silent server', () => {
  let fake: FakeMcpServer;
  let hop: Server;
  let silent: Server;
  let t: TestApp;
  let a: TestAccount;

  beforeAll(async () => {
    fake = await FakeMcpServer.create();
    hop = await redirector('127.0.0.2', () => fake.origin);
    // Accepts every request and never answers.
    silent = createHttpServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.2', r));
    // Only 127.0.0.2 is allowed; the server the redirector points to (127.0.0.1) is not.
    t = await createTestApp({
      env: { OUTBOUND_ALLOW_HOSTS: '127.0.0.2', TOOL_TIMEOUT_MS: '1000' },
    });
    a = await createAccount(t);
  });
  afterAll(async () => {
    await t?.close();
    for (const s of [hop, silent]) {
      s?.closeAllConnections();
      await new Promise((r) => s?.close(r));
    }
    await fake?.close();
  });

  it('a server that never answers initialize: a clear timeout, nothing stored', async () => {
    const started = Date.now();
    const res = await envelope(
      t
        .http()
        .post('/mcp-tools')
        .set(a.auth)
        .send({
          name: 'silent',
          icon: 'https://example.test/i.png',
          url: `http://127.0.0.2:${portOf(silent)}/mcp`,
        }),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(res.code).toBe('validate_error');
    expect(res.data.url).toEqual([
      `The MCP server at 127.0.0.2:${portOf(silent)} did not answer within 1000 ms`,
    ]);
    expect((await envelope(t.http().get('/mcp-tools').set(a.auth))).data.list).toEqual([]);
  });

  it.each(['mcp', 'sse'])(
    'refuses the hop to loopback (/%s) without reaching the server',
    async (path) => {
      const res = await envelope(
        t
          .http()
          .post('/mcp-tools')
          .set(a.auth)
          .send({
            name: `hop-${path}`,
            icon: 'https://example.test/i.png',
            url: `http://127.0.0.2:${portOf(hop)}/${path}`,
          }),
      );
      expect(res.code).toBe('validate_error');
      expect(res.data.url[0]).toMatch(/127\.0\.0\.1.*loopback.*not allowed/);
      expect(fake.requests).toHaveLength(0);
    },
  );
});
