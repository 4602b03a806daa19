import { AccessTokenVerifier } from '@app/common';
import { RealtimeEmitter, RealtimeGateway, RealtimeSubscriptions } from '@app/realtime';
import { JwtService } from '@nestjs/jwt';
import { createTestApp, TestApp } from '@test/support/app-factory';
import {
  ClientSocket,
  collect,
  connected,
  emitWithAck,
  nextEvent,
  receiveWhileEmitting,
  refusal,
  SocketTracker,
} from '@test/support/socket-client';
import { uniqueRedisPrefix } from '@test/support/test-env';
import { randomUUID } from 'node:crypto';
import { SessionService } from 'src/modules/auth/services/session.service';

type Ack = { ok: boolean; room?: string; message?: string };

/**
 * A `subscribe_fixture {item_id}` subscription: the room is `fixture:<item_id>`, only the
 * item's owner may join, and joining sends a `deployment_status` snapshot.
 */
function registerFixtureSubscription(t: TestApp, owners: Map<string, string>): void {
  t.app.get(RealtimeSubscriptions).register<{ item_id?: unknown }>({
    subscribe: 'subscribe_fixture',
    room: (p) => (typeof p?.item_id === 'string' && p.item_id ? `fixture:${p.item_id}` : null),
    authorize: async (accountId, p) => {
      if (p.item_id === 'explode') throw new Error('lookup failed');
      return owners.get(p.item_id as string) === accountId;
    },
    snapshot: async (_accountId, p) => ({
      event: 'deployment_status',
      data: { item_id: p.item_id, status: 'snapshot' },
    }),
  });
}

