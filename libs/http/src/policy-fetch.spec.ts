import { createServer, Server } from 'node:http';
import type { Agent } from 'undici';
import { OutboundRequestError } from './outbound-request-error';
import {
  createGuardedAgent,
  createPolicyFetch,
  type PolicyFetchOptions,
  retryAfterMs,
} from './policy-fetch';
import { type HostResolver, SsrfPolicy } from './ssrf-guard';
import { LOOPBACK_NOTATIONS } from '@test/support/loopback-notations';

describe('createPolicyFetch', () => {
  let server: Server;
  let url: string;
  let script: Array<{ status: number; headers?: Record<string, string>; delayMs?: number }> = [];
  let hits = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits += 1;
      const step = script.shift() ?? { status: 200 };
      setTimeout(() => {
        res.writeHead(step.status, { 'content-type': 'text/plain', ...step.headers });
        res.end(`status ${step.status}`);
      }, step.delayMs ?? 0);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/x`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    script = [];
    hits = 0;
  });

  it('retries a 429 after retry-after-ms and returns the success', async () => {
    script = [{ status: 429, headers: { 'retry-after-ms': '30' } }, { status: 200 }];
    const fetch = createPolicyFetch({ maxRetries: 2, timeoutMs: 5000 });
    const started = Date.now();
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('status 200');
    expect(hits).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('returns the last error status once retries are spent, and never retries a 400', async () => {
    script = [{ status: 503 }, { status: 503 }];
    const res = await createPolicyFetch({ maxRetries: 1, timeoutMs: 5000, baseDelayMs: 5 })(url);
    expect(res.status).toBe(503);
    expect(hits).toBe(2);
    script = [{ status: 400 }];
    hits = 0;
    expect((await createPolicyFetch({ maxRetries: 3, timeoutMs: 5000 })(url)).status).toBe(400);
    expect(hits).toBe(1);
  });

  it('does not wait for a Retry-After beyond the cap', async () => {
    script = [{ status: 429, headers: { 'retry-after': '120' } }];
    const res = await createPolicyFetch({ maxRetries: 3, timeoutMs: 5000, maxRetryDelayMs: 1000 })(
      url,
    );
    expect(res.status).toBe(429);
    expect(hits).toBe(1);
  });

  it('fails a slow call with a timeout error naming the host', async () => {
    script = [{ status: 200, delayMs: 500 }];
    await expect(createPolicyFetch({ maxRetries: 0, timeoutMs: 100 })(url)).rejects.toThrow(
      /Request to 127\.0\.0\.1:\d+ timed out after 100 ms/,
    );
  });

  it('drops its deadline timer once the body has arrived', async () => {
    const set = jest.spyOn(global, 'setTimeout');
    try {
      const res = await createPolicyFetch({ maxRetries: 0, timeoutMs: 60_000 })(url);
      expect(res.url).toBe(url);
      expect(await res.text()).toBe('status 200');
      await new Promise((r) => setImmediate(r));
      const deadline = set.mock.calls.findIndex((call) => call[1] === 60_000);
      expect(deadline).toBeGreaterThanOrEqual(0);
      // A cleared Node timer is marked destroyed; an armed one would hold its signals for 60 s.
      expect((set.mock.results[deadline].value as { _destroyed?: boolean })._destroyed).toBe(true);
    } finally {
      set.mockRestore();
    }
  });

  it('parses Retry-After as seconds, HTTP date or retry-after-ms', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }), now)).toBe(2000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }), now)).toBe(
      3000,
    );
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '150', 'retry-after': '9' }), now)).toBe(
      150,
    );
    expect(retryAfterMs(new Headers({}), now)).toBeUndefined();
  });
});

describe('createPolicyFetch redirects and error bodies', () => {
  const MARKER = 'INTERNAL-BODY-7f3a';
  let server: Server;
  let port: number;
  const hits = new Map<string, number>();
  const agents: Agent[] = [];
  const base = (host = '127.0.0.1') => `http://${host}:${port}`;
  // Deterministic DNS: only these names resolve, all to the loopback test server.
  const resolver: HostResolver = async (host) => {
    if (host !== 'allowed.test' && host !== 'localhost')
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return [{ address: '127.0.0.1', family: 4 }];
  };
  /** A policy fetch allowing only `allowed.test` (so the server's IP literals are refused). */
  const guarded = (extra: Partial<PolicyFetchOptions> = {}) => {
    const policy = new SsrfPolicy(['allowed.test']);
    const dispatcher = createGuardedAgent(policy, resolver);
    agents.push(dispatcher);
    return createPolicyFetch({
      maxRetries: 0,
      timeoutMs: 5000,
      guard: { policy, dispatcher },
      ...extra,
    });
  };
  const open = (extra: Partial<PolicyFetchOptions> = {}) =>
    createPolicyFetch({ maxRetries: 0, timeoutMs: 5000, ...extra });

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        switch (url.pathname) {
          case '/redirect':
            res.writeHead(Number(url.searchParams.get('status') ?? 302), {
              location: url.searchParams.get('to') ?? '/echo',
            });
            res.end(`redirect body ${MARKER}`);
            return;
          case '/loop':
            res.writeHead(302, { location: '/loop' });
            res.end();
            return;
          case '/echo':
            res.setHeader('content-type', 'application/json');
            res.end(
              JSON.stringify({
                method: req.method,
                headers: req.headers,
                body: Buffer.concat(chunks).toString(),
              }),
            );
            return;
          case '/html-error':
            res.writeHead(502, { 'content-type': 'text/html' });
            res.end(`<html><body><h1>Bad gateway</h1><pre>${MARKER} stack</pre></body></html>`);
            return;
          case '/json-error':
            res.writeHead(400, { 'content-type': 'application/json' });
            res.end(
              JSON.stringify({
                error: {
                  message: `Model\n\u0007not found${' x'.repeat(300)}`,
                  type: 'invalid_request_error',
                  debug: MARKER,
                },
                trace: MARKER,
              }),
            );
            return;
          default:
            res.end(`hello ${MARKER}`);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const failure = async (p: Promise<unknown>, code: string) => {
    const err = await p.then(
      () => new Error('expected a failure, got a response'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OutboundRequestError);
    expect(err).toMatchObject({ code });
    return err as OutboundRequestError;
  };

  it.each(LOOPBACK_NOTATIONS)(
    'refuses a redirect hop to %s for every redirect status',
    async (host) => {
      const fetch = guarded();
      const before = hits.get('/target') ?? 0;
      for (const status of [301, 302, 303, 307, 308]) {
        const to = encodeURIComponent(`http://${host}:${port}/target`);
        const res = fetch(`${base('allowed.test')}/redirect?status=${status}&to=${to}`, {
          method: 'POST',
          body: '{}',
          headers: { 'x-api-key': 'k' },
        });
        const err = await failure(res, 'ssrf_blocked');
        expect(err.message).not.toContain(MARKER);
      }
      expect(hits.get('/target') ?? 0).toBe(before);
    },
  );

  it('refuses an IP-literal first URL that is not allowed', async () => {
    const before = hits.get('/target') ?? 0;
    await failure(guarded()(`http://2130706433:${port}/target`), 'ssrf_blocked');
    expect(hits.get('/target') ?? 0).toBe(before);
  });

  it('follows an allowed redirect, turning 303 (and 302 after POST) into a body-less GET', async () => {
    for (const status of [303, 302, 301]) {
      const res = await guarded()(`${base('allowed.test')}/redirect?status=${status}&to=/echo`, {
        method: 'POST',
        body: '{"a":1}',
        headers: { 'content-type': 'application/json' },
      });
      const echo = (await res.json()) as { method: string; body: string; headers: object };
      expect(echo).toMatchObject({ method: 'GET', body: '' });
      expect(echo.headers).not.toHaveProperty('content-type');
      expect(res.url).toBe(`${base('allowed.test')}/echo`);
    }
    const kept = await open()(`${base()}/redirect?status=307&to=/echo`, {
      method: 'POST',
      body: 'payload',
    });
    expect(await kept.json()).toMatchObject({ method: 'POST', body: 'payload' });
  });

  it('drops every credential header on a cross-origin hop and keeps them on the same origin', async () => {
    const credentials: Record<string, string> = {
      authorization: 'Bearer secret-a',
      'proxy-authorization': 'Basic secret-b',
      cookie: 'session=secret-c',
      'x-api-key': 'secret-d',
      'api-key': 'secret-e',
      'x-goog-api-key': 'secret-f',
      'x-custom-auth': 'secret-g',
    };
    const send = async (to: string) => {
      const res = await open({ authHeaders: ['X-Custom-Auth'] })(
        `${base()}/redirect?status=308&to=${encodeURIComponent(to)}`,
        { headers: { ...credentials, 'x-other': 'kept' } },
      );
      return ((await res.json()) as { headers: Record<string, string> }).headers;
    };
    const cross = await send(`${base('localhost')}/echo`);
    for (const name of Object.keys(credentials)) expect(cross[name]).toBeUndefined();
    expect(cross['x-other']).toBe('kept');
    const same = await send('/echo');
    for (const [name, value] of Object.entries(credentials)) expect(same[name]).toBe(value);
  });

  it('stops after the hop limit with too_many_redirects', async () => {
    hits.set('/loop', 0);
    await failure(open({ maxRedirects: 3 })(`${base()}/loop`), 'too_many_redirects');
    expect(hits.get('/loop')).toBe(4);
  });

  it('cannot follow a 307 with a streamed body', async () => {
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('streamed'));
        c.close();
      },
    });
    const res = open()(`${base()}/redirect?status=307&to=/echo`, {
      method: 'POST',
      body,
      duplex: 'half',
    } as RequestInit);
    await failure(res, 'invalid_request');
  });

  it('never hands back an upstream error page; keeps a short structured reason', async () => {
    const html = await open()(`${base()}/html-error`);
    expect(html.status).toBe(502);
    expect(await html.text()).toBe('');
    const json = await open()(`${base()}/json-error`);
    expect(json.status).toBe(400);
    const text = await json.text();
    expect(text).not.toContain(MARKER);
    const body = JSON.parse(text) as { error: { message: string; type: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/^Model not found x x/);
    expect(body.error.message.length).toBeLessThanOrEqual(200);
  });
});

