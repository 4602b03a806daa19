import {
  FakeDalle,
  FakeDuckDuckGo,
  FakeGaode,
  FakeSerper,
  FakeWikipedia,
} from '@test/fakes/fake-builtin-tools';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';

/**
 * The builtin tool providers: the console's list, categories, icon and detail shapes
 * (CONSOLE-SHAPES §1.1-1.4), and every tool invoked through the test route against a fake of
 * its service on loopback, checking what the fake received.
 */

type Res = Promise<{ status: number; body: any }>;

/** Every console response is HTTP 200, errors included; returns the envelope. */
async function consoleCall(res: Res): Promise<any> {
  const r = await res;
  expect(r.status).toBe(200);
  return r.body;
}

const PROVIDERS = ['google', 'time', 'duckduckgo', 'dalle', 'gaode', 'wikipedia'];
const TOOLS: Record<string, string[]> = {
  google: ['google_serper'],
  time: ['current_time'],
  duckduckgo: ['duckduckgo_search'],
  dalle: ['dalle3'],
  gaode: ['gaode_weather', 'gaode_ip'],
  wikipedia: ['wikipedia_search'],
};
const PROVIDER_KEYS = [
  'name',
  'label',
  'description',
  'background',
  'category',
  'created_at',
  'tools',
];
const TOOL_KEYS = ['name', 'label', 'description', 'params', 'inputs'];
const PARAM_KEYS = ['name', 'label', 'type', 'required', 'default', 'min', 'max', 'options'];
const INPUT_KEYS = ['name', 'description', 'required', 'type'];
const sorted = (o: object) => Object.keys(o).sort();

function readBytes(res: any, cb: (err: Error | null, body: Buffer) => void) {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
}

