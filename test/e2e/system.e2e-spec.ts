import { JobQueue } from '@app/queue';
import { RealtimeGateway } from '@app/realtime';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { uniqueRedisPrefix } from '@test/support/test-env';
import { DataSource } from 'typeorm';

/** Lines of a Prometheus exposition for one metric name (exact, not a prefix of another). */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

function labels(line: string): Record<string, string> {
  const body = /\{(.*)\}/.exec(line)?.[1] ?? '';
  return Object.fromEntries(
    [...body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
  );
}

describe('System: probes, metrics, docs, headers (embedded mode)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  describe('health probes', () => {
    it('answers /health/live with 200 {status: ok}, no envelope', async () => {
      const res = await t.http().get('/health/live');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('answers /health/ready with 200 and the database up (no Redis check without Redis)', async () => {
      const res = await t.http().get('/health/ready');
      expect(res.status).toBe(200);
      expect(res.body.code).toBeUndefined();
      expect(res.body).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up' } },
        error: {},
      });
      expect(res.body.info.redis).toBeUndefined();
    });

    it('needs no token', async () => {
      const res = await t.http().get('/health/ready').set('Authorization', 'Bearer garbage');
      expect(res.status).toBe(200);
    });
  });

  describe('/metrics', () => {
    it('serves Prometheus text with HTTP latency by method, route and status', async () => {
      expect((await t.http().get('/ping')).status).toBe(200);
      const res = await t.http().get('/metrics');
      expect(res.status).toBe(200);
      // Prometheus 3 refuses to scrape a target without a valid exposition Content-Type.
      expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(typeof res.text).toBe('string');
      expect(res.text).toMatch(/^# HELP llmops_http_request_duration_seconds /m);
      expect(res.text).toMatch(/^# TYPE llmops_http_request_duration_seconds histogram$/m);

      const buckets = samples(res.text, 'llmops_http_request_duration_seconds_bucket').map(labels);
      expect(buckets).toContainEqual({ le: '+Inf', method: 'GET', route: '/ping', status: '200' });
      const count = samples(res.text, 'llmops_http_request_duration_seconds_count').find((l) => {
        const m = labels(l);
        return m.method === 'GET' && m.route === '/ping' && m.status === '200';
      });
      expect(Number(count?.split(' ').pop())).toBeGreaterThanOrEqual(1);
    });

    it('labels unknown routes "unmatched", not by raw URL', async () => {
      await t.http().get('/no/such/route/12345');
      const res = await t.http().get('/metrics');
      const routes = samples(res.text, 'llmops_http_request_duration_seconds_count').map(
        (l) => labels(l).route,
      );
      expect(routes).toContain('unmatched');
      expect(routes.join(' ')).not.toMatch(/12345/);
    });

    it('exposes queue depth per queue and state, and default process metrics', async () => {
      const res = await t.http().get('/metrics');
      const depth = samples(res.text, 'llmops_queue_depth').map(labels);
      for (const state of ['waiting', 'active', 'delayed']) {
        expect(depth).toContainEqual({ queue: 'maintenance', state });
      }
      expect(res.text).toMatch(/^# TYPE llmops_queue_depth gauge$/m);
      expect(samples(res.text, 'llmops_process_cpu_user_seconds_total')).toHaveLength(1);
      expect(res.text).toMatch(/^llmops_nodejs_heap_size_used_bytes \d/m);
      expect(res.text).toMatch(/^# TYPE llmops_job_duration_seconds histogram$/m);
    });
  });

  describe('OpenAPI', () => {
    it('serves an OpenAPI 3 document at /docs-json with the system paths and both security schemes', async () => {
      const res = await t.http().get('/docs-json');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const doc = res.body;
      expect(doc.openapi).toMatch(/^3\./);
      expect(doc.info.title).toBe('LLMOps API');
      for (const p of ['/ping', '/health/live', '/health/ready', '/metrics']) {
        expect(doc.paths[p]?.get).toBeDefined();
      }
      expect(doc.components.securitySchemes.jwt).toMatchObject({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
      });
      expect(doc.components.securitySchemes['api-key']).toMatchObject({
        type: 'http',
        scheme: 'bearer',
      });
    });

    it('serves the Swagger UI at /docs', async () => {
      const res = await t.http().get('/docs').redirects(2);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toMatch(/swagger-ui/i);
    });
  });

  describe('security headers', () => {
    it('sets Helmet headers, with a cross-origin resource policy for <img> loads', async () => {
      const res = await t.http().get('/ping');
      expect(res.status).toBe(200);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=/);
      expect(res.headers['x-powered-by']).toBeUndefined();
    });
  });
});

describe('System with metrics and Swagger turned off', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { METRICS_ENABLED: 'false', SWAGGER_ENABLED: 'false' } });
  });
  afterAll(() => t.close());

  it('answers /metrics with a plain 404 (probe family: real status, no envelope)', async () => {
    const res = await t.http().get('/metrics');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ statusCode: 404 });
    expect(res.text).not.toMatch(/llmops_/);
  });

  it('serves no /docs-json', async () => {
    const res = await t.http().get('/docs-json');
    expect(res.status).toBe(404);
  });
});

