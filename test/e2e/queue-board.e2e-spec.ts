import { QUEUE_NAMES } from '@app/queue';
import { getQueueToken } from '@nestjs/bullmq';
import { randomUUID } from 'node:crypto';
import { createTestApp, TestApp } from '@test/support/app-factory';

describe('Queue dashboard (bull-board) at /admin/queues', () => {
  describe('scale mode, api role', () => {
    let t: TestApp;
    let admin: string;
    let member: string;

    beforeAll(async () => {
      t = await createTestApp({ redis: true });
      admin = await t.token(randomUUID(), 'admin');
      member = await t.token(randomUUID(), 'member');
    });
    afterAll(() => t?.close());

    const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

    it('refuses the page, its assets and its API without a token (401, no board)', async () => {
      for (const path of [
        '/admin/queues',
        '/admin/queues/api/queues',
        '/admin/queues/static/js/x.js',
      ]) {
        const res = await t.http().get(path);
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ code: 'unauthorized', data: {} });
        expect(res.text).not.toMatch(/<html|maintenance/i);
      }
    });

    it('refuses an invalid token (401) and an API key-shaped one', async () => {
      for (const token of ['not-a-jwt', 'llmops-v1/abc']) {
        const res = await t.http().get('/admin/queues/api/queues').set(bearer(token));
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('unauthorized');
      }
    });

    it('refuses a member (403) without leaking the board', async () => {
      const res = await t.http().get('/admin/queues/api/queues').set(bearer(member));
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'forbidden', data: {} });
      expect(res.text).not.toMatch(/maintenance/);
    });

    it('serves the board and its read-only API to an admin', async () => {
      const page = await t.http().get('/admin/queues').set(bearer(admin));
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.text).toContain('<base href="/admin/queues/"');
      // Helmet's CSP stays as is: the board's scripts are its own static files.
      expect(page.headers['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
      const script = /src="(static\/js\/main\.[\w.]+\.js)"/.exec(page.text)?.[1];
      expect(script).toBeDefined();
      const asset = await t.http().get(`/admin/queues/${script}`).set(bearer(admin));
      expect(asset.status).toBe(200);
      expect(asset.headers['content-type']).toMatch(/javascript/);

      const api = await t.http().get('/admin/queues/api/queues').set(bearer(admin));
      expect(api.status).toBe(200);
      const queues = api.body.queues as Array<{ name: string; readOnlyMode: boolean }>;
      expect(queues.map((q) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
      expect(queues.every((q) => q.readOnlyMode)).toBe(true);
    });

    it('opens the board in a browser through a one-time ticket issued to admins only', async () => {
      const refused = await t.http().post('/admin/queue-board/ticket').set(bearer(member));
      expect(refused.status).toBe(200);
      expect(refused.body.code).toBe('forbidden');

      const issued = await t.http().post('/admin/queue-board/ticket').set(bearer(admin));
      expect(issued.status).toBe(200);
      expect(issued.body).toMatchObject({
        code: 'success',
        message: 'Queue dashboard link created',
      });
      const url = issued.body.data.url as string;
      expect(url).toMatch(/^\/admin\/queues\?ticket=[\w-]{43}$/);
      expect(issued.body.data.expire_at).toBeGreaterThan(Date.now() / 1000);

      const opened = await t.http().get(url);
      expect(opened.status).toBe(303);
      expect(opened.headers.location).toBe('/admin/queues');
      const cookie = (opened.headers['set-cookie'] as unknown as string[])[0];
      expect(cookie).toMatch(/^llmops_queue_board=/);
      expect(cookie).toMatch(/; Path=\/admin\/queues/);
      expect(cookie).toMatch(/; HttpOnly/);
      expect(cookie).toMatch(/; SameSite=Lax/);

      const jar = cookie.split(';')[0];
      const page = await t.http().get('/admin/queues').set('Cookie', jar);
      expect(page.status).toBe(200);
      expect(page.text).toContain('<base href="/admin/queues/"');
      const api = await t.http().get('/admin/queues/api/queues').set('Cookie', jar);
      expect(api.status).toBe(200);

      // One-time: the same link does not open the board again.
      const again = await t.http().get(url);
      expect(again.status).toBe(401);
      expect(again.headers['set-cookie']).toBeUndefined();
      expect((await t.http().get('/admin/queues?ticket=forged')).status).toBe(401);
    });

    it('closes the board when the admin signs out (the cookie carries the session token)', async () => {
      const token = await t.token(randomUUID(), 'admin');
      const issued = await t.http().post('/admin/queue-board/ticket').set(bearer(token));
      const opened = await t.http().get(issued.body.data.url as string);
      const jar = (opened.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
      expect((await t.http().get('/admin/queues/api/queues').set('Cookie', jar)).status).toBe(200);

      const out = await t.http().post('/auth/logout').set(bearer(token));
      expect(out.body.code).toBe('success');
      expect((await t.http().get('/admin/queues/api/queues').set('Cookie', jar)).status).toBe(401);
    });
  });

  it('does not exist in embedded mode (inline driver, no Redis)', async () => {
    const t = await createTestApp();
    try {
      const admin = await t.token(randomUUID(), 'admin');
      const page = await t.http().get('/admin/queues').set('Authorization', `Bearer ${admin}`);
      expect(page.status).toBe(404);
      expect(page.body.code).toBe('not_found');
      const ticket = await t
        .http()
        .post('/admin/queue-board/ticket')
        .set('Authorization', `Bearer ${admin}`);
      expect(ticket.status).toBe(404);
      expect(() => t.app.get(getQueueToken('download'))).toThrow();
    } finally {
      await t.close();
    }
  });
});