describe('Realtime (socket.io)', () => {
  let t: TestApp;
  let emitter: RealtimeEmitter;
  const sockets = new SocketTracker();
  const owners = new Map<string, string>();

  beforeAll(async () => {
    t = await createTestApp();
    emitter = t.app.get(RealtimeEmitter);
    registerFixtureSubscription(t, owners);
  });
  afterEach(() => sockets.closeAll());
  afterAll(() => t.close());

  /** Proves a socket joined its account room: an event to the account reaches it. */
  async function expectInAccountRoom(socket: ClientSocket, accountId: string) {
    const probe = randomUUID();
    const got = nextEvent(socket, 'notification', (p) => p.probe === probe);
    emitter.toAccount(accountId, 'notification', { probe });
    await expect(got).resolves.toEqual({ probe });
  }

  /**
   * Waits for a marker sent to the account after everything emitted so far: events for one socket
   * are written in order, so anything not received before the marker was not delivered.
   */
  async function fence(socket: ClientSocket, accountId: string) {
    const marker = randomUUID();
    const got = nextEvent(socket, 'notification', (p) => p.fence === marker);
    emitter.toAccount(accountId, 'notification', { fence: marker });
    await got;
  }

  describe('handshake', () => {
    it('accepts the access token in auth.token and joins the account room', async () => {
      const account = randomUUID();
      const socket = await sockets.connect(t.url, await t.token(account));
      expect(socket.connected).toBe(true);
      await expectInAccountRoom(socket, account);
    });

    it('accepts "Bearer <token>" in auth.token', async () => {
      const account = randomUUID();
      const socket = await sockets.connect(t.url, `Bearer ${await t.token(account)}`);
      await expectInAccountRoom(socket, account);
    });

    it('accepts the access token in the Authorization header', async () => {
      const account = randomUUID();
      const socket = sockets.open(t.url, {
        transports: ['polling'],
        extraHeaders: { Authorization: `Bearer ${await t.token(account)}` },
      });
      await connected(socket);
      await expectInAccountRoom(socket, account);
    });

    /** A token signed with the app's secret: a live session's claims, overridden. */
    async function forged(app: TestApp, override: Record<string, unknown>): Promise<string> {
      const jwt = new JwtService({ secret: app.config.env.JWT_SECRET });
      const claims = jwt.decode<Record<string, unknown>>(await app.token(randomUUID()));
      return jwt.sign({ ...claims, ...override });
    }

    const invalid = /^Invalid or expired access token$/;
    const refusals: Array<
      [string, (t: TestApp) => Promise<Record<string, unknown> | undefined>, RegExp]
    > = [
      ['a missing token', async () => undefined, /^Missing access token$/],
      ['an empty token', async () => ({ token: '' }), /^Missing access token$/],
      ['a garbage token', async () => ({ token: 'not-a-jwt' }), invalid],
      [
        'a token signed with another secret',
        async () => ({
          token: new JwtService({ secret: 'other-secret-xxxxxxxxxxxx' }).sign({ sub: 'x' }),
        }),
        invalid,
      ],
      [
        'an expired token',
        async (app) => ({ token: await forged(app, { exp: Math.floor(Date.now() / 1000) - 10 }) }),
        invalid,
      ],
      [
        'a token that is not an access token',
        async (app) => ({ token: await forged(app, { typ: 'refresh' }) }),
        invalid,
      ],
      [
        'a token without a session',
        async (app) => ({ token: await forged(app, { sid: undefined }) }),
        invalid,
      ],
      [
        'a token of an unknown session',
        async (app) => ({ token: await forged(app, { sid: randomUUID() }) }),
        invalid,
      ],
      [
        'a token of a revoked session (signed out)',
        async (app) => {
          const token = await app.token(randomUUID());
          const { sid } = new JwtService({}).decode<{ sid: string }>(token);
          await app.app.get(SessionService).revoke(sid, 'logout');
          return { token };
        },
        invalid,
      ],
    ];

    it.each(refusals)('refuses %s: error event, then disconnect', async (_label, auth, message) => {
      const socket = sockets.open(t.url, { auth: await auth(t) });
      const { error, order } = await refusal(socket);
      expect(error.message).toMatch(message);
      expect(order).toEqual(['error', 'disconnect']);
      expect(socket.connected).toBe(false);
    });

    it('refuses a bad Authorization header', async () => {
      const socket = sockets.open(t.url, {
        transports: ['polling'],
        extraHeaders: { Authorization: 'Bearer nope' },
      });
      const { error } = await refusal(socket);
      expect(error.message).toBe('Invalid or expired access token');
    });
  });

  describe('with a slow token verifier (e.g. a session lookup)', () => {
    // The handshake must be fully set up before the client sees `connect`.
    let restore: () => void;
    beforeEach(() => {
      const verifier = t.app.get(AccessTokenVerifier);
      const verify = verifier.verify.bind(verifier);
      const spy = jest.spyOn(verifier, 'verify').mockImplementation(async (token) => {
        await new Promise((r) => setTimeout(r, 50));
        return verify(token);
      });
      restore = () => spy.mockRestore();
    });
    afterEach(() => restore());

    it('does not lose messages the client sent right away (buffered until connect)', async () => {
      const owner = randomUUID();
      const item = randomUUID();
      owners.set(item, owner);
      const socket = sockets.open(t.url, { auth: { token: await t.token(owner) } });
      const ack = emitWithAck<Ack>(socket, 'subscribe_fixture', { item_id: item });
      await expect(ack).resolves.toEqual({ ok: true, room: `fixture:${item}` });
    });

    it('has joined the account room when the client sees connect', async () => {
      const account = randomUUID();
      const socket = await sockets.connect(t.url, await t.token(account));
      await expectInAccountRoom(socket, account);
    });

    it('still refuses a bad token with an error event, then disconnect', async () => {
      const socket = sockets.open(t.url, { auth: { token: 'not-a-jwt' } });
      const { error, order } = await refusal(socket);
      expect(error.message).toBe('Invalid or expired access token');
      expect(order).toEqual(['error', 'disconnect']);
    });
  });

  describe('account rooms', () => {
    it("delivers toAccount(A) to every socket of A and not to B's", async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const a1 = await sockets.connect(t.url, await t.token(a));
      const a2 = await sockets.connect(t.url, await t.token(a));
      const b1 = await sockets.connect(t.url, await t.token(b));
      const leaked = collect(b1, 'notification');
      const got1 = nextEvent(a1, 'notification');
      const got2 = nextEvent(a2, 'notification');
      emitter.toAccount(a, 'notification', { kind: 'hello', to: a });
      await expect(got1).resolves.toEqual({ kind: 'hello', to: a });
      await expect(got2).resolves.toEqual({ kind: 'hello', to: a });
      await fence(b1, b);
      expect(leaked.filter((p) => p.kind === 'hello')).toEqual([]);
    });
  });

  describe('subscriptions', () => {
    let owner: string;
    let other: string;
    let item: string;

    beforeEach(() => {
      [owner, other, item] = [randomUUID(), randomUUID(), randomUUID()];
      owners.set(item, owner);
    });

    it('joins the room on an authorized subscribe: ack, snapshot, then room events', async () => {
      const socket = await sockets.connect(t.url, await t.token(owner));
      const snapshot = nextEvent(socket, 'deployment_status');
      const ack = await emitWithAck<Ack>(socket, 'subscribe_fixture', { item_id: item });
      expect(ack).toEqual({ ok: true, room: `fixture:${item}` });
      await expect(snapshot).resolves.toEqual({ item_id: item, status: 'snapshot' });

      const log = nextEvent(socket, 'deployment_log');
      emitter.toRoom(`fixture:${item}`, 'deployment_log', { item_id: item, line: 'hello' });
      await expect(log).resolves.toEqual({ item_id: item, line: 'hello' });
    });

    it('handles a subscribe sent before the handshake completed (buffered by the client)', async () => {
      const socket = sockets.open(t.url, { auth: { token: await t.token(owner) } });
      const ack = emitWithAck<Ack>(socket, 'subscribe_fixture', { item_id: item });
      await expect(ack).resolves.toEqual({ ok: true, room: `fixture:${item}` });
    });

    it.each([
      ["another account's resource", (i: string) => i],
      ['a resource that does not exist', () => randomUUID()],
      ['a resource whose lookup fails', () => 'explode'],
    ])('refuses %s with ok:false and an error event; no room events', async (_label, pick) => {
      const target = pick(item);
      const socket = await sockets.connect(t.url, await t.token(other));
      const error = nextEvent(socket, 'error');
      const leaked = collect(socket, 'deployment_log');
      const snapshots = collect(socket, 'deployment_status');

      const ack = await emitWithAck<Ack>(socket, 'subscribe_fixture', { item_id: target });
      expect(ack).toEqual({ ok: false, message: 'subscribe_fixture: the resource does not exist' });
      await expect(error).resolves.toEqual({
        message: 'subscribe_fixture: the resource does not exist',
      });

      emitter.toRoom(`fixture:${target}`, 'deployment_log', { item_id: target, line: 'secret' });
      await fence(socket, other);
      expect(leaked).toEqual([]);
      expect(snapshots).toEqual([]);
      expect(socket.connected).toBe(true);
    });

    it('ends the sockets of a session that was signed out: at the next subscribe and at the periodic check', async () => {
      const token = await t.token(owner);
      const first = await sockets.connect(t.url, token);
      const second = await sockets.connect(t.url, token);
      await expect(
        emitWithAck<Ack>(second, 'subscribe_fixture', { item_id: item }),
      ).resolves.toMatchObject({ ok: true });
      const { sid } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as {
        sid: string;
      };
      await t.app.get(SessionService).revoke(sid, 'logout');

      const ended = { message: 'The session has ended, please sign in again' };
      const error = nextEvent(first, 'error');
      const closed = new Promise((r) => first.once('disconnect', r));
      first.emit('subscribe_fixture', { item_id: item });
      await expect(error).resolves.toEqual(ended);
      await closed;

      // The other socket was already in the room: the sweep ends it, so room events stop.
      const swept = new Promise((r) => second.once('disconnect', r));
      await t.app.get(RealtimeGateway).sweep();
      await swept;
      expect(second.connected).toBe(false);
    });

    it('takes an admin who became a member out of the rooms only admins may follow', async () => {
      t.app.get(RealtimeSubscriptions).register<{ item_id?: unknown }>({
        subscribe: 'subscribe_admin_fixture',
        room: (p) => (typeof p?.item_id === 'string' ? `admin-fixture:${p.item_id}` : null),
        authorize: async (accountId, p, role) =>
          role === 'admin' || owners.get(p.item_id as string) === accountId,
      });
      const admin = randomUUID();
      const socket = await sockets.connect(t.url, await t.token(admin, 'admin'));
      for (const id of [item, 'admins-only']) {
        await expect(
          emitWithAck<Ack>(socket, 'subscribe_admin_fixture', { item_id: id }),
        ).resolves.toMatchObject({ ok: true });
      }
      await t.token(admin, 'member');
      await t.app.get(RealtimeGateway).sweep();
      const after = collect(socket, 'deployment_log');
      emitter.toRoom(`admin-fixture:${item}`, 'deployment_log', { n: 1 });
      emitter.toRoom('admin-fixture:admins-only', 'deployment_log', { n: 2 });
      await fence(socket, admin);
      expect(after).toEqual([]);
      expect(socket.connected).toBe(true);
    });

    it('stops delivery after unsubscribe', async () => {
      const socket = await sockets.connect(t.url, await t.token(owner));
      await expect(
        emitWithAck<Ack>(socket, 'subscribe_fixture', { item_id: item }),
      ).resolves.toMatchObject({
        ok: true,
      });
      const first = nextEvent(socket, 'deployment_log');
      emitter.toRoom(`fixture:${item}`, 'deployment_log', { n: 1 });
      await expect(first).resolves.toEqual({ n: 1 });

      await expect(
        emitWithAck<Ack>(socket, 'unsubscribe_fixture', { item_id: item }),
      ).resolves.toEqual({
        ok: true,
      });
      const after = collect(socket, 'deployment_log');
      emitter.toRoom(`fixture:${item}`, 'deployment_log', { n: 2 });
      await fence(socket, owner);
      expect(after).toEqual([]);
    });

    it.each([
      ['a missing id', {}],
      ['an empty id', { item_id: '' }],
      ['a non-string id', { item_id: 42 }],
      ['no payload', undefined],
    ])('rejects %s with ok:false and an error event', async (_label, payload) => {
      const socket = await sockets.connect(t.url, await t.token(owner));
      const error = nextEvent(socket, 'error');
      const ack = await emitWithAck<Ack>(socket, 'subscribe_fixture', payload);
      const message = 'subscribe_fixture: missing or invalid parameters';
      expect(ack).toEqual({ ok: false, message });
      await expect(error).resolves.toEqual({ message });
      expect(socket.connected).toBe(true);
    });

    it('accepts a subscribe without an ack callback', async () => {
      const socket = await sockets.connect(t.url, await t.token(owner));
      const snapshot = nextEvent(socket, 'deployment_status');
      socket.emit('subscribe_fixture', { item_id: item });
      await expect(snapshot).resolves.toEqual({ item_id: item, status: 'snapshot' });
    });
  });

  describe('CORS on the polling handshake', () => {
    it('reflects an allowed Origin with credentials', async () => {
      const res = await t
        .http()
        .get('/socket.io/')
        .query({ EIO: '4', transport: 'polling' })
        .set('Origin', 'http://console.test');
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe('http://console.test');
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.text).toMatch(/"sid":/);
    });

    it('answers preflights for an allowed Origin', async () => {
      const res = await t
        .http()
        .options('/socket.io/')
        .query({ EIO: '4', transport: 'polling' })
        .set('Origin', 'http://console.test')
        .set('Access-Control-Request-Method', 'POST');
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('http://console.test');
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-allow-methods']).toMatch(/POST/);
    });

    it('gives no CORS grant to other origins', async () => {
      const res = await t
        .http()
        .get('/socket.io/')
        .query({ EIO: '4', transport: 'polling' })
        .set('Origin', 'http://evil.test');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    });
  });
});