describe('builtin tools', () => {
  let t: TestApp;
  let a: TestAccount;
  const ddg = new FakeDuckDuckGo();
  const serper = new FakeSerper('serper-key-7a1c9e');
  const dalle = new FakeDalle('dalle-key-3f8b2d');
  const gaode = new FakeGaode('gaode-key-5e0d4a');
  const wiki = new FakeWikipedia();
  const fakes = [ddg, serper, dalle, gaode, wiki];

  beforeAll(async () => {
    await Promise.all(fakes.map((f) => f.start()));
    t = await createTestApp({
      env: {
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
        // Upstream 5xx answers are reported at once, not retried with backoff.
        OUTBOUND_MAX_RETRIES: '0',
        SERPER_API_KEY: serper.apiKey,
        SERPER_BASE_URL: serper.url,
        GAODE_API_KEY: gaode.apiKey,
        GAODE_BASE_URL: gaode.url,
        DALLE_API_KEY: dalle.apiKey,
        DALLE_BASE_URL: `${dalle.url}/v1`,
        DUCKDUCKGO_BASE_URL: ddg.url,
        WIKIPEDIA_BASE_URL: `${wiki.url}/{lang}`,
      },
    });
    a = await createAccount(t);
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all(fakes.map((f) => f.close()));
  });
  afterEach(() => fakes.forEach((f) => f.reset()));

  const get = (path: string) =>
    consoleCall(t.http().get(path).set(a.auth).set('Content-Type', 'application/json'));
  const invoke = (provider: string, tool: string, body: Record<string, unknown>) =>
    consoleCall(
      t.http().post(`/builtin-tools/${provider}/tools/${tool}/invoke`).set(a.auth).send(body),
    );

  describe('GET /builtin-tools', () => {
    it('answers a plain array of providers without icon, each field as the console reads it', async () => {
      const res = await get('/builtin-tools');
      expect(res.code).toBe('success');
      expect(Array.isArray(res.data)).toBe(true);
      expect(res.data.map((p: any) => p.name)).toEqual(PROVIDERS);
      for (const p of res.data) {
        expect(sorted(p)).toEqual([...PROVIDER_KEYS].sort());
        expect(typeof p.label).toBe('string');
        expect(p.label.length).toBeGreaterThan(0);
        expect(typeof p.description).toBe('string');
        expect(p.background).toMatch(/^#[0-9A-Fa-f]{6}$/);
        expect(['search', 'image', 'weather', 'tool', 'other']).toContain(p.category);
        expect(p.created_at).toBe(0);
        expect(p.tools.map((x: any) => x.name)).toEqual(TOOLS[p.name]);
        for (const tool of p.tools) {
          expect(sorted(tool)).toEqual([...TOOL_KEYS].sort());
          for (const param of tool.params) {
            expect(sorted(param)).toEqual([...PARAM_KEYS].sort());
            expect(['string', 'number', 'boolean', 'select']).toContain(param.type);
            expect(typeof param.required).toBe('boolean');
            expect(Array.isArray(param.options)).toBe(true);
            expect(
              param.default === null ||
                ['string', 'number', 'boolean'].includes(typeof param.default),
            ).toBe(true);
          }
          for (const input of tool.inputs) {
            expect(sorted(input)).toEqual([...INPUT_KEYS].sort());
            expect(['str', 'int', 'float', 'bool']).toContain(input.type);
            expect(typeof input.description).toBe('string');
            expect(typeof input.required).toBe('boolean');
          }
        }
      }
    });

    it('declares the settings and arguments of each tool', async () => {
      const res = await get('/builtin-tools');
      const tool = (p: string, n: string) =>
        res.data.find((x: any) => x.name === p).tools.find((x: any) => x.name === n);
      expect(tool('dalle', 'dalle3').params).toEqual([
        {
          name: 'size',
          label: 'Image size',
          type: 'select',
          required: true,
          default: '1024x1024',
          min: null,
          max: null,
          options: [
            { value: '1024x1024', label: 'Square 1024x1024' },
            { value: '1792x1024', label: 'Landscape 1792x1024' },
            { value: '1024x1792', label: 'Portrait 1024x1792' },
          ],
        },
        {
          name: 'style',
          label: 'Image style',
          type: 'select',
          required: true,
          default: 'vivid',
          min: null,
          max: null,
          options: [
            { value: 'vivid', label: 'Vivid' },
            { value: 'natural', label: 'Natural' },
          ],
        },
      ]);
      expect(tool('dalle', 'dalle3').inputs).toEqual([
        {
          name: 'query',
          description: 'The text prompt describing the image to draw',
          required: true,
          type: 'str',
        },
      ]);
      expect(tool('duckduckgo', 'duckduckgo_search').params).toEqual([
        {
          name: 'max_results',
          label: 'Maximum results',
          type: 'number',
          required: false,
          default: 5,
          min: 1,
          max: 20,
          options: [],
        },
      ]);
      expect(tool('time', 'current_time').inputs).toEqual([
        {
          name: 'timezone',
          description: expect.stringContaining('IANA'),
          required: false,
          type: 'str',
        },
      ]);
      expect(tool('gaode', 'gaode_ip').inputs).toEqual([
        { name: 'ip', description: expect.any(String), required: true, type: 'str' },
      ]);
      expect(
        tool('wikipedia', 'wikipedia_search').params.map((p: any) => [p.name, p.default]),
      ).toEqual([
        ['language', 'en'],
        ['top_k', 3],
      ]);
      expect(tool('google', 'google_serper').params).toEqual([]);
    });

    it('needs a token', async () => {
      const res = await consoleCall(t.http().get('/builtin-tools'));
      expect(res.code).toBe('unauthorized');
    });
  });

  describe('GET /builtin-tools/categories', () => {
    it('answers a plain array of {category, name, icon} with inline SVG markup', async () => {
      const res = await get('/builtin-tools/categories');
      expect(res.code).toBe('success');
      expect(res.data.map((c: any) => c.category)).toEqual([
        'search',
        'image',
        'weather',
        'tool',
        'other',
      ]);
      for (const c of res.data) {
        expect(sorted(c)).toEqual(['category', 'icon', 'name']);
        expect(c.name.length).toBeGreaterThan(0);
        expect(c.icon).toMatch(/^<svg[\s>][\s\S]*<\/svg>$/);
      }
    });
  });

  describe('GET /builtin-tools/:provider_name/icon', () => {
    it('serves each icon as image bytes without a token', async () => {
      for (const name of PROVIDERS) {
        const res = await t.http().get(`/builtin-tools/${name}/icon`).buffer(true).parse(readBytes);
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toMatch(/^image\/svg\+xml/);
        const body = (res.body as Buffer).toString('utf8');
        expect(body).toMatch(/^<svg[\s>]/);
        expect(Number(res.headers['content-length'])).toBe((res.body as Buffer).length);
      }
    });

    it('answers not_found for an unknown provider', async () => {
      const res = await consoleCall(t.http().get('/builtin-tools/nope/icon'));
      expect(res).toMatchObject({ code: 'not_found' });
    });
  });

  describe('GET /builtin-tools/:provider_name/tools/:tool_name', () => {
    it('answers the tool with its provider summary, field by field', async () => {
      const list = await get('/builtin-tools');
      for (const p of list.data) {
        for (const tool of p.tools) {
          const res = await get(`/builtin-tools/${p.name}/tools/${tool.name}`);
          expect(res.code).toBe('success');
          expect(sorted(res.data)).toEqual([...TOOL_KEYS, 'provider', 'created_at'].sort());
          expect(res.data.provider).toEqual({
            name: p.name,
            label: p.label,
            description: p.description,
            background: p.background,
            category: p.category,
          });
          expect(res.data).toEqual({ ...tool, provider: res.data.provider, created_at: 0 });
        }
      }
    });

    it('answers not_found for an unknown provider or tool', async () => {
      expect(await get('/builtin-tools/nope/tools/current_time')).toMatchObject({
        code: 'not_found',
        message: expect.stringContaining('nope'),
      });
      expect(await get('/builtin-tools/time/tools/sundial')).toMatchObject({
        code: 'not_found',
        message: expect.stringContaining('sundial'),
      });
      // A tool of another provider is not found under this one.
      expect(await get('/builtin-tools/time/tools/dalle3')).toMatchObject({ code: 'not_found' });
    });
  });

  describe('POST /builtin-tools/:provider_name/tools/:tool_name/invoke', () => {
    it('time: the current time in the setting’s zone, or in the argument’s', async () => {
      const before = Date.now();
      const res = await invoke('time', 'current_time', { params: { timezone: 'Asia/Shanghai' } });
      expect(res).toMatchObject({ code: 'success', message: 'Tool invoked' });
      expect(res.data).toMatchObject({ ok: true, error: '' });
      expect(typeof res.data.latency).toBe('number');
      const m = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) Asia\/Shanghai \(UTC\+08:00\)$/.exec(
        res.data.output,
      );
      expect(m).not.toBeNull();
      const shown = Date.parse(`${m![1].replace(' ', 'T')}+08:00`);
      expect(Math.abs(shown - before)).toBeLessThan(5000);

      const other = await invoke('time', 'current_time', {
        arguments: { timezone: 'America/New_York' },
        params: { timezone: 'Asia/Shanghai' },
      });
      expect(other.data.output).toMatch(/ America\/New_York \(UTC-0[45]:00\)$/);
      const utc = await invoke('time', 'current_time', {});
      expect(utc.data.output).toMatch(/ UTC \(UTC\+00:00\)$/);
    });

    it('time: an unknown zone is a validate_error as a setting and an error result as an argument', async () => {
      const bad = await invoke('time', 'current_time', { params: { timezone: 'Mars/Olympus' } });
      expect(bad).toMatchObject({
        code: 'validate_error',
        data: { 'params.timezone': [expect.stringContaining('not an IANA time zone')] },
      });
      const arg = await invoke('time', 'current_time', { arguments: { timezone: 'Mars/Olympus' } });
      expect(arg.data).toMatchObject({
        ok: false,
        error: expect.stringContaining('"Mars/Olympus" is not an IANA time zone'),
      });
    });

    it('duckduckgo: posts the query to the HTML endpoint and answers title/url/snippet', async () => {
      const res = await invoke('duckduckgo', 'duckduckgo_search', {
        arguments: { query: 'nest js' },
        params: { max_results: 3 },
      });
      expect(res.data.ok).toBe(true);
      expect(res.data.data).toEqual(
        [1, 2, 3].map((n) => ({
          title: `Result ${n} about nest js`,
          url: `https://example${n}.test/page?q=nest%20js&n=${n}`,
          snippet: `Snippet ${n}: all about nest js.`,
        })),
      );
      expect(JSON.parse(res.data.output)).toEqual(res.data.data);
      const got = ddg.last()!;
      expect(got.method).toBe('POST');
      expect(got.path).toBe('/html/');
      expect(got.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(new URLSearchParams(got.body).get('q')).toBe('nest js');

      const dflt = await invoke('duckduckgo', 'duckduckgo_search', { arguments: { query: 'x' } });
      expect(dflt.data.data).toHaveLength(5);
      const none = await invoke('duckduckgo', 'duckduckgo_search', {
        arguments: { query: FakeDuckDuckGo.EMPTY_QUERY },
      });
      expect(none.data).toMatchObject({
        ok: true,
        output: 'No good DuckDuckGo Search Result was found',
      });
    });

    it('google serper: sends the key header and formats answer box, knowledge graph and snippets', async () => {
      const res = await invoke('google', 'google_serper', { arguments: { query: 'alan turing' } });
      expect(res.data).toMatchObject({
        ok: true,
        output:
          'Alan Turing: Mathematician. English mathematician and computer scientist. ' +
          'Alan Turing Born: June 23, 1912. Alan Turing Died: June 7, 1954. ' +
          'Turing was a pioneer. A model of computation. Year: 1936.',
      });
      const got = serper.last()!;
      expect(got).toMatchObject({ method: 'POST', path: '/search' });
      expect(got.headers['x-api-key']).toBe(serper.apiKey);
      expect(got.headers['content-type']).toBe('application/json');
      expect(JSON.parse(got.body)).toEqual({ q: 'alan turing', gl: 'us', hl: 'en', num: 10 });

      const answer = await invoke('google', 'google_serper', {
        arguments: { query: 'answer: life' },
      });
      expect(answer.data.output).toBe('42');
      const none = await invoke('google', 'google_serper', {
        arguments: { query: 'nothing: here' },
      });
      expect(none.data.output).toBe('No good Google Search Result was found');
    });

    it('dall-e 3: posts the prompt with size and style and answers the image URL', async () => {
      const res = await invoke('dalle', 'dalle3', {
        arguments: { query: 'a red fox' },
        params: { size: '1792x1024', style: 'natural', fileList: [] },
      });
      expect(res.data).toMatchObject({ ok: true, error: '' });
      expect(res.data.output).toMatch(
        /^https:\/\/images\.fake\.test\/img-\d+\.png\?size=1792x1024&style=natural$/,
      );
      const got = dalle.last()!;
      expect(got).toMatchObject({ method: 'POST', path: '/v1/images/generations' });
      expect(got.headers.authorization).toBe(`Bearer ${dalle.apiKey}`);
      expect(JSON.parse(got.body)).toEqual({
        model: 'dall-e-3',
        prompt: 'a red fox',
        n: 1,
        size: '1792x1024',
        style: 'natural',
        response_format: 'url',
      });
      // Defaults fill settings the caller leaves out.
      await invoke('dalle', 'dalle3', { arguments: { query: 'a cat' } });
      expect(JSON.parse(dalle.last()!.body)).toMatchObject({ size: '1024x1024', style: 'vivid' });
    });

    it('gaode weather: city -> adcode via the district API, then the forecast', async () => {
      const res = await invoke('gaode', 'gaode_weather', { arguments: { city: '广州' } });
      expect(res.data.ok).toBe(true);
      expect(res.data.data).toMatchObject({
        status: '1',
        info: 'OK',
        forecasts: [{ city: '广州市', adcode: '440100', casts: expect.any(Array) }],
      });
      expect(gaode.received.map((r) => [r.path, r.query])).toEqual([
        ['/v3/config/district', { key: gaode.apiKey, keywords: '广州', subdistrict: '0' }],
        ['/v3/weather/weatherInfo', { key: gaode.apiKey, city: '440100', extensions: 'all' }],
      ]);
      const unknown = await invoke('gaode', 'gaode_weather', { arguments: { city: 'Atlantis' } });
      expect(unknown.data).toMatchObject({
        ok: false,
        error: 'Gaode knows no city named "Atlantis"',
      });
    });

    it('gaode ip: locates an IPv4 address', async () => {
      const res = await invoke('gaode', 'gaode_ip', { arguments: { ip: '114.247.50.2' } });
      expect(res.data).toMatchObject({
        ok: true,
        data: {
          ip: '114.247.50.2',
          province: '北京市',
          city: '北京市',
          adcode: '110000',
          rectangle: '116.0119343,39.66127144;116.7829835,40.2164962',
        },
      });
      expect(gaode.last()).toMatchObject({
        method: 'GET',
        path: '/v3/ip',
        query: { key: gaode.apiKey, ip: '114.247.50.2' },
      });
      const nowhere = await invoke('gaode', 'gaode_ip', { arguments: { ip: '8.8.8.8' } });
      expect(nowhere.data).toMatchObject({
        ok: false,
        error: expect.stringContaining('no location for 8.8.8.8'),
      });
      // Not an IPv4 address: the schema refuses it before any call.
      const before = gaode.received.length;
      const bad = await invoke('gaode', 'gaode_ip', { arguments: { ip: 'localhost' } });
      expect(bad).toMatchObject({
        code: 'validate_error',
        data: { ip: [expect.stringContaining('ipv4')] },
      });
      expect(gaode.received).toHaveLength(before);
    });

    it('gaode: an error inside a 200 answer (invalid key) becomes a readable error result', async () => {
      gaode.failNext(
        200,
        JSON.stringify({ status: '0', info: 'INVALID_USER_KEY', infocode: '10001' }),
        'application/json',
      );
      const res = await invoke('gaode', 'gaode_ip', { arguments: { ip: '114.247.50.2' } });
      expect(res.data).toMatchObject({
        ok: false,
        error: 'Gaode refused the request: INVALID_USER_KEY (infocode 10001)',
      });
    });

    it('wikipedia: search then extracts, in search order, in the language setting’s wiki', async () => {
      const res = await invoke('wikipedia', 'wikipedia_search', {
        arguments: { query: 'turing' },
        params: { top_k: 2 },
      });
      expect(res.data).toMatchObject({
        ok: true,
        output:
          'Page: Alan Turing\nSummary: Alan Mathison Turing was an English mathematician and computer scientist.\n\n' +
          'Page: Turing machine\nSummary: A Turing machine is a mathematical model of computation.',
      });
      const [search, extracts] = wiki.received;
      expect(search.path).toBe('/en/w/api.php');
      expect(search.query).toMatchObject({
        action: 'query',
        list: 'search',
        srsearch: 'turing',
        srlimit: '2',
        format: 'json',
      });
      expect(extracts.query).toMatchObject({
        action: 'query',
        prop: 'extracts',
        exintro: '1',
        explaintext: '1',
        redirects: '1',
        titles: 'Alan Turing|Turing Machine (computing)',
      });

      wiki.reset();
      const de = await invoke('wikipedia', 'wikipedia_search', {
        arguments: { query: 'turing' },
        params: { language: 'de' },
      });
      expect(de.data.output).toBe(
        'Page: Alan Turing\nSummary: Alan Mathison Turing war ein britischer Logiker und Mathematiker.',
      );
      expect(wiki.received.map((r) => r.path)).toEqual(['/de/w/api.php', '/de/w/api.php']);
      const none = await invoke('wikipedia', 'wikipedia_search', {
        arguments: { query: 'qqqzzz' },
      });
      expect(none.data.output).toBe('No good Wikipedia Search Result was found');
    });

    it('settings are validated: a bad select option, a number out of range, a wrong type', async () => {
      const size = await invoke('dalle', 'dalle3', {
        arguments: { query: 'x' },
        params: { size: '512x512' },
      });
      expect(size).toMatchObject({
        code: 'validate_error',
        message: 'params.size must be one of "1024x1024", "1792x1024", "1024x1792"',
        data: { 'params.size': [expect.any(String)] },
      });
      const topK = await invoke('wikipedia', 'wikipedia_search', {
        arguments: { query: 'x' },
        params: { top_k: 50 },
      });
      expect(topK).toMatchObject({
        code: 'validate_error',
        data: { 'params.top_k': ['params.top_k must be at most 10'] },
      });
      const type = await invoke('duckduckgo', 'duckduckgo_search', {
        arguments: { query: 'x' },
        params: { max_results: 'many' },
      });
      expect(type).toMatchObject({
        code: 'validate_error',
        data: { 'params.max_results': ['params.max_results must be a number'] },
      });
      expect(dalle.received).toHaveLength(0);
      expect(wiki.received).toHaveLength(0);
      expect(ddg.received).toHaveLength(0);
    });

    it('arguments are validated against the tool’s schema', async () => {
      const res = await invoke('google', 'google_serper', { arguments: {} });
      expect(res).toMatchObject({ code: 'validate_error', data: { query: ['query is required'] } });
      expect(serper.received).toHaveLength(0);
    });

    it('an unknown tool is not_found', async () => {
      expect(await invoke('time', 'sundial', {})).toMatchObject({ code: 'not_found' });
      expect(await invoke('nope', 'current_time', {})).toMatchObject({ code: 'not_found' });
    });

    it('an upstream 500 becomes an error result with the status, never the upstream page', async () => {
      serper.failNext(
        500,
        '<html><body><h1>Internal error</h1><pre>SECRET-TRACE-81c2 at handler()</pre></body></html>',
      );
      const res = await invoke('google', 'google_serper', { arguments: { query: 'x' } });
      expect(res.code).toBe('success');
      expect(res.data).toMatchObject({ ok: false, data: null, error: 'Serper answered HTTP 500' });
      expect(res.data.output).toBe('Error: Serper answered HTTP 500');
      expect(JSON.stringify(res)).not.toContain('SECRET-TRACE');

      // A JSON reason is kept, sanitized and short, and the key never comes back.
      dalle.failNext(
        400,
        JSON.stringify({
          error: {
            message: `Bad key ${dalle.apiKey}\n<b>retry</b>`,
            type: 'invalid_request_error',
          },
          trace: 'SECRET-TRACE-99',
        }),
        'application/json',
      );
      const d = await invoke('dalle', 'dalle3', { arguments: { query: 'x' } });
      expect(d.data).toMatchObject({
        ok: false,
        error: 'DALL-E answered HTTP 400: Bad key *** retry',
      });
      expect(JSON.stringify(d)).not.toContain(dalle.apiKey);
      expect(JSON.stringify(d)).not.toContain('SECRET-TRACE');

      ddg.failNext(503, 'busy SECRET-TRACE-77');
      const g = await invoke('duckduckgo', 'duckduckgo_search', { arguments: { query: 'x' } });
      expect(g.data).toMatchObject({ ok: false, error: 'DuckDuckGo answered HTTP 503' });
    });
  });

  describe('upstream redirects', () => {
    it.each([
      ['google', 'google_serper', 'http://169.254.169.254/latest/meta-data/'],
      ['duckduckgo', 'duckduckgo_search', 'http://10.0.0.7:8080/html/'],
      ['wikipedia', 'wikipedia_search', 'http://[::ffff:c0a8:101]/w/api.php'],
    ])('%s: a redirect to a private address is refused at the hop', async (provider, tool, to) => {
      const upstream = { google: serper, duckduckgo: ddg, wikipedia: wiki }[provider]!;
      upstream.redirectNext(to);
      const res = await invoke(provider, tool, { arguments: { query: 'x' } });
      expect(res.code).toBe('success');
      expect(res.data.ok).toBe(false);
      expect(res.data.error).toMatch(/refused to connect .* not allowed/i);
    });

    it('the Serper key does not follow a redirect to another origin', async () => {
      const before = ddg.received.length;
      serper.redirectNext(`${ddg.url}/html/`);
      await invoke('google', 'google_serper', { arguments: { query: 'x' } });
      const leaked = ddg.received.slice(before);
      expect(leaked.length).toBe(1);
      expect(leaked[0].headers['x-api-key']).toBeUndefined();
      expect(JSON.stringify(leaked[0].headers)).not.toContain(serper.apiKey);
    });
  });

  describe('without keys and without the loopback allow-list', () => {
    let bare: TestApp;
    let b: TestAccount;

    beforeAll(async () => {
      bare = await createTestApp({
        env: {
          OUTBOUND_ALLOW_HOSTS: '',
          DUCKDUCKGO_BASE_URL: ddg.url,
          WIKIPEDIA_BASE_URL: `${wiki.url}/{lang}`,
          SERPER_BASE_URL: serper.url,
          GAODE_BASE_URL: gaode.url,
          DALLE_BASE_URL: `${dalle.url}/v1`,
        },
      });
      b = await createAccount(bare);
    });
    afterAll(async () => bare?.close());

    const call = (provider: string, tool: string, args: Record<string, unknown>) =>
      consoleCall(
        bare
          .http()
          .post(`/builtin-tools/${provider}/tools/${tool}/invoke`)
          .set(b.auth)
          .send({ arguments: args }),
      );

    it('lists the tools whose key is missing, and each says which variable to set when invoked', async () => {
      const list = await consoleCall(bare.http().get('/builtin-tools').set(b.auth));
      expect(list.data.map((p: any) => p.name)).toEqual(PROVIDERS);
      expect(await call('google', 'google_serper', { query: 'x' })).toMatchObject({
        code: 'success',
        data: { ok: false, error: 'The Serper API key is not configured: set SERPER_API_KEY' },
      });
      expect((await call('gaode', 'gaode_weather', { city: '广州' })).data.error).toBe(
        'The Gaode API key is not configured: set GAODE_API_KEY',
      );
      expect((await call('gaode', 'gaode_ip', { ip: '114.247.50.2' })).data.error).toBe(
        'The Gaode API key is not configured: set GAODE_API_KEY',
      );
      expect((await call('dalle', 'dalle3', { query: 'x' })).data.error).toBe(
        'The DALL-E API key is not configured: set DALLE_API_KEY (or OPENAI_API_KEY)',
      );
      expect(serper.received).toHaveLength(0);
      expect(gaode.received).toHaveLength(0);
      expect(dalle.received).toHaveLength(0);
    });

    it('refuses a loopback service address that is not allow-listed, with a clear reason', async () => {
      const res = await call('duckduckgo', 'duckduckgo_search', { query: 'x' });
      expect(res.data.ok).toBe(false);
      expect(res.data.error).toMatch(
        /^DuckDuckGo request failed: Refused to connect to 127\.0\.0\.1: .*not allowed \(add the host to OUTBOUND_ALLOW_HOSTS to permit it\)$/,
      );
      const w = await call('wikipedia', 'wikipedia_search', { query: 'turing' });
      expect(w.data.error).toMatch(/^Wikipedia request failed: Refused to connect to 127\.0\.0\.1/);
      expect(ddg.received).toHaveLength(0);
      expect(wiki.received).toHaveLength(0);
    });

    it('the current time needs no network', async () => {
      const res = await call('time', 'current_time', {});
      expect(res.data).toMatchObject({
        ok: true,
        output: expect.stringMatching(/ UTC \(UTC\+00:00\)$/),
      });
    });
  });
});
