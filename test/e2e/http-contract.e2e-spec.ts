import { createTestApp, TestApp } from '@test/support/app-factory';
import { FixtureModule } from '@test/support/fixture.module';

describe('HTTP contract (envelope, codes, validation, paging, CORS)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ imports: [FixtureModule], env: { BODY_LIMIT: '1kb' } });
  });
  afterAll(() => t.close());

  it('wraps success in the envelope with HTTP 200', async () => {
    const res = await t.http().get('/ping');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 'success', message: '', data: { ping: 'pong' } });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('echoes a sane X-Request-Id from the caller', async () => {
    const res = await t.http().get('/ping').set('X-Request-Id', 'trace-abc.123');
    expect(res.headers['x-request-id']).toBe('trace-abc.123');
  });

  it('answers console POSTs with HTTP 200, not 201', async () => {
    const res = await t.http().post('/fixture/things').send({ name: 'a', email: 'a@b.co' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      code: 'success',
      message: 'Thing created',
      data: { name: 'a', email: 'a@b.co' },
    });
  });

  it('strips unknown fields (whitelist)', async () => {
    const res = await t
      .http()
      .post('/fixture/things')
      .send({ name: 'a', email: 'a@b.co', is_admin: true });
    expect(res.body.data).toEqual({ name: 'a', email: 'a@b.co' });
  });

  it('maps validation errors to validate_error with the first message and a field map', async () => {
    const res = await t
      .http()
      .post('/fixture/things')
      .send({ name: '', email: 'nope', age: 200, address: { city: 5 } });
    expect(res.status).toBe(200);
    expect(res.body.code).toBe('validate_error');
    expect(res.body.message).toBe('name must be 1-20 characters');
    expect(res.body.data).toEqual({
      name: ['name must be 1-20 characters'],
      email: ['email must be an email address'],
      age: ['age must be at most 150'],
      'address.city': ['city must be a string'],
    });
  });

  it('answers malformed JSON with validate_error, not a crash', async () => {
    const res = await t
      .http()
      .post('/fixture/things')
      .set('Content-Type', 'application/json')
      .send('{"name": ');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      code: 'validate_error',
      message: 'Request body is not valid JSON',
      data: {},
    });
  });

  it('accepts empty JSON bodies on action POSTs and GETs (the console sends them)', async () => {
    const post = await t
      .http()
      .post('/fixture/action')
      .set('Content-Type', 'application/json')
      .send('');
    expect(post.status).toBe(200);
    expect(post.body.code).toBe('success');
    const get = await t.http().get('/ping').set('Content-Type', 'application/json').send('');
    expect(get.body.code).toBe('success');
  });

  it('maps a module not_found to HTTP 200 + not_found', async () => {
    const res = await t.http().get('/fixture/missing/42');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 'not_found', message: 'Thing 42 does not exist', data: {} });
  });

  it('answers an unknown route with HTTP 404 and the not_found envelope', async () => {
    const res = await t.http().get('/no/such/route');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
    const post = await t.http().post('/ping').send({});
    expect(post.status).toBe(404);
  });

  it('answers an oversized body with HTTP 413 and fail', async () => {
    const res = await t
      .http()
      .post('/fixture/things')
      .send({ name: 'x'.repeat(5000), email: 'a@b.co' });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ code: 'fail', message: 'Request body is too large', data: {} });
  });

  it('hides unhandled errors: generic message, request id, no stack', async () => {
    const res = await t.http().get('/fixture/crash');
    expect(res.status).toBe(200);
    expect(res.body.code).toBe('fail');
    expect(res.body.message).toBe('Internal server error, please try again later');
    expect(res.body.data.request_id).toBe(res.headers['x-request-id']);
    expect(JSON.stringify(res.body)).not.toMatch(/secret|\/srv|at |stack/);
  });

  describe('pagination', () => {
    it('defaults to page 1 of 20 and computes total_page', async () => {
      const res = await t.http().get('/fixture/things');
      expect(res.body.data.paginator).toEqual({
        current_page: 1,
        page_size: 20,
        total_page: 3,
        total_record: 45,
      });
      expect(res.body.data.list).toHaveLength(20);
    });

    it('returns the last partial page', async () => {
      const res = await t.http().get('/fixture/things?current_page=3&page_size=20');
      expect(res.body.data.list).toHaveLength(5);
      expect(res.body.data.paginator.current_page).toBe(3);
    });

    it('answers total_page 0 when empty', async () => {
      const res = await t.http().get('/fixture/empty-list');
      expect(res.body.data).toEqual({
        list: [],
        paginator: { current_page: 1, page_size: 20, total_page: 0, total_record: 0 },
      });
    });

    it.each([
      ['page_size=51', 'page_size must be at most 50'],
      ['page_size=0', 'page_size must be at least 1'],
      ['current_page=0', 'current_page must be at least 1'],
      ['current_page=10000', 'current_page must be at most 9999'],
      ['current_page=abc', 'current_page must be an integer'],
    ])('rejects %s', async (qs, message) => {
      const res = await t.http().get(`/fixture/things?${qs}`);
      expect(res.status).toBe(200);
      expect(res.body.code).toBe('validate_error');
      expect(res.body.message).toBe(message);
    });

    it('treats empty-string filters as absent and parses string booleans', async () => {
      const res = await t
        .http()
        .get('/fixture/things?current_page=&page_size=&search_word=&is_pinned=true');
      expect(res.body.code).toBe('success');
      expect(res.body.data.paginator.current_page).toBe(1);
      expect(res.body.data.echo).toEqual({ search_word: null, is_pinned: true });
      const f = await t.http().get('/fixture/things?is_pinned=false&search_word=%20abc%20');
      expect(f.body.data.echo).toEqual({ search_word: 'abc', is_pinned: false });
      const bad = await t.http().get('/fixture/things?is_pinned=maybe');
      expect(bad.body.message).toBe('is_pinned must be true or false');
    });
  });

  describe('service API (/openapi) and OpenAI API (/v1) families', () => {
    it('uses real HTTP statuses on /openapi', async () => {
      const missing = await t.http().get('/openapi/fixture/missing');
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({ code: 'not_found', message: 'App does not exist', data: {} });
      const invalid = await t.http().post('/openapi/fixture/things').send({ name: 'a' });
      expect(invalid.status).toBe(422);
      expect(invalid.body.code).toBe('validate_error');
    });

    it("uses OpenAI's error object on /v1", async () => {
      // OpenAI's status for a bad parameter is 400, with the parameter named in `param`.
      const res = await t.http().post('/v1/fixture/things').send({ name: 'a' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: {
          message: 'email must be an email address',
          type: 'invalid_request_error',
          code: 'validate_error',
          param: 'email',
        },
      });
      const ok = await t.http().post('/v1/fixture/things').send({ name: 'a', email: 'a@b.co' });
      expect(ok.body).toEqual({ name: 'a', email: 'a@b.co' });
      const missing = await t.http().get('/v1/nothing');
      expect(missing.status).toBe(404);
      expect(missing.body.error.type).toBe('not_found_error');
    });
  });

  describe('CORS', () => {
    it('reflects an allowed origin with credentials and answers preflights', async () => {
      const res = await t
        .http()
        .options('/ping')
        .set('Origin', 'http://console.test')
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type');
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('http://console.test');
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-allow-methods']).toBe('GET,POST');
      expect(res.headers['access-control-allow-headers']).toMatch(/authorization/);
    });

    it('gives no CORS grant to other origins', async () => {
      const res = await t.http().get('/ping').set('Origin', 'http://evil.test');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    });
  });
});

describe.each([
  ['in memory', false],
  ['in Redis', true],
])('rate limiting (%s)', (_label, redis) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ redis, env: { THROTTLE_LIMIT: '3', THROTTLE_TTL_SECONDS: '60' } });
  });
  afterAll(() => t.close());

  it('answers 429 with fail once the limit is crossed', async () => {
    for (let i = 0; i < 3; i++) expect((await t.http().get('/ping')).status).toBe(200);
    const res = await t.http().get('/ping');
    expect(res.status).toBe(429);
    expect(res.body.code).toBe('fail');
    expect(res.body.message).toMatch(/Too many requests/);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });
});
