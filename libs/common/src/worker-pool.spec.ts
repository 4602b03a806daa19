import { Worker } from 'node:worker_threads';
import { requestWorker, WorkerPool } from './worker-pool';

/** Echoes `{id, value}` back; `{exit: true}` ends the thread; `{hang: true}` never answers. */
const ECHO = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => {
  if (m.exit) process.exit(3);
  if (m.hang) return;
  parentPort.postMessage({ id: m.id, value: m.value });
});
`;

class Aborted extends Error {}
class Closed extends Error {}

describe('WorkerPool', () => {
  const pools: WorkerPool[] = [];
  let spawned = 0;
  const pool = (maxWorkers: number, keepIdle: number) => {
    const p = new WorkerPool({
      maxWorkers,
      keepIdle,
      spawn: () => {
        spawned++;
        return Promise.resolve(new Worker(ECHO, { eval: true }));
      },
      abortedError: () => new Aborted('aborted'),
      closedError: () => new Closed('closed'),
    });
    pools.push(p);
    return p;
  };
  beforeEach(() => (spawned = 0));
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  it('keeps at most maxWorkers alive and serves waiters in order', async () => {
    const p = pool(2, 2);
    const [a, b] = [await p.acquire(), await p.acquire()];
    expect(p.size).toBe(2);
    const order: string[] = [];
    const first = p.acquire().then((w) => (order.push('first'), w));
    const second = p.acquire().then((w) => (order.push('second'), w));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    p.release(a);
    expect(await first).toBe(a);
    p.release(b);
    expect(await second).toBe(b);
    expect(order).toEqual(['first', 'second']);
    expect(spawned).toBe(2);
  });

  it('hands the worker of a waiter that gave up to the next one', async () => {
    const p = pool(1, 1);
    const busy = await p.acquire();
    const ctl = new AbortController();
    const quitter = p.acquire(ctl.signal);
    const next = p.acquire();
    ctl.abort();
    await expect(quitter).rejects.toBeInstanceOf(Aborted);
    p.release(busy);
    expect(await next).toBe(busy);
    expect(p.size).toBe(1);
  });

  it('replaces a discarded worker for a waiter, and keeps only keepIdle idle', async () => {
    const p = pool(2, 1);
    const [a, b] = [await p.acquire(), await p.acquire()];
    const waiting = p.acquire();
    p.release(a, true);
    const c = await waiting;
    expect(c).not.toBe(a);
    expect(spawned).toBe(3);
    p.release(b);
    p.release(c);
    expect(p.idleCount).toBe(1);
    expect(p.size).toBe(1);
  });

  it('drops a worker that dies while idle', async () => {
    const p = pool(1, 1);
    const w = await p.acquire();
    p.release(w);
    const exited = new Promise((r) => w.once('exit', r));
    w.postMessage({ exit: true });
    await exited;
    expect(p.size).toBe(0);
    expect(await p.acquire()).not.toBe(w);
  });

  it('fails waiters and new acquirers once closed', async () => {
    const p = pool(1, 1);
    await p.acquire();
    const waiting = expect(p.acquire()).rejects.toBeInstanceOf(Closed);
    await p.close();
    await waiting;
    await expect(p.acquire()).rejects.toBeInstanceOf(Closed);
    expect(p.size).toBe(0);
  });
});

describe('requestWorker', () => {
  let worker: Worker;
  beforeEach(() => (worker = new Worker(ECHO, { eval: true })));
  afterEach(() => worker.terminate());
  const isReply =
    (id: number) =>
    (m: unknown): m is { id: number; value: unknown } =>
      (m as { id?: number } | null)?.id === id;
  const listeners = () =>
    ['message', 'error', 'exit'].map((e) => worker.listenerCount(e)).reduce((a, b) => a + b);

  it('resolves with the matching reply and removes its listeners', async () => {
    const before = listeners();
    const out = await requestWorker(
      worker,
      { id: 7, value: 'x' },
      {
        isReply: isReply(7),
        timeoutMs: 5000,
      },
    );
    expect(out).toEqual({ kind: 'reply', reply: { id: 7, value: 'x' } });
    expect(listeners()).toBe(before);
  });

  it('ends on timeout, abort and exit', async () => {
    expect(
      await requestWorker(worker, { hang: true }, { isReply: isReply(1), timeoutMs: 30 }),
    ).toEqual({ kind: 'timeout' });
    const ctl = new AbortController();
    const aborted = requestWorker(
      worker,
      { hang: true },
      {
        isReply: isReply(1),
        timeoutMs: 5000,
        signal: ctl.signal,
      },
    );
    ctl.abort();
    expect(await aborted).toEqual({ kind: 'aborted' });
    expect(
      await requestWorker(worker, { exit: true }, { isReply: isReply(1), timeoutMs: 5000 }),
    ).toEqual({ kind: 'exit', code: 3 });
  });

  it('rejects a message that cannot be posted, leaving no listener behind', async () => {
    const before = listeners();
    await expect(
      requestWorker(
        worker,
        { id: 1, value: Symbol('not cloneable') },
        { isReply: isReply(1), timeoutMs: 5000 },
      ),
    ).rejects.toThrow(/could not be cloned/);
    expect(listeners()).toBe(before);
  });
});
