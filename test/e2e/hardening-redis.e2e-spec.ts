import { JobQueue, QueueUnavailableError } from '@app/queue';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { TestRedisServer } from '@test/support/redis-server';
import { freePort, MAIN, ROOT, ServiceProcess, startService } from '@test/support/service-process';
import { TcpProxy } from '@test/support/tcp-proxy';
import { uniqueRedisPrefix, workerDatabaseUrl } from '@test/support/test-env';
import { ChildProcess, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SHUTDOWN_MARGIN_MS } from 'src/bootstrap/shutdown';
import type { Response } from 'supertest';
import { DataSource } from 'typeorm';

/** Redis outages (issue "4. Hardening", part 3): nothing on the request path waits on Redis. */

const FAST_MS = 1_000;

async function timed(req: PromiseLike<Response>): Promise<{ res: Response; ms: number }> {
  const started = Date.now();
  const res = await req;
  return { res, ms: Date.now() - started };
}

/** GET /health/ready answers 503 within FAST_MS, naming `down` and reporting `up` healthy. */
async function expectNotReady(t: TestApp, down: string, up: string): Promise<void> {
  const { res, ms } = await timed(t.http().get('/health/ready'));
  expect(ms).toBeLessThan(FAST_MS);
  expect(res.status).toBe(503);
  expect(res.body).toMatchObject({
    status: 'error',
    info: { [up]: { status: 'up' } },
    error: { [down]: { status: 'down' } },
  });
}

/** Polls GET /health/ready until it answers 200 or `deadline` passes; the last answer. */
async function readyBy(t: TestApp, deadline: number): Promise<Response> {
  let ready = await t.http().get('/health/ready');
  while (ready.status !== 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    ready = await t.http().get('/health/ready');
  }
  return ready;
}

describe('Redis outage: the api keeps answering and recovers alone (scale mode)', () => {
  let redis: TestRedisServer;
  let t: TestApp;
  let user: TestAccount;

  beforeAll(async () => {
    redis = await TestRedisServer.start();
    t = await createTestApp({ redisUrl: redis.url, env: { THROTTLE_LIMIT: '15' } });
    user = await createAccount(t);
  }, 60_000);
  afterAll(async () => {
    await redis?.restart().catch(() => undefined);
    await t?.close();
    await redis?.kill();
  }, 30_000);

  /** GET /account (authenticated, throttled by the default throttler). */
  const account = () => t.http().get('/account').set(user.auth);

  it('counts requests against the limit while Redis is up', async () => {
    const first = await account();
    const second = await account();
    expect(first.body.code).toBe('success');
    expect(Number(second.headers['x-ratelimit-remaining'])).toBe(
      Number(first.headers['x-ratelimit-remaining']) - 1,
    );
  });

  // Frozen first: its recovery ends blocked (429) with counters kept; the dead Redis then loses
  // them, so each recovery proves that counting resumes from where Redis stands.
  describe.each([
    ['frozen (SIGSTOP: connections open, no answers)', 'frozen'],
    ['dead (killed: connections refused)', 'dead'],
  ] as const)('Redis %s', (_label, kind) => {
    it('answers /ping, an authenticated throttled route and /health/live within 1 s, past the limit', async () => {
      if (kind === 'dead') await redis.kill();
      else redis.freeze();
      // More requests than THROTTLE_LIMIT: the throttler fails open rather than blocking.
      for (let i = 0; i < 20; i++) {
        const { res, ms } = await timed(account());
        expect(res.status).toBe(200);
        expect(res.body.code).toBe('success');
        expect(ms).toBeLessThan(FAST_MS);
      }
      const ping = await timed(t.http().get('/ping'));
      expect(ping.res.body).toEqual({ code: 'success', message: '', data: { ping: 'pong' } });
      expect(ping.ms).toBeLessThan(FAST_MS);
      const live = await timed(t.http().get('/health/live'));
      expect(live.res.status).toBe(200);
      expect(live.res.body).toEqual({ status: 'ok' });
      expect(live.ms).toBeLessThan(FAST_MS);
    });

    it('answers /health/ready 503 naming Redis within 1 s (the database still up)', async () => {
      await expectNotReady(t, 'redis', 'database');
    });

    it('fails an enqueue clearly within a few seconds and marks its row failed', async () => {
      const jobs = t.app.get(JobQueue);
      const started = Date.now();
      const err = (await jobs
        .enqueue('maintenance.selftest', { steps: 1, step_ms: 1, label: `outage-${kind}` })
        .then(
          () => null,
          (e: unknown) => e,
        )) as QueueUnavailableError | null;
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(err).toBeInstanceOf(QueueUnavailableError);
      expect(err?.status).toBe(503);
      expect(err?.message).toMatch(/job queue is unavailable/);
      const rows: Array<{ status: string }> = await t.app
        .get(DataSource)
        .query(`SELECT status FROM queue_jobs WHERE payload->>'label' = $1`, [`outage-${kind}`]);
      expect(rows.map((r) => r.status)).toEqual(['failed']);
    });

    it('recovers without a restart: ready again, and requests are counted until 429', async () => {
      if (kind === 'dead') await redis.restart();
      else redis.thaw();
      const deadline = Date.now() + 15_000;
      const ready = await readyBy(t, deadline);
      expect(ready.status).toBe(200);
      expect(ready.body.info.redis).toEqual({ status: 'up' });

      let status = 0;
      while (status !== 429 && Date.now() < deadline) {
        status = (await account()).status;
        if (status !== 429) await new Promise((r) => setTimeout(r, 20));
      }
      expect(status).toBe(429);

      // The workers' blocking connections came back too: a job runs end to end.
      const jobs = t.app.get(JobQueue);
      const job = await jobs.enqueue('maintenance.selftest', {
        steps: 1,
        step_ms: 1,
        label: `after-${kind}`,
      });
      expect((await jobs.waitFor(job.id, 15_000)).status).toBe('completed');
    }, 40_000);
  });
});

