import { Inject, Injectable, OnModuleDestroy, Optional } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

export interface SandboxRunOptions {
  /** Wall-clock limit of one run (CPU loops, timers and the async main included). */
  timeoutMs: number;
  /**
   * Heap the program may use: the run's WASM memory is capped so about this much can be allocated
   * (never less than the ~10 MB the build's 16 MB initial memory leaves free).
   */
  memoryBytes: number;
  signal?: AbortSignal;
}

export interface SandboxRunResult {
  result: Record<string, unknown>;
  logs: string[];
  /** From the call to the result, queueing and worker start included. */
  latencyMs: number;
}

export type SandboxErrorKind =
  | 'input'
  | 'syntax'
  | 'runtime'
  | 'result'
  | 'timeout'
  | 'memory'
  | 'stack'
  | 'aborted'
  | 'crashed';

export class CodeSandboxError extends Error {
  constructor(
    readonly kind: SandboxErrorKind,
    message: string,
    /** What the program logged before it failed. */
    readonly logs: string[] = [],
  ) {
    super(message);
    this.name = 'CodeSandboxError';
  }
}

export interface CodeSandboxOptions {
  /** Workers running at once; further runs wait in line. */
  maxWorkers: number;
  /** Idle workers kept warm (module loaded) for the next run. */
  warmWorkers: number;
  /** V8 limits of each worker: they bound host-side copies (logs, the result, params). */
  workerOldGenerationMb: number;
  workerYoungGenerationMb: number;
  workerStackMb: number;
  /** After timeoutMs the worker's own interrupt should answer; this much later it is killed. */
  killGraceMs: number;
  maxResultChars: number;
  maxLogLines: number;
  maxLogLineChars: number;
  maxLogChars: number;
}

export const CODE_SANDBOX_OPTIONS = Symbol('CODE_SANDBOX_OPTIONS');

const DEFAULTS: CodeSandboxOptions = {
  maxWorkers: 4,
  warmWorkers: 2,
  workerOldGenerationMb: 96,
  workerYoungGenerationMb: 16,
  workerStackMb: 4,
  killGraceMs: 150,
  maxResultChars: 16 * 1024 * 1024,
  maxLogLines: 200,
  maxLogLineChars: 4000,
  maxLogChars: 64 * 1024,
};

const MAX_TIMEOUT_MS = 60 * 60 * 1000;
const MAX_MEMORY_BYTES = 1024 * 1024 * 1024;
const WORKER_FILE = path.join(__dirname, 'sandbox.worker.js');
// Kinds after which a worker is not trusted again: a limit was hit or the instance broke.
const DISCARD: ReadonlySet<SandboxErrorKind> = new Set([
  'timeout',
  'memory',
  'stack',
  'aborted',
  'crashed',
]);

interface Slot {
  worker: Worker;
  retired: boolean;
}

interface WorkerReply {
  id: number;
  ok: boolean;
  result?: string;
  kind?: SandboxErrorKind;
  message?: string;
  logs: string[];
}

/**
 * Runs user JavaScript (`main(params)`) in QuickJS, a new runtime per run inside a worker thread
 * (the WASM instance is reused only after clean runs): the WASM memory has a hard maximum,
 * QuickJS's interrupt handler stops CPU loops,
 * the worker has V8 resource limits, and a worker that does not answer in time is terminated, so
 * neither a loop nor a memory bomb reaches the server's event loop or heap.
 */
@Injectable()
export class CodeSandbox implements OnModuleDestroy {
  private readonly options: CodeSandboxOptions;
  private wasmModule?: Promise<WebAssembly.Module>;
  private readonly idle: Slot[] = [];
  private readonly slots = new Set<Slot>();
  private readonly waiters: Array<(slot: Slot | Error) => void> = [];
  private live = 0;
  private nextId = 1;
  private closed = false;

  constructor(@Optional() @Inject(CODE_SANDBOX_OPTIONS) options?: Partial<CodeSandboxOptions>) {
    this.options = { ...DEFAULTS, ...options };
  }

