import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { once } from 'node:events';
import { createServer, IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOOPBACK_NOTATIONS } from '@test/support/loopback-notations';

/**
 * Regression for the SSRF-through-redirects probe: an allowed account base URL that redirects
 * to loopback (in any notation), leaks credentials to another origin, or answers an error page
 * that would come back verbatim in the test result, last_test_error and the AI helpers.
 */

const TARGET_MARKER = 'TARGET-SECRET-BODY-5b1e';
const PAGE_MARKER = 'UPSTREAM-ERROR-PAGE-9c4d';
const JSON_MARKER = 'UPSTREAM-JSON-EXTRA-2f7a';

interface Recorded {
  path: string;
  headers: IncomingHttpHeaders;
}

/** A loopback server recording every request it sees. */
async function listen(
  host: string,
  handler: (path: string, res: ServerResponse) => void,
): Promise<{ server: Server; port: number; seen: Recorded[] }> {
  const seen: Recorded[] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => handler(req.url ?? '', res));
  });
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, seen };
}

type Mode =
  { kind: 'redirect'; status: number; to: string } | { kind: 'page' } | { kind: 'json-error' };

describe('hardening: outbound calls of the model clients', () => {
  let t: TestApp;
  let target: Awaited<ReturnType<typeof listen>>; // 127.0.0.1: not allowed
  let other: Awaited<ReturnType<typeof listen>>; // 127.0.0.3: allowed, another origin
  let redirector: Awaited<ReturnType<typeof listen>>; // 127.0.0.2: allowed, the base URL
  let mode: Mode = { kind: 'page' };

  const errorPage = (res: ServerResponse) => {
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end(
      `<html><body><h1>Bad Gateway</h1><pre>${PAGE_MARKER}\nat internal()</pre></body></html>`,
    );
  };

  beforeAll(async () => {
    target = await listen('127.0.0.1', (_path, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal service says ${TARGET_MARKER}`);
    });
    other = await listen('127.0.0.3', (_path, res) => errorPage(res));
    redirector = await listen('127.0.0.2', (path, res) => {
      if (mode.kind === 'redirect') {
        res.writeHead(mode.status, { location: `${mode.to}${path}` });
        res.end(`moved ${TARGET_MARKER}`);
      } else if (mode.kind === 'json-error') {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { message: 'Unknown model\nplease check', type: 'invalid_request_error' },
            debug: { dump: JSON_MARKER },
          }),
        );
      } else errorPage(res);
    });
    t = await createTestApp({
      env: {
        // Only the redirector and the "other origin" are allowed, each by its exact address.
        OUTBOUND_ALLOW_HOSTS: '127.0.0.2,127.0.0.3',
        MODEL_MAX_RETRIES: '0',
        OPENAI_API_KEY: '',
        ANTHROPIC_API_KEY: '',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    for (const s of [target, other, redirector]) {
      s?.server.closeAllConnections();
      await new Promise((r) => s?.server.close(r));
    }
  });
  beforeEach(() => {
    for (const s of [target, other, redirector]) s.seen.length = 0;
  });

  const post = async (acc: TestAccount, path: string, body: Record<string, unknown> = {}) => {
    const res = await t.http().post(path).set(acc.auth).send(body);
    expect(res.status).toBe(200);
    return res.body;
  };
  const base = () => `http://127.0.0.2:${redirector.port}`;

  const PROVIDERS = [
    { provider: 'openai', path: '/v1', key: 'sk-openai-redirect-secret' },
    { provider: 'anthropic', path: '', key: 'sk-ant-redirect-secret' },
    { provider: 'ollama', path: '', key: undefined },
  ] as const;

  async function account(provider: string, path: string, key?: string): Promise<TestAccount> {
    const acc = await createAccount(t);
    const set = await post(acc, `/language-models/credentials/${provider}`, {
      base_url: `${base()}${path}`,
      ...(key ? { api_key: key } : {}),
    });
    expect(set.code).toBe('success');
    return acc;
  }

  async function testAndSaved(acc: TestAccount, provider: string) {
    const res = await post(acc, `/language-models/credentials/${provider}/test`);
    expect(res.code).toBe('success');
    const list = await t.http().get('/language-models/credentials').set(acc.auth);
    const saved = (list.body.data as Array<{ provider: string; last_test_error: string }>).find(
      (c) => c.provider === provider,
    )!;
    return { res, saved };
  }

  describe.each(PROVIDERS)('$provider', ({ provider, path, key }) => {
    it.each([301, 302, 303, 307, 308])(
      'refuses a %s redirect to loopback in every notation without reaching it',
      async (status) => {
        const acc = await account(provider, path, key);
        for (const host of LOOPBACK_NOTATIONS) {
          mode = { kind: 'redirect', status, to: `http://${host}:${target.port}` };
          const { res, saved } = await testAndSaved(acc, provider);
          expect(res.data.ok).toBe(false);
          expect(res.data.error).toMatch(/not allowed/);
          expect(saved.last_test_error).toMatch(/not allowed/);
          expect(JSON.stringify([res, saved])).not.toContain(TARGET_MARKER);
        }
        expect(redirector.seen.length).toBeGreaterThanOrEqual(LOOPBACK_NOTATIONS.length);
        expect(target.seen).toHaveLength(0);
      },
    );

    it('drops its credentials on a hop to another origin and never echoes its error page', async () => {
      const acc = await account(provider, path, key);
      mode = { kind: 'redirect', status: 307, to: `http://127.0.0.3:${other.port}` };
      const { res, saved } = await testAndSaved(acc, provider);
      expect(res.data.ok).toBe(false);
      expect(redirector.seen).toHaveLength(1);
      if (key) expect(JSON.stringify(redirector.seen[0].headers)).toContain(key);
      expect(other.seen).toHaveLength(1);
      const leaked = other.seen[0].headers;
      expect(leaked.authorization).toBeUndefined();
      expect(leaked['x-api-key']).toBeUndefined();
      if (key) expect(JSON.stringify(leaked)).not.toContain(key);
      expect(res.data.error).toMatch(/502/);
      for (const text of [JSON.stringify(res), saved.last_test_error]) {
        expect(text).not.toContain(PAGE_MARKER);
        expect(text).not.toMatch(/<html|<pre|Bad Gateway<\/h1>/i);
      }
    });

    it('answers an upstream error page with its status only', async () => {
      const acc = await account(provider, path, key);
      mode = { kind: 'page' };
      const { res, saved } = await testAndSaved(acc, provider);
      expect(res.data.ok).toBe(false);
      expect(res.data.error).toMatch(/^HTTP 502\b/);
      expect(saved.last_test_error).toBe(res.data.error);
      expect(JSON.stringify([res, saved])).not.toContain(PAGE_MARKER);
      expect(target.seen).toHaveLength(0);
    });
  });

  it('keeps a short structured reason of a JSON error, on one line, and nothing else', async () => {
    const acc = await account('openai', '/v1', 'sk-json-error');
    mode = { kind: 'json-error' };
    const { res, saved } = await testAndSaved(acc, 'openai');
    expect(res.data.error).toBe('HTTP 400: Unknown model please check');
    expect(saved.last_test_error).toBe(res.data.error);
    expect(JSON.stringify([res, saved])).not.toContain(JSON_MARKER);
  });

  describe('AI helpers', () => {
    it('suggested questions and auto-generated prompts answer fail without the upstream body', async () => {
      const acc = await account('openai', '/v1', 'sk-ai-helper');
      mode = { kind: 'page' };
      const suggested = await post(acc, '/ai/suggested-questions', { query: 'q', answer: 'a' });
      expect(suggested.code).toBe('fail');
      expect(suggested.message).toBe('The model call failed: HTTP 502');
      const generated = await post(acc, '/ai/auto-generate-prompt', { description: 'a bot' });
      expect(generated).toMatchObject({ code: 'fail', message: 'The model call failed: HTTP 502' });
      mode = { kind: 'redirect', status: 302, to: `http://2130706433:${target.port}` };
      const redirected = await post(acc, '/ai/suggested-questions', { query: 'q', answer: 'a' });
      expect(redirected.code).toBe('fail');
      expect(redirected.message).toMatch(/^The model call failed: Refused to connect/);
      expect(JSON.stringify([suggested, generated, redirected])).not.toMatch(
        new RegExp(`${PAGE_MARKER}|${TARGET_MARKER}`),
      );
      expect(target.seen).toHaveLength(0);
    });

    it('optimize-prompt ends with an error frame without the upstream body', async () => {
      const acc = await account('openai', '/v1', 'sk-ai-optimize');
      mode = { kind: 'page' };
      const res = await t
        .http()
        .post('/ai/optimize-prompt')
        .set(acc.auth)
        .send({ prompt: 'You are a bot' })
        .buffer(true)
        .parse((r, done) => {
          let data = '';
          r.on('data', (c: Buffer) => (data += c.toString()));
          r.on('end', () => done(null, data));
        });
      const text = res.body as string;
      expect(text).toMatch(/event: error/);
      expect(text).toContain('HTTP 502');
      expect(text).not.toContain(PAGE_MARKER);
    });
  });
});
