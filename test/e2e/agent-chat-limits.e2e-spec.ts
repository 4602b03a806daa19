import { FakeOpenAI } from '@test/fakes/fake-openai';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createApp } from '@test/support/apps';
import { createAccount, TestAccount } from '@test/support/auth';
import { openStream, postStream } from '@test/support/model-test-utils';
import { uniqueRedisPrefix, workerDatabaseUrl } from '@test/support/test-env';
import { Client } from 'pg';
import * as net from 'node:net';
import { AgentTasks } from 'src/modules/chat/agent/agent-tasks.service';
import { DataSource } from 'typeorm';

/**
 * The agent chat's limits and reach: the run time limit (a `timeout` frame, the message stored
 * with status timeout), keep-alive pings with the frame shape, stop by task id through another
 * process (scale mode, Redis pub/sub), and no connection to anything but loopback during a turn
 * (LangChain once fetched tokenizer data from the internet behind the user's back).
 */

// The module objects themselves (an `import * as` namespace is a copy: patching it changes nothing).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dns = require('node:dns') as typeof import('node:dns');

type Json = Record<string, any>;

const FRAME_KEYS = [
  'id',
  'event',
  'thought',
  'observation',
  'tool',
  'tool_input',
  'answer',
  'latency',
  'conversation_id',
  'message_id',
  'task_id',
];

const providerEnv = (openai: FakeOpenAI) => ({
  OPENAI_API_KEY: 'sk-test',
  OPENAI_API_BASE: openai.baseURL,
  MODEL_MAX_RETRIES: '0',
});

const newApp = (t: TestApp, acc: TestAccount, config: Json = {}) => createApp(t, acc, { config });

describe('Agent chat: time limit and keep-alives (e2e)', () => {
  let openai: FakeOpenAI;
  let t: TestApp;

  beforeAll(async () => {
    openai = await FakeOpenAI.create();
    t = await createTestApp({
      env: { ...providerEnv(openai), AGENT_RUN_TIMEOUT_SECONDS: '3', SSE_PING_INTERVAL_MS: '150' },
    });
  });
  afterAll(async () => {
    await t?.close();
    await openai?.close();
  });

  it('ends a turn that runs past AGENT_RUN_TIMEOUT_SECONDS with a timeout frame; pings carry the frame shape', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(t, acc);
    openai.enqueue({
      type: 'text',
      // The first chunk comes after 400 ms and the limit is 3 s: room for a loaded CI machine to
      // start the turn (a 1 s limit once timed out before the first chunk), while the 20 chunks
      // (8 s) still run well past it.
      chunks: Array.from({ length: 20 }, (_, i) => `w${i} `),
      chunk_delay_ms: 400,
    });
    const res = await postStream(t.url, `/apps/${appId}/conversations`, { query: 'Go' }, acc.auth);
    const events = res.frames.map((f) => f.event);
    expect(events.at(-1)).toBe('timeout');
    expect(events).toContain('agent_message');
    const pings = res.frames.filter((f) => f.event === 'ping');
    expect(pings.length).toBeGreaterThan(0);
    for (const f of res.frames) for (const key of FRAME_KEYS) expect(f.data).toHaveProperty(key);
    const last = res.frames.at(-1)!.data;
    expect(pings[0].data).toMatchObject({
      event: 'ping',
      message_id: last.message_id,
      task_id: last.task_id,
      conversation_id: last.conversation_id,
    });
    expect(last.latency).toBeGreaterThanOrEqual(3);
    const partial = res.frames
      .filter((f) => f.event === 'agent_message')
      .map((f) => f.data.thought)
      .join('');
    expect(partial).toMatch(/^w0 /);
    expect(partial).not.toContain('w19');
    const [row] = await t.app
      .get(DataSource)
      .query<Json[]>('SELECT status, answer FROM messages WHERE id = $1', [last.message_id]);
    expect(row).toEqual({ status: 'timeout', answer: partial });
    // Timed-out answers are not listed (the original lists normal and stop only).
    const list = await t.http().get(`/apps/${appId}/conversations/messages`).set(acc.auth);
    expect((list.body as Json).data.list).toEqual([]);
  });
});

