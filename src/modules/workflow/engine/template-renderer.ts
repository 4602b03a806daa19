import { WorkerPool, type WorkerOutcome } from '@app/common';
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
 * the output is bounded. The workers are a WorkerPool: idle ones kept (unref'd) for the next
 * render, one that was stopped or failed replaced on demand.
 */
export class TemplateRenderer {
  private readonly pool: WorkerPool;

  constructor(private readonly limits: TemplateLimits = TEMPLATE_LIMITS) {
    this.pool = new WorkerPool({
      maxWorkers: limits.maxWorkers,
      keepIdle: limits.maxWorkers,
      spawn: () => Promise.resolve(this.spawn()),
      abortedError: (signal) =>
        signal.reason instanceof Error ? signal.reason : new TemplateError('aborted'),
      closedError: () => new TemplateError('the template renderer is closed'),
    });
  }

  async render(
    source: string,
    vars: Record<string, unknown>,
    opts: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<string> {
    const limitMs = Math.min(this.limits.timeoutMs, opts.timeoutMs ?? Infinity);
    const worker = await this.pool.acquire(opts.signal);
    let outcome: WorkerOutcome<RenderReply>;
    try {
      outcome = await this.pool.request<RenderReply>(
        worker,
        { source, vars },
        { timeoutMs: limitMs, signal: opts.signal },
      );
    } catch (err) {
      // Values that cannot be cloned (functions): the caller's mistake, the worker is fine.
      throw new TemplateError(
        `the template's variables cannot be passed: ${(err as Error).message}`,
      );
    }
    switch (outcome.kind) {
      case 'reply':
        if (outcome.reply.ok) return outcome.reply.output ?? '';
        throw new TemplateError(outcome.reply.message ?? 'failed');
      case 'error':
        throw new TemplateError(
          outcome.error.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? `the template used more than ${this.limits.memoryMb} MB of memory`
            : `the template could not be rendered: ${outcome.error.message}`,
        );
      case 'exit':
        throw new TemplateError('the template could not be rendered');
      case 'aborted':
        throw opts.signal?.reason instanceof Error
          ? opts.signal.reason
          : new TemplateError('aborted');
      case 'timeout':
        throw new TemplateError(`the template took longer than ${limitMs} ms to render`);
    }
  }

  /** Stops every worker; renders still running end as failed. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  private spawn(): Worker {
    return new Worker(WORKER_FILE, {
      workerData: { maxOutputChars: this.limits.maxOutputChars },
      resourceLimits: {
        maxOldGenerationSizeMb: this.limits.memoryMb,
        maxYoungGenerationSizeMb: Math.min(32, this.limits.memoryMb),
        stackSizeMb: 4,
      },
    });
  }
}

interface RenderReply {
  id: number;
  ok: boolean;
  output?: string;
  message?: string;
}

/** The process's renderer (workflow executors share it). */
export const templateRenderer = new TemplateRenderer();
