import type { QueueName } from '../queue.types';

export interface DriverJob {
  id: string;
  queue: QueueName;
  maxAttempts: number;
  backoffMs: number;
  delayMs?: number;
}

/**
 * How long a job aborted by shutdown may take to settle (a download hands its task back) before
 * its process closes the database under it; part of SHUTDOWN_MARGIN_MS.
 */
export const ABORT_SETTLE_MS = 1000;

export type ExecuteOutcome = 'done' | 'retry' | 'failed' | 'interrupted';

/** Runs one attempt of a job; the JobQueue owns rows and processors, the driver only schedules. */
export type Executor = (
  id: string,
  attempt: number,
  signal: AbortSignal,
) => Promise<ExecuteOutcome>;

export interface QueueDriver {
  readonly kind: 'inline' | 'bullmq';
  add(job: DriverJob): Promise<void>;
  /** Removes a waiting job, or aborts a running one (in any process). */
  cancel(id: string, queue: QueueName): Promise<void>;
  /** True when the job is waiting, delayed or running somewhere. */
  isLive(id: string, queue: QueueName): Promise<boolean>;
  /** Starts processing (worker role). */
  startWorkers(executor: Executor, concurrency: number): Promise<void>;
  counts(): Promise<Record<QueueName, { waiting: number; active: number; delayed: number }>>;
  /** Stops taking jobs, waits up to `graceMs` for running ones, then interrupts them. */
  close(graceMs: number): Promise<void>;
}

export function retryDelay(backoffMs: number, attempt: number): number {
  const base = backoffMs * 2 ** Math.max(0, attempt - 1);
  return Math.min(base + Math.floor(Math.random() * backoffMs * 0.2), 10 * 60_000);
}

/** The QueueDriver of this process: inline (embedded mode) or BullMQ (scale mode). */
export const QUEUE_DRIVER = Symbol('QUEUE_DRIVER');