/** This worker's database behind a proxy the test can cut or freeze. */
async function proxiedDatabase(): Promise<{ proxy: TcpProxy; url: string }> {
  const url = new URL(workerDatabaseUrl());
  const proxy = await TcpProxy.start({ host: url.hostname, port: Number(url.port || 5432) });
  url.port = String(proxy.port);
  return { proxy, url: url.toString() };
}

describe('Database outage: probes answer within 1 s, requests fail in bounded time, all recover alone (scale mode)', () => {
  const STATEMENT_MS = 1_000;
  let proxy: TcpProxy;
  let t: TestApp;
  let acc: TestAccount;

  beforeAll(async () => {
    const db = await proxiedDatabase();
    proxy = db.proxy;
    t = await createTestApp({
      redis: true,
      env: { DATABASE_URL: db.url, DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_MS) },
    });
    acc = await createAccount(t);
  }, 60_000);
  afterAll(async () => {
    proxy?.thaw();
    await t?.close();
    await proxy?.cut();
  }, 30_000);

  describe.each([
    ['frozen (connections open, no answers)', 'frozen'],
    ['dead (connections dropped and refused)', 'dead'],
  ] as const)('database %s', (_label, kind) => {
    it('keeps /ping and /health/live fast and answers /health/ready 503 naming the database within 1 s', async () => {
      if (kind === 'dead') await proxy.cut();
      else proxy.freeze();
      const live = await timed(t.http().get('/health/live'));
      expect(live.res.status).toBe(200);
      expect(live.ms).toBeLessThan(FAST_MS);
      const ping = await timed(t.http().get('/ping'));
      expect(ping.res.body.code).toBe('success');
      expect(ping.ms).toBeLessThan(FAST_MS);
      for (let i = 0; i < 3; i++) await expectNotReady(t, 'database', 'redis');
    });

    it('is ready again once the database answers, without a restart', async () => {
      if (kind === 'dead') await proxy.listen();
      else proxy.thaw();
      expect((await readyBy(t, Date.now() + 15_000)).status).toBe(200);
    }, 20_000);
  });

  it('ends a statement past DATABASE_STATEMENT_TIMEOUT_MS on the server', async () => {
    const ds = t.app.get(DataSource);
    expect(
      (await ds.query<Array<{ statement_timeout: string }>>('SHOW statement_timeout'))[0],
    ).toEqual({ statement_timeout: '1s' });
    await expect(ds.query('SELECT pg_sleep(3)')).rejects.toThrow(/statement timeout/);
  });

  it('answers a request whose query gets no answer with an error, not never', async () => {
    proxy.freeze();
    const { res, ms } = await timed(t.http().get('/datasets').set(acc.auth));
    expect(res.body.code).not.toBe('success');
    // The client's own wait: statement_timeout + 5 s (plus slack for a busy machine).
    expect(ms).toBeLessThan(STATEMENT_MS + 5_000 + 3_000);
    proxy.thaw();
    expect((await readyBy(t, Date.now() + 15_000)).status).toBe(200);
    expect((await t.http().get('/datasets').set(acc.auth)).body.code).toBe('success');
  }, 30_000);
});

