import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

const WORKER_FILE = path.join(__dirname, 'template.worker.js');

export interface TemplateLimits {
  /** Longest a render may take (the node's timeout caps it further). */
  timeoutMs: number;
  /**
   * Old-generation heap of one rendering worker, MB. Generous on purpose: V8 aborts the whole
   * process, not just the worker, when one allocation (a long string made flat) overshoots a
   * small limit; gradual growth past it ends only the worker.
   */
  memoryMb: number;
  /** Longest output, characters. */
  maxOutputChars: number;
  /** Workers rendering at once; more renders wait. */
  maxWorkers: number;
}

export const TEMPLATE_LIMITS: TemplateLimits = {
  timeoutMs: 10_000,
  memoryMb: 1024,
  maxOutputChars: 4_000_000,
  maxWorkers: 2,
};

/** A template that failed: its own error (syntax, undefined filter) or a limit it hit. */
export class TemplateError extends Error {}

/**
 * Renders Jinja templates (template_transform nodes, LLM prompts) on worker threads. A template
 * is user input with loops and string operations: on the main thread `range(100000)` twice nested
 * blocked every request for minutes, and doubling a string 25 times took about a gigabyte. Here a
 * render that outlives its time limit has its worker terminated, a worker's heap is capped and
 * the output is bounded. Idle workers are kept (unref'd) for
 * the next render; a worker that was stopped or failed is replaced on demand.
 */
export class TemplateRenderer {
  private readonly idle: Worker[] = [];
  private live = 0;
  private seq = 0;
  /** Renders waiting for a worker: called to try again when one frees up. */
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly limits: TemplateLimits = TEMPLATE_LIMITS) {}

  async render(
    source: string,
    vars: Record<string, unknown>,
    opts: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<string> {
    const limitMs = Math.min(this.limits.timeoutMs, opts.timeoutMs ?? Infinity);
    const worker = await this.acquire(opts.signal);
    return new Promise<string>((resolve, reject) => {
      const id = ++this.seq;
      let settled = false;
      const finish = (discard: boolean, outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        opts.signal?.removeEventListener('abort', onAbort);
        if (discard) this.discard(worker);
        else this.release(worker);
        outcome();
      };
      const fail = (message: string) => () => reject(new TemplateError(message));
      const onMessage = (m: { id: number; ok: boolean; output?: string; message?: string }) => {
        if (m.id !== id) return;
        finish(false, m.ok ? () => resolve(m.output ?? '') : fail(m.message ?? 'failed'));
      };
      const onError = (err: Error & { code?: string }) =>
        finish(
          true,
          fail(
            err.code === 'ERR_WORKER_OUT_OF_MEMORY'
              ? `the template used more than ${this.limits.memoryMb} MB of memory`
              : `the template could not be rendered: ${err.message}`,
          ),
        );
      const onExit = () => finish(true, fail('the template could not be rendered'));
      const onAbort = () =>
        finish(true, () =>
          reject(
            opts.signal?.reason instanceof Error
              ? opts.signal.reason
              : new TemplateError('aborted'),
          ),
        );
      const timer = setTimeout(
        () => finish(true, fail(`the template took longer than ${limitMs} ms to render`)),
        limitMs,
      );
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        worker.postMessage({ id, source, vars });
      } catch (err) {
        // Values that cannot be cloned (functions): the caller's mistake, the worker is fine.
        finish(false, fail(`the template's variables cannot be passed: ${(err as Error).message}`));
      }
    });
  }

  /** Stops every worker (idle ones; busy ones end with their render). */
  async close(): Promise<void> {
    const idle = this.idle.splice(0);
    this.live -= idle.length;
    await Promise.all(idle.map((w) => w.terminate()));
  }

  private async acquire(signal?: AbortSignal): Promise<Worker> {
    for (;;) {
      signal?.throwIfAborted();
      const idle = this.idle.pop();
      if (idle) {
        idle.ref();
        return idle;
      }
      if (this.live < this.limits.maxWorkers) return this.spawn();
      // Woken to try again (a worker went idle or away); never handed one, so none is lost.
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const at = this.waiters.indexOf(wake);
          if (at >= 0) this.waiters.splice(at, 1);
          reject(signal?.reason instanceof Error ? signal.reason : new TemplateError('aborted'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(wake);
      });
    }
  }

  private spawn(): Worker {
    this.live += 1;
    const worker = new Worker(WORKER_FILE, {
      workerData: { maxOutputChars: this.limits.maxOutputChars },
      resourceLimits: {
        maxOldGenerationSizeMb: this.limits.memoryMb,
        maxYoungGenerationSizeMb: Math.min(32, this.limits.memoryMb),
        stackSizeMb: 4,
      },
    });
    // Until it is put to work: a late error must not crash the process.
    worker.on('error', () => undefined);
    return worker;
  }

  private release(worker: Worker): void {
    // An idle worker must not keep the process alive.
    worker.unref();
    this.idle.push(worker);
    this.waiters.shift()?.();
  }

  private discard(worker: Worker): void {
    this.live -= 1;
    void worker.terminate().catch(() => undefined);
    this.waiters.shift()?.();
  }
}

/** The process's renderer (workflow executors share it). */
export const templateRenderer = new TemplateRenderer();