describe('System: readiness when the database is unavailable', () => {
  let t: TestApp;
  let dataSource: DataSource;

  beforeAll(async () => {
    t = await createTestApp();
    dataSource = t.app.get(DataSource);
  });
  afterAll(async () => {
    // Give the app its database back so the normal shutdown path runs; never fail on close.
    if (dataSource && !dataSource.isInitialized)
      await dataSource.initialize().catch(() => undefined);
    await t?.close().catch(() => undefined);
  });

  it('answers 503 naming the failing check, while liveness stays 200', async () => {
    await dataSource.destroy();
    const res = await t.http().get('/health/ready');
    expect(res.status).toBe(503);
    expect(res.body.code).toBeUndefined();
    expect(res.body.status).toBe('error');
    expect(res.body.error.database.status).toBe('down');
    expect(res.body.details.database.status).toBe('down');
    expect(JSON.stringify(res.body)).not.toMatch(/ at .*\.(ts|js):\d+/);

    const live = await t.http().get('/health/live');
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: 'ok' });
  });
});

describe('System in scale mode (api and worker roles over Redis)', () => {
  let api: TestApp;
  let worker: TestApp;

  beforeAll(async () => {
    const redisPrefix = uniqueRedisPrefix('system');
    [api, worker] = await Promise.all([
      createTestApp({ redis: true, redisPrefix, env: { APP_ROLES: 'api' } }),
      createTestApp({ redis: true, redisPrefix, env: { APP_ROLES: 'worker' } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([api, worker].filter(Boolean).map((app) => app.close()));
  });

  it('reports the database and Redis up in readiness', async () => {
    const res = await api.http().get('/health/ready');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' }, redis: { status: 'up' } },
      error: {},
    });
  });

  it('runs the worker role without an HTTP server or socket gateway, but processing jobs', () => {
    expect(worker.config.hasRole('api')).toBe(false);
    expect(worker.app.getHttpServer().listening).toBe(false);
    expect(() => worker.app.get(RealtimeGateway)).toThrow();
    expect(worker.app.get(JobQueue).processing).toBe(true);
    expect(api.app.get(JobQueue).processing).toBe(false);
  });

  it('completes a job enqueued by the api-only app on the worker', async () => {
    const jobs = api.app.get(JobQueue);
    const job = await jobs.enqueue('maintenance.selftest', {
      steps: 2,
      step_ms: 10,
      label: 'system-e2e',
    });
    expect(job.status).toBe('queued');
    const done = await jobs.waitFor(job.id, 15_000);
    expect(done).toMatchObject({ id: job.id, status: 'completed', progress: 100, attempts: 1 });
    expect(done.result).toEqual({ steps: 2, attempt: 1 });
  });

  it('reads queue depth from the shared Redis queues in the api-only app', async () => {
    const res = await api.http().get('/metrics');
    expect(res.status).toBe(200);
    const waiting = samples(res.text, 'llmops_queue_depth').find((l) => {
      const m = labels(l);
      return m.queue === 'maintenance' && m.state === 'waiting';
    });
    expect(waiting?.split(' ').pop()).toBe('0');
  });
});