describe('createPolicyFetch body limits', () => {
  let server: Server;
  let base: string;
  /** Bytes the server wrote before the client went away, per path. */
  const written = new Map<string, number>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? '/';
      const status = path.startsWith('/error') ? 500 : 200;
      const declared = path.includes('declared');
      res.writeHead(status, {
        'content-type': 'text/plain',
        ...(declared ? { 'content-length': String(64 * 1024 * 1024) } : {}),
      });
      const chunk = Buffer.alloc(64 * 1024, 'a');
      let sent = 0;
      // An endless body (chunked unless a length was declared), until the client goes away.
      const pump = () => {
        while (!res.destroyed && sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          written.set(path, sent);
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end();
      };
      res.on('close', () => written.set(path, sent));
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('fails a successful answer longer than maxBodyBytes with too_large, chunked or declared', async () => {
    const fetch = createPolicyFetch({
      maxRetries: 0,
      timeoutMs: 10_000,
      maxBodyBytes: 1024 * 1024,
    });
    const res = await fetch(`${base}/ok-chunked`);
    expect(res.status).toBe(200);
    const err = await res.text().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OutboundRequestError);
    expect(err).toMatchObject({ code: 'too_large' });
    expect((err as Error).message).toMatch(/larger than 1048576 bytes/);
    await expect(fetch(`${base}/ok-declared`)).rejects.toMatchObject({ code: 'too_large' });
    // The connection was dropped soon after the limit, not read to its end.
    expect(written.get('/ok-chunked')!).toBeLessThan(16 * 1024 * 1024);
  });

  it('reads an endless chunked error body no further than the error reason limit', async () => {
    const res = await createPolicyFetch({ maxRetries: 0, timeoutMs: 10_000 })(
      `${base}/error-chunked`,
    );
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('');
    expect(written.get('/error-chunked')!).toBeLessThan(16 * 1024 * 1024);
  });
});