describe('Realtime in scale mode (Redis adapter and emitter)', () => {
  let api1: TestApp;
  let api2: TestApp;
  let worker: TestApp;
  const sockets = new SocketTracker();
  const owners = new Map<string, string>();

  beforeAll(async () => {
    const redisPrefix = uniqueRedisPrefix('realtime');
    [api1, api2, worker] = await Promise.all([
      createTestApp({ redis: true, redisPrefix }),
      createTestApp({ redis: true, redisPrefix }),
      createTestApp({ redis: true, redisPrefix, env: { APP_ROLES: 'worker' } }),
    ]);
    registerFixtureSubscription(api1, owners);
  });
  afterEach(() => sockets.closeAll());
  afterAll(async () => {
    await Promise.all([api1, api2, worker].filter(Boolean).map((app) => app.close()));
  });

  it('delivers an event emitted on another api instance to the account (Redis adapter)', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const socketA = await sockets.connect(api1.url, await api1.token(a));
    const socketB = await sockets.connect(api2.url, await api2.token(b));
    const leaked = collect(socketB, 'notification');
    const emitter2 = api2.app.get(RealtimeEmitter);
    const id = randomUUID();

    const got = await receiveWhileEmitting(
      socketA,
      'notification',
      () => emitter2.toAccount(a, 'notification', { id, via: 'api2' }),
      (p) => p.id === id,
    );
    expect(got).toEqual({ id, via: 'api2' });

    // The other direction as well, which also fences socketB (api1 -> Redis -> api2).
    const back = randomUUID();
    const emitter1 = api1.app.get(RealtimeEmitter);
    await receiveWhileEmitting(
      socketB,
      'notification',
      () => emitter1.toAccount(b, 'notification', { id: back }),
      (p) => p.id === back,
    );
    expect(leaked.filter((p) => p.id === id)).toEqual([]);
  });

  it('delivers events emitted by a worker-only process (Redis emitter), to accounts and rooms', async () => {
    expect(() => worker.app.get(RealtimeGateway)).toThrow();
    const workerEmitter = worker.app.get(RealtimeEmitter);
    const account = randomUUID();
    const item = randomUUID();
    owners.set(item, account);
    const socket = await sockets.connect(api1.url, await api1.token(account));

    const id = randomUUID();
    const note = await receiveWhileEmitting(
      socket,
      'notification',
      () => workerEmitter.toAccount(account, 'notification', { id, via: 'worker' }),
      (p) => p.id === id,
    );
    expect(note).toEqual({ id, via: 'worker' });

    const ack = await emitWithAck<Ack>(socket, 'subscribe_fixture', { item_id: item });
    expect(ack).toEqual({ ok: true, room: `fixture:${item}` });
    const log = await receiveWhileEmitting(
      socket,
      'deployment_log',
      () =>
        workerEmitter.toRoom(`fixture:${item}`, 'deployment_log', {
          item_id: item,
          line: 'from worker',
        }),
      (p) => p.item_id === item,
    );
    expect(log).toEqual({ item_id: item, line: 'from worker' });
  });
});
