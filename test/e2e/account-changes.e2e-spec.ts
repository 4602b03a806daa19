import { FakeOpenAI } from '@test/fakes/fake-openai';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { TestRedisServer } from '@test/support/redis-server';
import { freePort, MAIN, ROOT, ServiceProcess, startService } from '@test/support/service-process';
import { uniqueRedisPrefix, workerDatabaseUrl } from '@test/support/test-env';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { setAccountRole } from 'src/cli/promote-account';
import { AccountService } from 'src/modules/auth/services/account.service';
import { DataSource } from 'typeorm';
import { eventually } from '@test/support/eventually';

/**
 * The scale mode caches profiles and sessions per process, and a change made in one process shows
 * in the others at once: an api process in this test (A) and `node dist/main.js` (B) share
 * PostgreSQL and a Redis of the test's own (which it can freeze), as two replicas do.
 */
describe('account changes across processes (scale mode)', () => {
  let redis: TestRedisServer;
  let a: TestApp;
  let b: ServiceProcess & { url: string };
  let user: TestAccount;
  const prefix = uniqueRedisPrefix('changes');

  beforeAll(async () => {
    if (!existsSync(MAIN)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
    redis = await TestRedisServer.start();
    // Loopback base URLs (the fake model server of the credentials case) are allowed on both.
    a = await createTestApp({
      redisUrl: redis.url,
      redisPrefix: prefix,
      env: { OUTBOUND_ALLOW_HOSTS: '127.0.0.1' },
    });
    const port = await freePort();
    b = {
      ...(await startService(
        {
          HOST: '127.0.0.1',
          PORT: String(port),
          DATABASE_URL: workerDatabaseUrl(),
          DATABASE_POOL_MAX: '2',
          REDIS_URL: redis.url,
          REDIS_PREFIX: prefix,
          JWT_SECRET: 'test-jwt-secret-0123456789abcdef',
          ENCRYPTION_KEY: 'test-encryption-key-0123456789abcdef',
          SWAGGER_ENABLED: 'false',
          LOG_LEVEL: 'warn',
          OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
        },
        port,
      )),
      url: `http://127.0.0.1:${port}`,
    };
    user = await createAccount(a, { name: 'Before' });
    await setAccountRole(a.app.get(DataSource), user.email, 'admin', (id) =>
      a.app.get(AccountService).forget(id),
    );
  }, 120_000);

  afterAll(async () => {
    redis?.thaw();
    if (b && b.proc.exitCode === null) {
      const exited = new Promise((r) => b.proc.once('exit', r));
      b.proc.kill('SIGTERM');
      await exited;
    }
    await a?.close();
    await redis?.kill();
  }, 30_000);

  const onB = async (method: 'GET' | 'POST', route: string) => {
    const res = await fetch(`${b.url}${route}`, {
      method,
      headers: { authorization: user.auth.Authorization, 'content-type': 'application/json' },
      body: method === 'POST' ? '{}' : undefined,
    });
    return (await res.json()) as { code: string; data: Record<string, unknown> };
  };
  const profileOnB = async () => (await onB('GET', '/account')).data;
  /** Writes the name past every service: no process hears of it. */
  const renameBehindTheirBacks = (name: string) =>
    a.app.get(DataSource).query('UPDATE accounts SET name = $1 WHERE id = $2', [name, user.id]);

  /** Polls `check` every 100 ms until it holds or `ms` pass; whether it held. */
  async function within(ms: number, check: () => Promise<boolean>): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (await check()) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * What `read` answers once B has had the broadcast. A publishes before it answers, but B reads
   * its subscriber socket and the next request's socket in whatever order they become ready (on
   * a loaded CI machine the request came first once), so B gets up to a second.
   */
  const onceBroadcast = <T>(read: () => Promise<T>, expected: T): Promise<T> =>
    eventually(read, (v) => v === expected, 1000, 20);

  it('B serves profiles from memory once it is subscribed', async () => {
    // Caching starts once B's subscriber is confirmed: then a write nobody announces stays unseen.
    let n = 0;
    const caching = await within(10_000, async () => {
      const before = (await profileOnB()).name;
      await renameBehindTheirBacks(`Unannounced ${++n}`);
      return (await profileOnB()).name === before;
    });
    expect(caching).toBe(true);
  });

  it('shows a profile change made on A at B once the broadcast is in', async () => {
    const renamed = await a.http().post('/account/name').set(user.auth).send({ name: 'From A' });
    expect(renamed.body.code).toBe('success');
    const nameOnB = async () => (await profileOnB()).name;
    expect(await onceBroadcast(nameOnB, 'From A')).toBe('From A');
    await a.http().post('/account/avatar').set(user.auth).send({ avatar: 'https://x.test/a.png' });
    const avatarOnB = async () => (await profileOnB()).avatar;
    expect(await onceBroadcast(avatarOnB, 'https://x.test/a.png')).toBe('https://x.test/a.png');
  });

  it('makes a demotion by `account:promote` effective on B at once (admin routes, profile)', async () => {
    // B knows the account as admin (its session and profile are cached).
    expect((await profileOnB()).role).toBe('admin');
    expect((await onB('POST', '/admin/queue-board/ticket')).code).toBe('success');

    await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, 'dist/src/cli/promote-account.js'), user.email, '--role', 'member'],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: workerDatabaseUrl(),
          REDIS_URL: redis.url,
          REDIS_PREFIX: prefix,
        },
      },
    );
    const ticketOnB = async () => (await onB('POST', '/admin/queue-board/ticket')).code;
    expect(await onceBroadcast(ticketOnB, 'forbidden')).toBe('forbidden');
    expect((await profileOnB()).role).toBe('member');
  });

  it('signs out B at once when the password is changed on A', async () => {
    // A second device of the account, known to B.
    const other = await a.token(user.id);
    expect((await onBWith(other, '/account')).code).toBe('success');
    const changed = await a
      .http()
      .post('/account/password')
      .set(user.auth)
      .send({ password: 'new-passw0rd-1', old_password: user.password });
    expect(changed.body.code).toBe('success');
    const code = async () => (await onBWith(other, '/account')).code;
    expect(await onceBroadcast(code, 'unauthorized')).toBe('unauthorized');
  });

  it('stops a key disabled or deleted on A at B at once (B caches keys it has seen)', async () => {
    const created = await a.http().post('/openapi/api-keys').set(user.auth).send({ remark: 'b' });
    expect(created.body.code).toBe('success');
    const { id, api_key } = created.body.data as { id: string; api_key: string };
    const modelsOnB = async () =>
      (await fetch(`${b.url}/v1/models`, { headers: { authorization: `Bearer ${api_key}` } }))
        .status;
    expect(await modelsOnB()).toBe(200);
    expect(await modelsOnB()).toBe(200); // now known to B
    const off = await a
      .http()
      .post(`/openapi/api-keys/${id}/is-active`)
      .set(user.auth)
      .send({ is_active: false });
    expect(off.body.code).toBe('success');
    expect(await onceBroadcast(modelsOnB, 401)).toBe(401);
    await a
      .http()
      .post(`/openapi/api-keys/${id}/is-active`)
      .set(user.auth)
      .send({ is_active: true });
    expect(await onceBroadcast(modelsOnB, 200)).toBe(200);
    const deleted = await a.http().post(`/openapi/api-keys/${id}/delete`).set(user.auth).send({});
    expect(deleted.body.code).toBe('success');
    expect(await onceBroadcast(modelsOnB, 401)).toBe(401);
  });

  it("uses model credentials set or deleted on A in B's next model call (B caches them)", async () => {
    const fake = await FakeOpenAI.create();
    try {
      const created = await a.http().post('/openapi/api-keys').set(user.auth).send({ remark: 'c' });
      const { api_key } = created.body.data as { api_key: string };
      const setOnA = async (key: string) => {
        const res = await a
          .http()
          .post('/language-models/credentials/openai')
          .set(user.auth)
          .send({ api_key: key, base_url: fake.baseURL });
        expect(res.body.code).toBe('success');
      };
      /** An embedding call on B: its status, and the key the model server saw. */
      const embedOnB = async () => {
        const before = fake.requestsTo('embeddings').length;
        const res = await fetch(`${b.url}/v1/embeddings`, {
          method: 'POST',
          headers: { authorization: `Bearer ${api_key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'openai/text-embedding-3-small', input: 'hello' }),
        });
        const seen = fake.requestsTo('embeddings').slice(before)[0];
        return `${res.status} ${seen?.headers.authorization ?? 'no call'}`;
      };
      await setOnA('sk-first');
      expect(await embedOnB()).toBe('200 Bearer sk-first');
      expect(await embedOnB()).toBe('200 Bearer sk-first'); // now cached by B
      await setOnA('sk-second');
      expect(await onceBroadcast(embedOnB, '200 Bearer sk-second')).toBe('200 Bearer sk-second');
      const deleted = await a
        .http()
        .post('/language-models/credentials/openai/delete')
        .set(user.auth)
        .send({});
      expect(deleted.body.code).toBe('success');
      // B has no server key for OpenAI: without the account's own, nothing is called.
      expect(await onceBroadcast(embedOnB, '400 no call')).toBe('400 no call');
    } finally {
      await fake.close();
    }
  });

  it('stops caching when its Redis stalls, and resumes once Redis answers', async () => {
    // B caches the profile now, so its 5 s TTL cannot be what refreshes it below.
    await a.http().post('/account/name').set(user.auth).send({ name: 'Before the stall' });
    const nameOnB = async () => (await profileOnB()).name;
    expect(await onceBroadcast(nameOnB, 'Before the stall')).toBe('Before the stall');
    redis.freeze();
    try {
      // The heartbeat notices within about 2 s; the profile cache alone would keep 5 s.
      await renameBehindTheirBacks('During the stall');
      const fresh = await within(
        3_000,
        async () => (await profileOnB()).name === 'During the stall',
      );
      expect(fresh).toBe(true);
    } finally {
      redis.thaw();
    }
    let n = 0;
    const cachingAgain = await within(10_000, async () => {
      const before = (await profileOnB()).name;
      await renameBehindTheirBacks(`After the stall ${++n}`);
      return (await profileOnB()).name === before;
    });
    expect(cachingAgain).toBe(true);
  }, 30_000);

  async function onBWith(token: string, route: string) {
    const res = await fetch(`${b.url}${route}`, { headers: { authorization: `Bearer ${token}` } });
    return (await res.json()) as { code: string };
  }
});
