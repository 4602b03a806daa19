import type { Worker } from 'node:worker_threads';

export interface WorkerPoolOptions {
  /** Workers alive at once, busy, idle and starting; further acquirers wait in line. */
  maxWorkers: number;
  /** Idle workers kept (unref'd) for the next acquirer; a release beyond this terminates. */
  keepIdle: number;
  /** Starts one worker; resolves once it can take work. */
  spawn(): Promise<Worker>;
  /** What an acquirer whose signal aborted gets. */
  abortedError(signal: AbortSignal): Error;
  /** What an acquirer gets once the pool is closed. */
  closedError(): Error;
}

/**
 * Worker threads for work that must not run on the event loop (user code, templates): at most
 * `maxWorkers` alive, idle ones kept warm and unref'd, a worker that failed or hit a limit
 * replaced on demand. Waiters are served in order; one that gives up while a worker is being
 * started for it hands that worker to the next.
 */
export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly workers = new Set<Worker>();
  private readonly waiters: Array<(w: Worker | Error) => boolean> = [];
  private starting = 0;
  private isClosed = false;
  private seq = 0;

  constructor(private readonly o: WorkerPoolOptions) {}

  /** Workers alive now (idle, busy and starting). */
  get size(): number {
    return this.workers.size + this.starting;
  }

  get idleCount(): number {
    return this.idle.length;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  async acquire(signal?: AbortSignal): Promise<Worker> {
    if (this.isClosed) throw this.o.closedError();
    if (signal?.aborted) throw this.o.abortedError(signal);
    const idle = this.idle.pop();
    if (idle) return (idle.ref(), idle);
    if (this.size < this.o.maxWorkers) return this.start();
    const got = await new Promise<Worker | Error>((resolve) => {
      let settled = false;
      const wake = (w: Worker | Error): boolean => {
        if (settled) return false;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        resolve(w);
        return true;
      };
      const onAbort = () => {
        const at = this.waiters.indexOf(wake);
        if (at >= 0) this.waiters.splice(at, 1);
        wake(this.o.abortedError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(wake);
    });
    if (got instanceof Error) throw got;
    return got;
  }

  /**
   * One request to `worker`, acquired from this pool: `message` goes with a fresh `id`, and the
   * first message back with that id is the reply. The worker is then given back, kept after a
   * reply (unless `discardAfter` says that reply leaves it unfit) and discarded after anything
   * else (error, exit, abort, timeout). A message that cannot be posted rejects, the worker given
   * back as it was.
   */
  async request<R extends { id: number }>(
    worker: Worker,
    message: Record<string, unknown>,
    opts: { timeoutMs: number; signal?: AbortSignal; discardAfter?: (reply: R) => boolean },
  ): Promise<WorkerOutcome<R>> {
    const id = ++this.seq;
    let outcome: WorkerOutcome<R>;
    try {
      outcome = await requestWorker(
        worker,
        { ...message, id },
        {
          timeoutMs: opts.timeoutMs,
          signal: opts.signal,
          isReply: (m): m is R => (m as R | null)?.id === id,
        },
      );
    } catch (err) {
      this.release(worker);
      throw err;
    }
    this.release(worker, outcome.kind !== 'reply' || (opts.discardAfter?.(outcome.reply) ?? false));
    return outcome;
  }

  /** Gives a worker back: to the next waiter, to the idle set, or (`discard`) to termination. */
  release(worker: Worker, discard = false): void {
    if (discard || this.isClosed || !this.workers.has(worker)) {
      this.retire(worker);
      if (this.waiters.length && !this.isClosed && this.size < this.o.maxWorkers) {
        this.start().then(
          (w) => this.handOver(w),
          (err: Error) => this.waiters.shift()?.(err),
        );
      }
      return;
    }
    this.handOver(worker);
  }

  /** Starts workers until `keepIdle` are idle (or `maxWorkers` are alive). */
  async warmUp(): Promise<void> {
    const started: Worker[] = [];
    while (this.size < this.o.maxWorkers && this.idle.length + started.length < this.o.keepIdle) {
      started.push(await this.start());
    }
    for (const w of started) this.release(w);
  }

  /** Refuses new work, fails the waiters and terminates every worker, busy ones included. */
  async close(): Promise<void> {
    this.isClosed = true;
    for (const wake of this.waiters.splice(0)) wake(this.o.closedError());
    this.idle.splice(0);
    await Promise.all([...this.workers].map((w) => w.terminate()));
  }

  /** To the first waiter still waiting, else idle (or terminated beyond keepIdle). */
  private handOver(worker: Worker): void {
    for (let wake = this.waiters.shift(); wake; wake = this.waiters.shift()) {
      worker.ref();
      if (wake(worker)) return;
    }
    if (this.idle.length < this.o.keepIdle && !this.isClosed) {
      // An idle worker must not keep the process alive.
      worker.unref();
      this.idle.push(worker);
    } else {
      this.retire(worker);
    }
  }

  private async start(): Promise<Worker> {
    this.starting++;
    let worker: Worker;
    try {
      worker = await this.o.spawn();
    } finally {
      this.starting--;
    }
    this.workers.add(worker);
    // Permanent handlers: an 'error' without a listener would crash the server, and a worker
    // that dies while idle must leave the pool.
    worker.on('error', () => undefined);
    worker.once('exit', () => {
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      this.retire(worker);
    });
    if (this.isClosed) {
      this.retire(worker);
      throw this.o.closedError();
    }
    return worker;
  }

  private retire(worker: Worker): void {
    if (!this.workers.delete(worker)) return;
    void worker.terminate().catch(() => undefined);
  }
}

/** How one request to a worker ended. */
export type WorkerOutcome<R> =
  | { kind: 'reply'; reply: R }
  | { kind: 'error'; error: Error & { code?: string } }
  | { kind: 'exit'; code: number }
  | { kind: 'aborted' }
  | { kind: 'timeout' };

/**
 * Posts `message` to `worker` and resolves with the first of: the reply `isReply` accepts, an
 * error or exit of the worker, the signal's abort, or `timeoutMs`. Its listeners are gone either
 * way. Rejects, with the worker untouched, when the message cannot be posted (not cloneable).
 */
export function requestWorker<R>(
  worker: Worker,
  message: unknown,
  opts: { isReply: (m: unknown) => m is R; timeoutMs: number; signal?: AbortSignal },
): Promise<WorkerOutcome<R>> {
  return new Promise<WorkerOutcome<R>>((resolve, reject) => {
    let done = false;
    const finish = (outcome: WorkerOutcome<R>, failure?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      opts.signal?.removeEventListener('abort', onAbort);
      // A DataCloneError is a DOMException, not always an Error of this realm.
      if (failure !== undefined) reject(failure);
      else resolve(outcome);
    };
    const onMessage = (m: unknown) => {
      if (opts.isReply(m)) finish({ kind: 'reply', reply: m });
    };
    const onError = (error: Error) => finish({ kind: 'error', error });
    const onExit = (code: number) => finish({ kind: 'exit', code });
    const onAbort = () => finish({ kind: 'aborted' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), opts.timeoutMs);
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    if (opts.signal?.aborted) return finish({ kind: 'aborted' });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      worker.postMessage(message);
    } catch (err) {
      finish({ kind: 'aborted' }, err as Error);
    }
  });
}
