import { Public } from '@app/common';
import { Controller, Get, Module, Query } from '@nestjs/common';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { performance } from 'node:perf_hooks';
import { ApiKeyService } from 'src/modules/auth/services/api-key.service';
import { DataSource } from 'typeorm';

/** A route whose query fails in the database with a parameter that must not reach the log. */
@Public()
@Controller('hardening')
class DbCrashController {
  constructor(private readonly db: DataSource) {}

  @Get('db-crash')
  async crash(@Query('v') v: string) {
    return this.db.query('SELECT $1::int AS n', [v]);
  }
}

@Module({ controllers: [DbCrashController] })
class DbCrashModule {}

/** Log lines the app wrote, parsed. */
class LogCapture {
  lines: Array<Record<string, any>> = [];
  raw: string[] = [];
  write(chunk: string): void {
    for (const line of chunk.split('\n').filter(Boolean)) {
      this.raw.push(line);
      this.lines.push(JSON.parse(line) as Record<string, any>);
    }
  }
  text(): string {
    return this.raw.join('\n');
  }
}

const json = (obj: unknown) => JSON.stringify(obj);

/** `{"k0":0,...}` with `n` keys. */
function manyKeys(n: number, prefix = 'k'): Record<string, number> {
  const o: Record<string, number> = {};
  for (let i = 0; i < n; i++) o[`${prefix}${i}`] = i;
  return o;
}

function nested(levels: number): string {
  return '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
}

