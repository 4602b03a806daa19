import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { OutboundHttpClient, type OutboundHttpClientOptions } from './outbound-http.client';
import { OutboundRequestError, type OutboundErrorCode } from './outbound-request-error';
import type { HostResolver } from './ssrf-guard';
import { LOOPBACK_NOTATIONS } from '@test/support/loopback-notations';

// Deterministic DNS: the names below are what the tests resolve; nothing reaches a real resolver.
const DNS: Record<string, string[]> = {
  localhost: ['127.0.0.1'],
  'internal.test': ['127.0.0.1'],
  'allowed.test': ['127.0.0.1'],
  'api.corp.test': ['127.0.0.1'],
  'mixed.test': ['93.184.216.34', '127.0.0.1'],
};
const resolver: HostResolver = async (host) => {
  const addresses = DNS[host];
  if (!addresses)
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: isIP(address) }));
};

const RANGE_DATA = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
const hits = new Map<string, number>();
let server: Server;
let port: number;
const base = (host = '127.0.0.1') => `http://${host}:${port}`;

/** Counts requests per `path?id` so each test sees only its own traffic. */
function count(req: IncomingMessage): number {
  const key = req.url ?? '';
  const n = (hits.get(key) ?? 0) + 1;
  hits.set(key, n);
  return n;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const n = count(req);
  switch (url.pathname) {
    case '/ok':
      res.end('hello');
      return;
    case '/json':
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true }));
      return;
    case '/not-json':
      res.setHeader('content-type', 'application/json');
      res.end('<html>');
      return;
    case '/echo': {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            method: req.method,
            headers: req.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      });
      return;
    }
    case '/redirect':
      res.writeHead(Number(url.searchParams.get('status') ?? 302), {
        location: url.searchParams.get('to') ?? '/ok',
      });
      res.end();
      return;
    case '/loop':
      res.writeHead(302, { location: `/loop?id=${url.searchParams.get('id')}` });
      res.end();
      return;
    case '/429-once':
      if (n === 1) {
        res.writeHead(429, { 'retry-after': url.searchParams.get('after') ?? '1' });
        res.end('slow down');
      } else res.end('finally');
      return;
    case '/500-once':
      res.statusCode = n === 1 ? 500 : 200;
      res.end(n === 1 ? 'boom' : 'recovered');
      return;
    case '/always-503':
      res.statusCode = 503;
      res.end('down');
      return;
    case '/404':
      res.statusCode = 404;
      res.end('missing');
      return;
    case '/reset-once':
      if (n === 1) req.socket.destroy();
      else res.end('second try');
      return;
    case '/hang':
      return; // never answers
    case '/big-cl':
      res.setHeader('content-length', 4096);
      res.end(Buffer.alloc(4096, 'a'));
      return;
    case '/big-chunked': {
      // Endless chunked body: only an early abort ends this test quickly.
      const timer = setInterval(() => res.write(Buffer.alloc(512, 'b')), 5);
      res.on('close', () => clearInterval(timer));
      return;
    }
    case '/range': {
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (!m) {
        res.end(RANGE_DATA);
        return;
      }
      const [start, end] = [Number(m[1]), Number(m[2])];
      res.writeHead(206, {
        'content-range': `bytes ${start}-${end}/${RANGE_DATA.length}`,
        'content-length': end - start + 1,
      });
      res.end(RANGE_DATA.subarray(start, end + 1));
      return;
    }
    default:
      res.statusCode = 404;
      res.end();
  }
}

const clients: OutboundHttpClient[] = [];
function client(extra: Partial<OutboundHttpClientOptions> = {}): OutboundHttpClient {
  const c = new OutboundHttpClient({
    timeoutMs: 1500,
    maxResponseBytes: 1024,
    maxRetries: 2,
    retryBaseDelayMs: 20,
    resolver,
    ...extra,
  });
  clients.push(c);
  return c;
}

