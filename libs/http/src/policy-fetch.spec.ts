import { createServer, Server } from 'node:http';
import { createPolicyFetch, retryAfterMs } from './policy-fetch';

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