  async run(
    code: string,
    params: Record<string, unknown>,
    opts: SandboxRunOptions,
  ): Promise<SandboxRunResult> {
    const started = performance.now();
    const paramsJson = this.checkInput(code, params, opts);
    if (opts.signal?.aborted) throw new CodeSandboxError('aborted', 'code run was aborted');
    const slot = await this.acquire(opts.signal);
    // Aborted while a worker was starting: the listener below would never fire.
    if (opts.signal?.aborted) {
      this.release(slot, false);
      throw new CodeSandboxError('aborted', 'code run was aborted');
    }
    const reply = await this.execute(slot, code, paramsJson, opts);
    if (!reply.ok) {
      const kind = reply.kind ?? 'crashed';
      throw new CodeSandboxError(kind, this.message(kind, reply.message, opts), reply.logs);
    }
    return {
      result: JSON.parse(reply.result ?? '{}') as Record<string, unknown>,
      logs: reply.logs,
      latencyMs: performance.now() - started,
    };
  }

  /** Starts the warm workers now instead of on the first run. */
  async warmUp(): Promise<void> {
    const slots: Slot[] = [];
    while (
      this.live < this.options.warmWorkers &&
      this.idle.length + slots.length < this.options.warmWorkers
    ) {
      slots.push(await this.spawn());
    }
    for (const slot of slots) this.release(slot, false);
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiters.splice(0))
      wake(new CodeSandboxError('aborted', 'code sandbox is shutting down'));
    this.idle.splice(0);
    // Busy workers too: their runs end as aborted through the workers' exit.
    await Promise.all([...this.slots].map((s) => s.worker.terminate()));
  }

  /** Workers alive now (idle and busy); for tests and metrics. */
  get workerCount(): number {
    return this.live;
  }

  private checkInput(
    code: string,
    params: Record<string, unknown>,
    opts: SandboxRunOptions,
  ): string {
    if (typeof code !== 'string') throw new CodeSandboxError('input', 'code must be a string');
    // setTimeout fires at once past 2^31 ms; nothing sensible runs this long anyway.
    if (!(
      Number.isFinite(opts.timeoutMs) &&
      opts.timeoutMs > 0 &&
      opts.timeoutMs <= MAX_TIMEOUT_MS
    )) {
      throw new CodeSandboxError('input', `timeoutMs must be between 1 and ${MAX_TIMEOUT_MS}`);
    }
    // The WASM build addresses at most 2 GB, its 16 MB base included.
    if (!(opts.memoryBytes >= 1024 * 1024 && opts.memoryBytes <= MAX_MEMORY_BYTES)) {
      throw new CodeSandboxError('input', 'memoryBytes must be between 1 MB and 1 GB');
    }
    let json: string | undefined;
    try {
      json = JSON.stringify(params);
    } catch (err) {
      throw new CodeSandboxError('input', `params are not JSON: ${(err as Error).message}`);
    }
    if (
      json === undefined ||
      params === null ||
      typeof params !== 'object' ||
      Array.isArray(params)
    ) {
      throw new CodeSandboxError('input', 'params must be a JSON object');
    }
    return json;
  }

  private message(
    kind: SandboxErrorKind,
    detail: string | undefined,
    opts: SandboxRunOptions,
  ): string {
    switch (kind) {
      case 'timeout':
        return `code exceeded its time limit of ${opts.timeoutMs} ms`;
      case 'memory':
        return `code exceeded its memory limit of ${formatBytes(opts.memoryBytes)}`;
      case 'stack':
        return 'code exceeded its stack limit (recursion too deep)';
      case 'aborted':
        return 'code run was aborted';
      case 'crashed':
        return `code sandbox failed: ${detail ?? 'worker stopped'}`;
      default:
        return detail ?? 'code failed';
    }
  }

  private execute(
    slot: Slot,
    code: string,
    params: string,
    opts: SandboxRunOptions,
  ): Promise<WorkerReply> {
    const id = this.nextId++;
    const { worker } = slot;
    worker.ref();
    return new Promise<WorkerReply>((resolve) => {
      let done = false;
      const finish = (reply: WorkerReply, discard: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        opts.signal?.removeEventListener('abort', onAbort);
        this.release(slot, discard);
        resolve(reply);
      };
      const failWith = (kind: SandboxErrorKind, message = '') =>
        finish({ id, ok: false, kind, message, logs: [] }, true);
      const onMessage = (reply: WorkerReply) => {
        if (reply.id !== id) return;
        if (reply.ok && (reply.result?.length ?? 0) > this.options.maxResultChars) {
          finish(
            {
              ...reply,
              ok: false,
              kind: 'result',
              message: `the result is larger than ${this.options.maxResultChars} characters of JSON`,
            },
            false,
          );
          return;
        }
        finish(reply, !reply.ok && DISCARD.has(reply.kind ?? 'crashed'));
      };
      // ERR_WORKER_OUT_OF_MEMORY: the worker's V8 heap limit, i.e. host-side copies were too big.
      // A worker terminated by shutdown (even one still starting up) ends its run as aborted.
      const onError = (err: Error & { code?: string }) =>
        this.closed
          ? failWith('aborted', 'code sandbox is shutting down')
          : failWith(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crashed', err.message);
      const onExit = (exitCode: number) =>
        this.closed
          ? failWith('aborted')
          : failWith('crashed', `worker exited with code ${exitCode}`);
      const onAbort = () => failWith('aborted');
      const timer = setTimeout(
        () => failWith('timeout'),
        opts.timeoutMs + this.options.killGraceMs,
      );
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      worker.postMessage({
        id,
        code,
        params,
        timeoutMs: opts.timeoutMs,
        memoryBytes: opts.memoryBytes,
      });
    });
  }

  private async acquire(signal?: AbortSignal): Promise<Slot> {
    if (this.closed) throw new CodeSandboxError('aborted', 'code sandbox is shutting down');
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.live < this.options.maxWorkers) return this.spawn();
    const got = await new Promise<Slot | Error>((resolve) => {
      let settled = false;
      const wake = (slot: Slot | Error) => {
        if (settled) {
          // The waiter gave up while a worker was being started for it: the next one gets it.
          if (!(slot instanceof Error)) this.release(slot, false);
          return;
        }
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        resolve(slot);
      };
      const onAbort = () => {
        if (settled) return;
        settled = true;
        const at = this.waiters.indexOf(wake);
        if (at >= 0) this.waiters.splice(at, 1);
        resolve(new CodeSandboxError('aborted', 'code run was aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(wake);
    });
    if (got instanceof Error) throw got;
    return got;
  }

  private release(slot: Slot, discard: boolean): void {
    if (discard || this.closed) {
      this.retire(slot);
      const wake = this.waiters.shift();
      if (wake) this.spawn().then(wake, wake);
      return;
    }
    const wake = this.waiters.shift();
    if (wake) return wake(slot);
    if (this.idle.length < this.options.warmWorkers) {
      // An idle worker must not keep the process alive.
      slot.worker.unref();
      this.idle.push(slot);
      return;
    }
    this.retire(slot);
  }

  private retire(slot: Slot): void {
    if (slot.retired) return;
    slot.retired = true;
    this.slots.delete(slot);
    this.live--;
    void slot.worker.terminate();
  }

  private async spawn(): Promise<Slot> {
    this.live++;
    let slot: Slot | undefined;
    try {
      this.wasmModule ??= loadQuickJsWasm();
      const wasmModule = await this.wasmModule;
      const o = this.options;
      const worker = new Worker(WORKER_FILE, {
        workerData: {
          wasmModule,
          limits: {
            maxLogLines: o.maxLogLines,
            maxLogLineChars: o.maxLogLineChars,
            maxLogChars: o.maxLogChars,
            maxResultChars: o.maxResultChars,
          },
        },
        resourceLimits: {
          maxOldGenerationSizeMb: o.workerOldGenerationMb,
          maxYoungGenerationSizeMb: o.workerYoungGenerationMb,
          stackSizeMb: o.workerStackMb,
        },
      });
      slot = { worker, retired: false };
      const own = slot;
      this.slots.add(own);
      // Permanent handlers: an 'error' without a listener would crash the server, and a worker
      // that dies while idle must leave the pool.
      worker.on('error', () => undefined);
      worker.once('exit', () => {
        const at = this.idle.indexOf(own);
        if (at >= 0) this.idle.splice(at, 1);
        this.retire(own);
      });
      await new Promise<void>((resolve, reject) => {
        const onMessage = (m: { ready?: boolean }) => {
          if (!m.ready) return;
          cleanup();
          resolve();
        };
        const onError = (err: Error) => {
          cleanup();
          reject(err);
        };
        const onExit = (c: number) =>
          onError(new Error(`worker exited with code ${c} while starting`));
        const cleanup = () => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
      });
      return slot;
    } catch (err) {
      if (slot) this.retire(slot);
      else this.live--;
      throw new CodeSandboxError(
        'crashed',
        `code sandbox failed to start: ${(err as Error).message}`,
      );
    }
  }
}

/** Compiled once per process and handed to every worker (a WebAssembly.Module crosses threads). */
async function loadQuickJsWasm(): Promise<WebAssembly.Module> {
  const from = path.dirname(require.resolve('quickjs-emscripten'));
  const file = require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm', { paths: [from] });
  return WebAssembly.compile(await readFile(file));
}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MB` : `${n} bytes`;
}