const GRACE_MS = 2_000;

/** `node dist/main.js` in scale mode against `redis`, ready to serve (api) or to process (worker). */
async function boot(
  role: 'api' | 'worker',
  redis: TestRedisServer,
  databaseUrl = workerDatabaseUrl(),
): Promise<ServiceProcess & { port: number }> {
  const port = await freePort();
  const env = {
    APP_ROLES: role,
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_MAX: '2',
    REDIS_URL: redis.url,
    REDIS_PREFIX: uniqueRedisPrefix(`shutdown-${role}`),
    // Scale mode requires configured secrets.
    JWT_SECRET: 'test-jwt-secret-0123456789abcdef',
    ENCRYPTION_KEY: 'test-encryption-key-0123456789abcdef',
    SHUTDOWN_TIMEOUT_MS: String(GRACE_MS),
    SWAGGER_ENABLED: 'false',
    LOG_LEVEL: 'info',
  };
  const service =
    role === 'worker'
      ? await startService(env, port, (logs) => logs.includes('LLMOps worker started'))
      : await startService(env, port);
  return { ...service, port };
}

/** Sends SIGTERM; resolves with the milliseconds until the process exited (fails after 20 s). */
async function terminate(proc: ChildProcess, logs: () => string): Promise<number> {
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const started = Date.now();
  proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    exited,
    new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 20_000))),
  ]);
  clearTimeout(timer);
  if (code === 'hung') throw new Error(`still running 20 s after SIGTERM:\n${logs()}`);
  return Date.now() - started;
}

describe('Shutdown during an outage (dist/main.js)', () => {
  let redis: TestRedisServer;

  beforeAll(async () => {
    if (!existsSync(MAIN)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
    redis = await TestRedisServer.start();
  }, 180_000);
  afterAll(() => redis?.kill());

  it.each([
    ['api', 'dead'],
    ['api', 'frozen'],
    ['worker', 'dead'],
    ['worker', 'frozen'],
  ] as const)(
    'APP_ROLES=%s exits on SIGTERM within SHUTDOWN_TIMEOUT_MS + margin with Redis %s',
    async (role, kind) => {
      await redis.kill();
      await redis.restart();
      const { proc, logs } = await boot(role, redis);
      try {
        if (kind === 'dead') await redis.kill();
        else redis.freeze();
        // Let the clients notice (reconnecting, or commands in flight to a frozen server).
        await new Promise((r) => setTimeout(r, 300));
        expect(await terminate(proc, logs)).toBeLessThan(GRACE_MS + SHUTDOWN_MARGIN_MS + 1_000);
        expect(logs()).toMatch(/SIGTERM received/);
      } finally {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        redis.thaw();
      }
    },
    90_000,
  );

  it('APP_ROLES=api exits on SIGTERM within SHUTDOWN_TIMEOUT_MS + margin with the database frozen', async () => {
    await redis.kill();
    await redis.restart();
    const db = await proxiedDatabase();
    const { proc, port, logs } = await boot('api', redis, db.url);
    try {
      db.proxy.freeze();
      // A query in flight on the frozen database holds a pooled connection.
      void fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      expect(await terminate(proc, logs)).toBeLessThan(GRACE_MS + SHUTDOWN_MARGIN_MS + 1_000);
      expect(logs()).toMatch(/SIGTERM received/);
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      db.proxy.thaw();
      await db.proxy.cut();
    }
  }, 90_000);
});