describe('Hardening: request shape, NUL, route ids, logs, caching', () => {
  let t: TestApp;
  let user: TestAccount;
  const logs = new LogCapture();

  beforeAll(async () => {
    // A body limit above the probes' sizes, so the shape limits (not the 413) answer them.
    t = await createTestApp({
      imports: [DbCrashModule],
      env: { BODY_LIMIT: '4mb', LOG_LEVEL: 'info' },
      logStream: logs,
    });
    user = await createAccount(t);
  });
  afterAll(() => t.close());

  /**
   * POSTs a raw JSON text; resolves to [wall ms, parsed envelope, CPU ms]. The app runs in this
   * process, so the CPU time spent meanwhile is what the request cost, however busy the machine.
   */
  async function postRaw(
    path: string,
    body: string,
    headers: Record<string, string> = {},
  ): Promise<[number, any, number]> {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const res = await fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    const parsed = await res.json();
    const used = process.cpuUsage(cpu);
    return [performance.now() - started, parsed, (used.user + used.system) / 1000];
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

  describe('shape limits before validation', () => {
    it.each([
      ['100,000 extra keys', () => json({ email: 'a@b.co', password: 'x', ...manyKeys(100_000) })],
      ['10,000 levels of nesting', () => nested(10_000)],
      [
        'an array of 1,000,000 items',
        () => `{"email":[${new Array(1_000_000).fill(0).join(',')}]}`,
      ],
      [
        'an over-long string',
        () => json({ email: 'a@b.co', password: 'x'.repeat(1024 * 1024 + 1) }),
      ],
      [
        '25,000 keys spread over small objects',
        () =>
          json(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`o${i}`, manyKeys(500)]))),
      ],
    ])('answers %s with validate_error quickly', async (_name, build) => {
      const before = logs.raw.length;
      const body = build();
      const [, res, cpuMs] = await postRaw('/auth/password-login', body);
      expect(res.code).toBe('validate_error');
      expect(res.message).toMatch(/more than|deeper than|longer than/);
      // Parsing the JSON is most of it (the probes saw 9.6 s of CPU for 100,000 keys before).
      // CPU time, best of up to 3 (a GC of this worker's heap or a loaded CI machine can land
      // in any one call), against a bound well under the unbounded cost.
      const cpu = [cpuMs];
      while (Math.min(...cpu) >= 2500 && cpu.length < 3) {
        cpu.push((await postRaw('/auth/password-login', body))[2]);
      }
      expect(Math.min(...cpu)).toBeLessThan(2500);
      // Answered as a validation error: nothing logged as an error, no stack.
      const after = logs.lines.slice(before);
      expect(after.filter((l) => l.level >= 50)).toEqual([]);
      expect(JSON.stringify(after)).not.toMatch(/stack|RangeError/);
    });

    it('names the limit in the message', async () => {
      const [, keys] = await postRaw('/auth/password-login', json(manyKeys(1001)));
      expect(keys).toEqual({
        code: 'validate_error',
        message: 'body has more than 1000 keys',
        data: { body: ['body has more than 1000 keys'] },
      });
      const [, deep] = await postRaw('/auth/password-login', nested(33));
      expect(deep.message).toBe('body is nested deeper than 32 levels');
      const [, long] = await postRaw(
        '/auth/password-login',
        json({ password: 'x'.repeat(2 ** 20 + 1) }),
      );
      expect(long.message).toBe('password is longer than 1048576 characters');
      expect(long.data).toEqual({ password: [long.message] });
      const [, items] = await postRaw(
        '/auth/password-login',
        json({ a: new Array(20_001).fill(1) }),
      );
      expect(items.message).toBe('body has more than 20000 keys and array items in all');
      // Within the limits the body reaches the DTO's own validation.
      const [, fine] = await postRaw('/auth/password-login', nested(32));
      expect(fine.message).toBe('email is required');
    });

    it('answers the worst body within the limits in under 50 ms, and /ping stays fast', async () => {
      // 20 objects of 998 keys (just under every limit), 1 MB at most: the most work the
      // transformer and validator can be handed.
      const worst = json({
        name: 'Worst Case',
        ...Object.fromEntries(
          Array.from({ length: 20 }, (_, i) => [`o${i}`, manyKeys(998, `k${i}_`)]),
        ),
      });
      expect(worst.length).toBeLessThan(1024 * 1024);
      const call = () => postRaw('/account/name', worst, user.auth);
      const [, first] = await call();
      expect(first.code).toBe('success');
      // Measured in CPU time, and the best of 9: wall time on a machine shared with other test
      // runs mostly measures their load, and a major GC of this jest worker's heap (left by earlier
      // files) can land in any one call. Before the shape check and pruning, the body itself cost
      // ~350 ms of CPU every time, so the best of 9 still fails without the fix.
      const cpuTimes: number[] = [];
      for (let i = 0; i < 9; i++) cpuTimes.push((await call())[2]);
      expect(Math.min(...cpuTimes)).toBeLessThan(50);

      // Several such bodies at once: /ping is not frozen behind them.
      const pings: number[] = [];
      const load = Promise.all(Array.from({ length: 6 }, () => call()));
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const res = await fetch(`${t.url}/ping`);
        expect(res.status).toBe(200);
        pings.push(performance.now() - started);
      }
      const answers = await load;
      expect(answers.every(([, r]) => r.code === 'success')).toBe(true);
      // Unbounded, the six bodies froze the loop for ~2 s (350 ms of CPU each); bounded they
      // cost a few ms each. 1.5 s tells the two apart even on a CI machine under load.
      expect(median(pings)).toBeLessThan(1500);
    });
  });

  describe('NUL characters', () => {
    it('answers NUL in a body field with validate_error and logs no SQL parameters', async () => {
      const before = logs.raw.length;
      const [, name] = await postRaw('/account/name', json({ name: 'a\u0000b' }), user.auth);
      expect(name).toEqual({
        code: 'validate_error',
        message: 'name must not contain NUL characters',
        data: { name: ['name must not contain NUL characters'] },
      });
      const [, remark] = await postRaw(
        '/openapi/api-keys',
        json({ remark: 'hint\u0000secret' }),
        user.auth,
      );
      expect(remark.code).toBe('validate_error');
      const [, key] = await postRaw('/auth/password-login', json({ 'e\u0000': 1 }));
      expect(key.code).toBe('validate_error');
      const after = logs.text().slice(logs.raw.slice(0, before).join('\n').length);
      expect(after).not.toMatch(/QueryFailedError|parameters|"level":50/);
    });

    it('answers NUL in a query value or route param with validate_error', async () => {
      const q = await t.http().get('/openapi/api-keys?search_word=%00').set(user.auth);
      expect(q.body).toEqual({
        code: 'validate_error',
        message: 'search_word must not contain NUL characters',
        data: { search_word: ['search_word must not contain NUL characters'] },
      });
      const p = await t.http().get('/language-models/openai%00/icon');
      expect(p.body.code).toBe('validate_error');
      expect(p.body.message).toBe('provider_name must not contain NUL characters');
    });
  });

  describe('route ids', () => {
    it('answers a non-UUID id with not_found without a query', async () => {
      const before = logs.raw.length;
      const service = t.app.get(ApiKeyService);
      const spy = jest.spyOn(service, 'delete');
      for (const id of ['not-a-uuid', '1', "x' OR 1=1 --", 'abc']) {
        const res = await t
          .http()
          .post(`/openapi/api-keys/${encodeURIComponent(id)}/delete`)
          .set(user.auth);
        expect(res.body).toEqual({
          code: 'not_found',
          message: 'The API key does not exist',
          data: {},
        });
      }
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
      expect(logs.lines.slice(before).filter((l) => l.level >= 50)).toEqual([]);
    });

    it('leaves params that are not ids alone', async () => {
      const res = await t.http().get('/language-models/openai/gpt-4o-mini').set(user.auth);
      expect(res.body.code).toBe('success');
    });
  });

  describe('logs', () => {
    it('logs a database error by its code, without SQL, parameters or driver detail', async () => {
      const before = logs.raw.length;
      const res = await t.http().get('/hardening/db-crash?v=PARAM-VALUE-42');
      expect(res.body.code).toBe('fail');
      expect(res.body.message).toBe('Internal server error, please try again later');
      const errors = logs.lines.slice(before).filter((l) => l.level >= 50);
      expect(errors).toHaveLength(1);
      expect(errors[0].err).toMatchObject({
        type: 'QueryFailedError',
        code: '22P02',
        message: 'Database query failed (SQLSTATE 22P02)',
      });
      expect(errors[0].request_id).toBe(res.headers['x-request-id']);
      // The request context (url, query) is logged as sent; the error itself carries nothing.
      const { req: _req, ...rest } = errors[0];
      expect(JSON.stringify(rest)).not.toMatch(
        /PARAM-VALUE-42|SELECT|parameters|driverError|invalid input/,
      );
    });

    it('redacts the values of sensitive query names', async () => {
      const before = logs.raw.length;
      await t
        .http()
        .get('/ping?access_token=AT-SECRET&token=T-SECRET&api_key=K-SECRET&code=C-SECRET&page=2')
        .expect(200);
      const line = logs.lines.slice(before).find((l) => l.req?.url?.startsWith('/ping'));
      expect(line).toBeDefined();
      expect(line!.req.url).toBe(
        '/ping?access_token=[REDACTED]&token=[REDACTED]&api_key=[REDACTED]&code=[REDACTED]&page=2',
      );
      expect(line!.req.query).toEqual({
        access_token: '[REDACTED]',
        token: '[REDACTED]',
        api_key: '[REDACTED]',
        code: '[REDACTED]',
        page: '2',
      });
      expect(logs.text()).not.toMatch(/AT-SECRET|T-SECRET|K-SECRET|C-SECRET/);
    });
  });

  describe('Cache-Control', () => {
    it('is no-store on answers that carry tokens or keys', async () => {
      const login = await t
        .http()
        .post('/auth/password-login')
        .send({ email: user.email, password: user.password });
      expect(login.body.code).toBe('success');
      expect(login.headers['cache-control']).toBe('no-store');
      const refresh = await t
        .http()
        .post('/auth/refresh')
        .send({ refresh_token: user.refresh_token });
      expect(refresh.body.code).toBe('success');
      expect(refresh.headers['cache-control']).toBe('no-store');
      const created = await t.http().post('/openapi/api-keys').set(user.auth).send({});
      expect(created.body.code).toBe('success');
      expect(created.headers['cache-control']).toBe('no-store');
      const listed = await t.http().get('/openapi/api-keys').set(user.auth);
      expect(listed.headers['cache-control']).toBe('no-store');
      const failed = await t.http().get('/v1/models');
      expect(failed.headers['cache-control']).toBe('no-store');
    });

    it('lets icons keep their own caching', async () => {
      const icon = await t.http().get('/language-models/openai/icon');
      expect(icon.status).toBe(200);
      expect(icon.headers['cache-control']).toBe('public, max-age=86400');
    });
  });
});