describe('Agent chat: stop from another process (scale mode, e2e)', () => {
  let openai: FakeOpenAI;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    openai = await FakeOpenAI.create();
    const redisPrefix = uniqueRedisPrefix('agent-stop');
    [a, b] = await Promise.all([
      createTestApp({ redis: true, redisPrefix, env: providerEnv(openai) }),
      createTestApp({ redis: true, redisPrefix, env: providerEnv(openai) }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await openai?.close();
  });

  it('stops a turn running in process A through a request to process B', async () => {
    const acc = await createAccount(a);
    const appId = await newApp(a, acc);
    openai.enqueue({
      type: 'text',
      chunks: Array.from({ length: 30 }, (_, i) => `w${i} `),
      chunk_delay_ms: 100,
    });
    const s = openStream(`${a.url}/apps/${appId}/conversations`, { query: 'Go' }, acc.auth);
    const first = await s.waitFor((f) => f.event === 'agent_message');
    const taskId = first.data.task_id as string;
    expect(a.app.get(AgentTasks).runsHere(taskId)).toBe(true);
    expect(b.app.get(AgentTasks).runsHere(taskId)).toBe(false);
    const stop = await b
      .http()
      .post(`/apps/${appId}/conversations/tasks/${taskId}/stop`)
      .set(acc.auth)
      .send({});
    expect(stop.body).toMatchObject({ code: 'success' });
    await s.done;
    expect(s.frames.at(-1)!.event).toBe('stop');
    const [row] = await a.app
      .get(DataSource)
      .query<Json[]>('SELECT status FROM messages WHERE id = $1', [first.data.message_id]);
    expect(row.status).toBe('stop');
    expect(openai.pending).toBe(0);
  });
});

describe('Agent chat: a shutdown during a turn (e2e)', () => {
  let openai: FakeOpenAI;

  beforeAll(async () => {
    openai = await FakeOpenAI.create();
  });
  afterAll(async () => {
    await openai?.close();
  });

  it('stops the turns under way and stores what was answered before the database goes', async () => {
    const t = await createTestApp({ env: providerEnv(openai) });
    let messageId = '';
    try {
      const acc = await createAccount(t);
      const appId = await newApp(t, acc);
      openai.enqueue({
        type: 'text',
        chunks: Array.from({ length: 30 }, (_, i) => `w${i} `),
        chunk_delay_ms: 100,
      });
      const s = openStream(`${t.url}/apps/${appId}/conversations`, { query: 'Go' }, acc.auth);
      const first = await s.waitFor((f) => f.event === 'agent_message');
      messageId = first.data.message_id as string;
    } finally {
      await t.close();
    }
    const db = new Client({ connectionString: workerDatabaseUrl() });
    await db.connect();
    try {
      const { rows } = await db.query<{ status: string; answer: string }>(
        'SELECT status, answer FROM messages WHERE id = $1',
        [messageId],
      );
      expect(rows[0].status).toBe('stop');
      expect(rows[0].answer).toMatch(/^w0 /);
    } finally {
      await db.end();
    }
  });
});

describe('Agent chat: nothing but loopback is dialled during a turn (e2e)', () => {
  let openai: FakeOpenAI;
  let t: TestApp;
  const dialled: string[] = [];
  const originalConnect = net.Socket.prototype.connect;
  const originalLookup = dns.lookup;
  const originalPromisesLookup = dns.promises.lookup;

  const loopback = (host: string | undefined): boolean =>
    !host ||
    host === 'localhost' ||
    host === '::1' ||
    host === '0:0:0:0:0:0:0:1' ||
    /^127\./.test(host) ||
    /^::ffff:127\./.test(host);

  /** Records (and refuses) every connection and DNS lookup that is not loopback or a unix socket. */
  function installGuard(): void {
    type Connect = (...args: unknown[]) => net.Socket;
    (net.Socket.prototype as unknown as { connect: Connect }).connect = function (
      this: net.Socket,
      ...args: unknown[]
    ) {
      // Node calls it with its normalized [options, callback] array internally.
      const list = Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
      const first = list[0];
      const opts =
        typeof first === 'object' && first !== null
          ? (first as { host?: string; path?: string; port?: number })
          : { port: first as number, host: typeof list[1] === 'string' ? list[1] : undefined };
      if (!opts.path && !loopback(opts.host)) {
        dialled.push(`${opts.host}:${opts.port}`);
        process.nextTick(() => this.destroy(new Error(`test guard: ${opts.host} refused`)));
        return this;
      }
      return (originalConnect as unknown as Connect).apply(this, args);
    };
    const lookup = ((hostname: string, ...rest: unknown[]) => {
      if (!loopback(hostname)) {
        dialled.push(`dns:${hostname}`);
        const cb = rest.at(-1) as (err: Error) => void;
        process.nextTick(() => cb(Object.assign(new Error('test guard'), { code: 'ENOTFOUND' })));
        return;
      }
      return (originalLookup as (...a: unknown[]) => void)(hostname, ...rest);
    }) as typeof dns.lookup;
    (dns as { lookup: typeof dns.lookup }).lookup = lookup;
    dns.promises.lookup = ((hostname: string, ...rest: unknown[]) => {
      if (!loopback(hostname)) {
        dialled.push(`dns:${hostname}`);
        return Promise.reject(Object.assign(new Error('test guard'), { code: 'ENOTFOUND' }));
      }
      return (originalPromisesLookup as (...a: unknown[]) => Promise<unknown>)(hostname, ...rest);
    }) as typeof dns.promises.lookup;
  }

  function removeGuard(): void {
    net.Socket.prototype.connect = originalConnect;
    (dns as { lookup: typeof dns.lookup }).lookup = originalLookup;
    dns.promises.lookup = originalPromisesLookup;
  }

  beforeAll(async () => {
    openai = await FakeOpenAI.create();
    t = await createTestApp({ env: providerEnv(openai) });
  });
  afterAll(async () => {
    removeGuard();
    await t?.close();
    await openai?.close();
  });

  it('the guard sees a dial to the internet (so the test below can fail)', async () => {
    installGuard();
    try {
      const socket = net.connect(80, '203.0.113.7');
      const settled = (work: Promise<void>) =>
        Promise.race([work, new Promise<void>((r) => setTimeout(r, 2000))]);
      await settled(new Promise<void>((resolve) => socket.on('error', () => resolve())));
      await settled(new Promise<void>((resolve) => dns.lookup('example.com', () => resolve())));
    } finally {
      removeGuard();
    }
    expect(dialled).toEqual(['203.0.113.7:80', 'dns:example.com']);
    dialled.length = 0;
  });

  it('runs a turn with tools, streaming, usage and long-term memory on loopback only', async () => {
    const acc = await createAccount(t);
    const appId = await newApp(t, acc, {
      tools: [{ type: 'builtin_tool', provider_id: 'time', tool_id: 'current_time', params: {} }],
      long_term_memory: { enable: true },
    });
    openai.enqueue([
      { type: 'tool_call', name: 'current_time', arguments: { timezone: 'Europe/Paris' } },
      { type: 'text', text: 'It is time.' },
      { type: 'text', text: 'The user asked the time.' },
    ]);
    installGuard();
    try {
      const res = await postStream(
        t.url,
        `/apps/${appId}/conversations`,
        { query: 'What time is it?' },
        acc.auth,
      );
      expect(res.frames.at(-1)!.event).toBe('agent_end');
      // The summary is written after the stream ends: wait for it inside the guard.
      const db = t.app.get(DataSource);
      for (let i = 0; i < 100; i++) {
        const [c] = await db.query<Json[]>('SELECT summary FROM conversations WHERE id = $1', [
          res.frames[0].data.conversation_id,
        ]);
        if (c.summary) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      removeGuard();
    }
    expect(openai.requestsTo('chat')).toHaveLength(3);
    expect(dialled).toEqual([]);
  });
});
