import { Inject, Injectable, OnApplicationShutdown, Optional } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { WorkerPool } from '@app/common';

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
export class CodeSandbox implements OnApplicationShutdown {
  private readonly options: CodeSandboxOptions;
  private wasmModule?: Promise<WebAssembly.Module>;
  private readonly pool: WorkerPool;

  constructor(@Optional() @Inject(CODE_SANDBOX_OPTIONS) options?: Partial<CodeSandboxOptions>) {
    this.options = { ...DEFAULTS, ...options };
    this.pool = new WorkerPool({
      maxWorkers: this.options.maxWorkers,
      keepIdle: this.options.warmWorkers,
      spawn: () => this.spawn(),
      abortedError: () => new CodeSandboxError('aborted', 'code run was aborted'),
      closedError: () => new CodeSandboxError('aborted', 'code sandbox is shutting down'),
    });
  }

  async run(
    code: string,
    params: Record<string, unknown>,
    opts: SandboxRunOptions,
  ): Promise<SandboxRunResult> {
    const started = performance.now();
    const paramsJson = this.checkInput(code, params, opts);
    const worker = await this.pool.acquire(opts.signal);
    // Aborted while a worker was starting: the worker is fine, the run is not wanted.
    if (opts.signal?.aborted) {
      this.pool.release(worker);
      throw new CodeSandboxError('aborted', 'code run was aborted');
    }
    const reply = await this.execute(worker, code, paramsJson, opts);
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
    await this.pool.warmUp();
  }

  /**
   * Stops every worker, busy ones too (their runs end as aborted). Not at module destroy: the job
   * queue aborts running jobs after that (beforeApplicationShutdown), and a workflow run aborted
   * that way stores nothing and resumes later; a worker stopped under it first failed its node,
   * and the run was stored as failed.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.pool.close();
  }

  /** Workers alive now (idle and busy); for tests and metrics. */
  get workerCount(): number {
    return this.pool.size;
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

  private async execute(
    worker: Worker,
    code: string,
    params: string,
    opts: SandboxRunOptions,
  ): Promise<Omit<WorkerReply, 'id'>> {
    // The pool gives the worker back: kept after a reply unless its error kind leaves the worker
    // unfit (DISCARD), discarded after anything else.
    const outcome = await this.pool.request<WorkerReply>(
      worker,
      { code, params, timeoutMs: opts.timeoutMs, memoryBytes: opts.memoryBytes },
      {
        // After timeoutMs the worker's own interrupt should answer; killGraceMs later it is killed.
        timeoutMs: opts.timeoutMs + this.options.killGraceMs,
        signal: opts.signal,
        discardAfter: (reply) => !reply.ok && DISCARD.has(reply.kind ?? 'crashed'),
      },
    );
    const failed = (kind: SandboxErrorKind, message = ''): Omit<WorkerReply, 'id'> => ({
      ok: false,
      kind,
      message,
      logs: [],
    });
    // A worker terminated by shutdown (even one still starting up) ends its run as aborted.
    const closing = this.pool.closed;
    switch (outcome.kind) {
      case 'reply': {
        const reply = outcome.reply;
        if (reply.ok && (reply.result?.length ?? 0) > this.options.maxResultChars) {
          return {
            ...reply,
            ok: false,
            kind: 'result',
            message: `the result is larger than ${this.options.maxResultChars} characters of JSON`,
          };
        }
        return reply;
      }
      case 'error':
        // ERR_WORKER_OUT_OF_MEMORY: the worker's V8 heap limit (host-side copies were too big).
        if (closing) return failed('aborted', 'code sandbox is shutting down');
        return failed(
          outcome.error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crashed',
          outcome.error.message,
        );
      case 'exit':
        return closing
          ? failed('aborted')
          : failed('crashed', `worker exited with code ${outcome.code}`);
      case 'aborted':
        return failed('aborted');
      case 'timeout':
        return failed('timeout');
    }
  }

  /** A worker with the QuickJS module loaded, once it says it is ready. */
  private async spawn(): Promise<Worker> {
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
      await new Promise<void>((resolve, reject) => {
        const onMessage = (m: { ready?: boolean }) => {
          if (!m.ready) return;
          cleanup();
          resolve();
        };
        const onError = (err: Error) => {
          cleanup();
          void worker.terminate();
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
      return worker;
    } catch (err) {
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
