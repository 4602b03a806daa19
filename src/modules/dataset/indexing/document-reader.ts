import { WorkerPool } from '@app/common';
import { Inject, Injectable, Optional, type OnApplicationShutdown } from '@nestjs/common';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DocumentParseError, type ParseInput, type ProcessRule } from './pipeline.types';

const WORKER_FILE = path.join(__dirname, 'read.worker.js');
/** Under ts-node or ts-jest this file is TypeScript, and so are the parsers the worker loads. */
const TYPESCRIPT_ROOT = __filename.endsWith('.ts')
  ? path.resolve(__dirname, '..', '..', '..', '..')
  : null;

export interface ReaderLimits {
  /** Longest one document may take to parse and clean. */
  timeoutMs: number;
  /** Heap of a reader thread: a document that needs more is refused, the server lives on. */
  memoryMb: number;
  /** Documents read at once (each on its own thread); more wait in line. */
  maxWorkers: number;
}

/** Injection token for other limits than READER_LIMITS (tests). */
export const READER_LIMITS_TOKEN = Symbol('READER_LIMITS');

export const READER_LIMITS: ReaderLimits = {
  timeoutMs: 10 * 60_000,
  memoryMb: 1536,
  maxWorkers: 2,
};

interface ReadReply {
  id: number;
  ok: boolean;
  text?: string;
  unreadable?: boolean;
  message?: string;
}

/**
 * Parses and cleans uploaded documents on worker threads. A 15 MB PDF, Word file or workbook
 * takes seconds of CPU: on the main thread that held every request of a process running the API
 * and the indexing worker together (the default, and always so in embedded mode). A reader that
 * outlives its time limit or its heap is stopped, and the document ends in `error` with a reason.
 * Idle threads are kept (unref'd) for the next document.
 */
@Injectable()
export class DocumentReader implements OnApplicationShutdown {
  private readonly pool: WorkerPool;
  private readonly limits: ReaderLimits;

  constructor(@Optional() @Inject(READER_LIMITS_TOKEN) limits?: Partial<ReaderLimits>) {
    this.limits = { ...READER_LIMITS, ...limits };
    const { maxWorkers } = this.limits;
    this.pool = new WorkerPool({
      maxWorkers,
      keepIdle: 1,
      spawn: () => Promise.resolve(this.spawn()),
      abortedError: (signal) => abortReason(signal),
      closedError: () => new Error('The document reader is closed'),
    });
  }

  /**
   * The document's text, cleaned by `rule`'s pre-processing. Throws DocumentParseError with a
   * message for the user when it cannot be read; the signal's reason when aborted.
   */
  async read(
    input: ParseInput,
    rule: ProcessRule,
    opts: { signal?: AbortSignal; maxChars?: number } = {},
  ): Promise<string> {
    const worker = await this.pool.acquire(opts.signal);
    const outcome = await this.pool.request<ReadReply>(
      worker,
      {
        bytes: input.bytes,
        extension: input.extension,
        name: input.name,
        rule,
        options: { maxChars: opts.maxChars },
      },
      { timeoutMs: this.limits.timeoutMs, signal: opts.signal },
    );
    switch (outcome.kind) {
      case 'reply':
        if (outcome.reply.ok) return outcome.reply.text ?? '';
        if (outcome.reply.unreadable) throw new DocumentParseError(outcome.reply.message ?? '');
        throw new Error(outcome.reply.message ?? 'The document could not be read');
      case 'error':
        if (outcome.error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          throw new DocumentParseError(
            `"${input.name}" needs more than ${this.limits.memoryMb} MB of memory to read; split it into smaller files`,
          );
        }
        throw new Error(`The document reader failed: ${outcome.error.message}`);
      case 'exit':
        throw new Error('The document reader stopped');
      case 'aborted':
        throw abortReason(opts.signal);
      case 'timeout':
        throw new DocumentParseError(
          `"${input.name}" took longer than ${duration(this.limits.timeoutMs)} to read; split it into smaller files`,
        );
    }
  }

  /**
   * Stops every reader thread. Not at module destroy: the job queue aborts running jobs after
   * that (beforeApplicationShutdown), and a read aborted that way leaves its job to resume, where
   * a thread terminated under it would have counted as a failed attempt.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.pool.close();
  }

  private spawn(): Worker {
    return new Worker(WORKER_FILE, {
      workerData: { typescriptRoot: TYPESCRIPT_ROOT },
      resourceLimits: {
        maxOldGenerationSizeMb: this.limits.memoryMb,
        maxYoungGenerationSizeMb: 64,
      },
    });
  }
}

function abortReason(signal?: AbortSignal): Error {
  return signal?.reason instanceof Error ? signal.reason : new Error('aborted');
}

function duration(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} minutes` : `${Math.ceil(ms / 1000)} s`;
}