async function failure(
  p: Promise<unknown>,
  code: OutboundErrorCode,
): Promise<OutboundRequestError> {
  const err = await p.then(
    () => {
      throw new Error(`expected ${code}, got a response`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundRequestError);
  expect(err).toMatchObject({ code });
  return err as OutboundRequestError;
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

let seq = 0;
const id = () => `t${++seq}`;

beforeAll(async () => {
  server = createServer(handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('OutboundHttpClient SSRF guard', () => {
  it.each([
    ['127.0.0.1', () => `${base()}/ok`, 'loopback'],
    ['10.0.0.1', () => 'http://10.0.0.1/ok', 'private'],
    ['169.254.169.254', () => 'http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['[::1]', () => `http://[::1]:${port}/ok`, 'loopback'],
    ['::ffff:127.0.0.1', () => `http://[::ffff:127.0.0.1]:${port}/ok`, 'loopback'],
    ['a name resolving to loopback', () => `${base('internal.test')}/ok`, 'loopback'],
    ['a name with one private address', () => `${base('mixed.test')}/ok`, 'loopback'],
    ['metadata.google.internal', () => 'http://metadata.google.internal/', 'metadata'],
  ])('refuses %s without touching the server', async (_label, url, reason) => {
    const before = hits.get('/ok') ?? 0;
    const err = await failure(client().request(url()), 'ssrf_blocked');
    expect(err.message).toContain(reason);
    expect(err.message).toContain('OUTBOUND_ALLOW_HOSTS');
    expect(hits.get('/ok') ?? 0).toBe(before);
  });

  it.each([
    ['by IP', ['127.0.0.1'], () => `${base()}/ok`],
    ['by CIDR', ['127.0.0.0/8'], () => `${base()}/ok`],
    ['by host name', ['internal.test'], () => `${base('internal.test')}/ok`],
    ['by localhost', ['localhost'], () => `${base('localhost')}/ok`],
    ['by wildcard', ['*.corp.test'], () => `${base('api.corp.test')}/ok`],
    ['a resolved name by CIDR', ['127.0.0.0/8'], () => `${base('internal.test')}/ok`],
  ])('reaches the loopback server when allow-listed %s', async (_label, allowHosts, url) => {
    const res = await client({ allowHosts }).request(url());
    expect(res).toMatchObject({ status: 200, body: 'hello' });
  });

  it('refuses a redirect from an allowed host to a refused address', async () => {
    const c = client({ allowHosts: ['allowed.test'] });
    const before = hits.get('/ok') ?? 0;
    for (const to of [`${base()}/ok`, `${base('internal.test')}/ok`, 'http://169.254.169.254/']) {
      const url = `${base('allowed.test')}/redirect?to=${encodeURIComponent(to)}`;
      await failure(c.request(url), 'ssrf_blocked');
    }
    expect(hits.get('/ok') ?? 0).toBe(before);
  });
});

describe('OutboundHttpClient redirects to loopback', () => {
  it.each(LOOPBACK_NOTATIONS)(
    'refuses a %s redirect hop (301, 302, 303, 307, 308) without reaching it',
    async (host) => {
      const c = client({ allowHosts: ['allowed.test'] });
      const before = hits.get('/ok') ?? 0;
      for (const status of [301, 302, 303, 307, 308]) {
        const to = `http://${host}:${port}/ok`;
        const url = `${base('allowed.test')}/redirect?status=${status}&to=${encodeURIComponent(to)}`;
        await failure(c.request(url, { method: 'POST', body: 'x' }), 'ssrf_blocked');
        await failure(c.stream(url), 'ssrf_blocked');
      }
      expect(hits.get('/ok') ?? 0).toBe(before);
    },
  );
});

const CREDENTIALS: Record<string, string> = {
  authorization: 'Bearer secret-a',
  'proxy-authorization': 'Basic secret-b',
  cookie: 'session=secret-c',
  'x-api-key': 'secret-d',
  'api-key': 'secret-e',
  'x-goog-api-key': 'secret-f',
  'x-custom-auth': 'secret-g',
};

describe('OutboundHttpClient requests', () => {
  const c = () => client({ allowHosts: ['127.0.0.1', 'localhost'] });

  it('sends method, headers and JSON; parses JSON answers', async () => {
    const res = await c().request<{
      method: string;
      headers: Record<string, string>;
      body: string;
    }>(`${base()}/echo`, {
      method: 'post',
      json: { a: 1 },
      headers: { 'X-Test': 'yes' },
      responseType: 'json',
    });
    expect(res.status).toBe(200);
    expect(res.body.method).toBe('POST');
    expect(res.body.body).toBe('{"a":1}');
    expect(res.body.headers).toMatchObject({
      'x-test': 'yes',
      'content-type': 'application/json',
      accept: 'application/json',
      'user-agent': expect.stringContaining('LLMOps'),
    });
  });

  it('returns buffers and refuses 2xx bodies that are not JSON', async () => {
    const buf = await c().request(`${base()}/ok`, { responseType: 'buffer' });
    expect(buf.body).toEqual(Buffer.from('hello'));
    await failure(c().request(`${base()}/not-json`, { responseType: 'json' }), 'invalid_response');
  });

  it('follows redirects, turns 303 into GET and drops credentials across origins', async () => {
    const to = `${base('localhost')}/echo`;
    const res = await c().request<{
      method: string;
      headers: Record<string, string>;
      body: string;
    }>(`${base()}/redirect?status=303&to=${encodeURIComponent(to)}`, {
      method: 'POST',
      body: 'x',
      headers: { authorization: 'Bearer s' },
      responseType: 'json',
    });
    expect(res.url).toBe(to);
    expect(res.body.method).toBe('GET');
    expect(res.body.headers.authorization).toBeUndefined();
  });

  it('drops every credential header on a cross-origin hop and keeps them on the same origin', async () => {
    type Echo = { headers: Record<string, string> };
    const send = (to: string) =>
      c().request<Echo>(`${base()}/redirect?status=307&to=${encodeURIComponent(to)}`, {
        headers: { ...CREDENTIALS, 'x-other': 'kept' },
        authHeaders: ['X-Custom-Auth'],
        responseType: 'json',
      });
    const cross = await send(`${base('localhost')}/echo`);
    for (const name of Object.keys(CREDENTIALS)) expect(cross.body.headers[name]).toBeUndefined();
    expect(cross.body.headers['x-other']).toBe('kept');
    const same = await send('/echo');
    for (const [name, value] of Object.entries(CREDENTIALS))
      expect(same.body.headers[name]).toBe(value);
  });

  it('stops after 5 redirects, and can leave redirects to the caller', async () => {
    const loopId = id();
    await failure(c().request(`${base()}/loop?id=${loopId}`), 'too_many_redirects');
    expect(hits.get(`/loop?id=${loopId}`)).toBe(6);
    const res = await c().request(`${base()}/redirect?to=/ok`, { followRedirects: false });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/ok');
  });

  it('refuses URLs that are not http(s)', async () => {
    await failure(c().request('ftp://127.0.0.1/x'), 'invalid_url');
    await failure(c().request('file:///etc/passwd'), 'invalid_url');
    await failure(c().request('not a url'), 'invalid_url');
  });

  it('retries 429 after Retry-After: 1 and succeeds', async () => {
    const path = `/429-once?id=${id()}`;
    const started = Date.now();
    const res = await c().request(`${base()}${path}`, { timeoutMs: 1900 });
    const elapsed = Date.now() - started;
    expect(res).toMatchObject({ status: 200, body: 'finally' });
    expect(hits.get(path)).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(1800);
  });

  it('does not wait for a Retry-After beyond the cap', async () => {
    const path = `/429-once?id=${id()}&after=60`;
    const res = await c().request(`${base()}${path}`);
    expect(res.status).toBe(429);
    expect(hits.get(path)).toBe(1);
  });

  it('retries 500 then returns the 200', async () => {
    const path = `/500-once?id=${id()}`;
    const res = await c().request(`${base()}${path}`);
    expect(res).toMatchObject({ status: 200, body: 'recovered' });
    expect(hits.get(path)).toBe(2);
  });

  it('gives up after maxRetries and returns the last 5xx', async () => {
    const path = `/always-503?id=${id()}`;
    const res = await c().request(`${base()}${path}`, { retries: 2 });
    expect(res.status).toBe(503);
    expect(hits.get(path)).toBe(3);
  });

  it('does not retry a 404, and throws http_error for it with throwOnError', async () => {
    const path = `/404?id=${id()}`;
    const res = await c().request(`${base()}${path}`);
    expect(res).toMatchObject({ status: 404, body: 'missing' });
    expect(hits.get(path)).toBe(1);
    const err = await failure(
      c().request(`${base()}${path}`, { throwOnError: true }),
      'http_error',
    );
    expect(err.status).toBe(404);
    expect(err.message).toContain('HTTP 404 Not Found');
  });

  it('retries network errors for GET but not for POST', async () => {
    const getPath = `/reset-once?id=${id()}`;
    expect((await c().request(`${base()}${getPath}`)).body).toBe('second try');
    expect(hits.get(getPath)).toBe(2);
    const postPath = `/reset-once?id=${id()}`;
    await failure(c().request(`${base()}${postPath}`, { method: 'POST', body: 'x' }), 'network');
    expect(hits.get(postPath)).toBe(1);
  });

  it('times out quickly on a server that never answers', async () => {
    const started = Date.now();
    const err = await failure(c().request(`${base()}/hang`, { timeoutMs: 200 }), 'timeout');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err.message).toContain('timed out after 200 ms');
  });

  it('reports a caller abort as aborted', async () => {
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 50);
    await failure(c().request(`${base()}/hang`, { signal: ctrl.signal }), 'aborted');
    await failure(c().request(`${base()}/ok`, { signal: AbortSignal.abort() }), 'aborted');
  });

  it('refuses bodies over the limit, from Content-Length and while streaming', async () => {
    const declared = await failure(c().request(`${base()}/big-cl`), 'too_large');
    expect(declared.status).toBe(200);
    const head = await c().request(`${base()}/big-cl`, { method: 'HEAD' });
    expect(head.status).toBe(200); // a HEAD announces the length without sending it
    const started = Date.now();
    await failure(c().request(`${base()}/big-chunked`, { maxResponseBytes: 4096 }), 'too_large');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('OutboundHttpClient.stream', () => {
  const c = () => client({ allowHosts: ['127.0.0.1'] });

  it('downloads a byte range', async () => {
    const res = await c().stream(`${base()}/range`, { headers: { Range: 'bytes=10-19' } });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 10-19/${RANGE_DATA.length}`);
    expect((await collect(res.body)).toString()).toBe('abcdefghij');
  });

  it('has no size limit by default but honours one when given', async () => {
    const whole = await c().stream(`${base()}/big-cl`);
    expect((await collect(whole.body)).length).toBe(4096);
    await failure(c().stream(`${base()}/big-cl`, { maxResponseBytes: 100 }), 'too_large');
    const endless = await c().stream(`${base()}/big-chunked`, { maxResponseBytes: 2048 });
    await failure(collect(endless.body), 'too_large');
  });

  it('is still guarded against SSRF', async () => {
    await failure(client().stream(`${base()}/range`), 'ssrf_blocked');
  });

  it('reads chunks through readChunks, holding the next one back while a promise runs', async () => {
    const res = await c().stream(`${base()}/big-cl`);
    const chunks: Buffer[] = [];
    let busy = false;
    let overlapped = false;
    await res.readChunks((chunk) => {
      overlapped ||= busy;
      chunks.push(chunk);
      busy = true;
      return new Promise<void>((r) =>
        setTimeout(() => {
          busy = false;
          r();
        }, 2),
      );
    });
    expect(overlapped).toBe(false);
    expect(Buffer.concat(chunks).equals(Buffer.alloc(4096, 'a'))).toBe(true);

    const range = await c().stream(`${base()}/range`, { headers: { Range: 'bytes=10-19' } });
    const got: Buffer[] = [];
    await range.readChunks((chunk) => void got.push(chunk));
    expect(Buffer.concat(got).toString()).toBe('abcdefghij');
  });

  it('readChunks stops on false, keeps the callback errors and the size limit', async () => {
    const endless = await c().stream(`${base()}/big-chunked`);
    let received = 0;
    await endless.readChunks((chunk) => (received += chunk.length) < 2048);
    expect(received).toBeGreaterThanOrEqual(2048);

    const mine = new Error('disk full');
    const failing = await c().stream(`${base()}/big-chunked`);
    await expect(failing.readChunks(() => Promise.reject(mine))).rejects.toBe(mine);

    const limited = await c().stream(`${base()}/big-chunked`, { maxResponseBytes: 2048 });
    await failure(
      limited.readChunks(() => undefined),
      'too_large',
    );
  });

  it('readChunks ends with aborted when abort() is called mid-body', async () => {
    const res = await c().stream(`${base()}/big-chunked`);
    let received = 0;
    await failure(
      res.readChunks((chunk) => {
        received += chunk.length;
        if (received > 2048) res.abort();
      }),
      'aborted',
    );
  });

  it('stops an endless download on abort()', async () => {
    const res = await c().stream(`${base()}/big-chunked`);
    let received = 0;
    await expect(
      (async () => {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          received += chunk.length;
          if (received > 2048) res.abort();
        }
      })(),
    ).rejects.toBeDefined();
    expect(res.body.destroyed).toBe(true);
  });
});
