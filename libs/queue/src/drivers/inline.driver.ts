import { Logger } from '@nestjs/common';
import { JobAbortedError, QUEUE_NAMES, QueueName } from '../queue.types';
import { DriverJob, Executor, QueueDriver, retryDelay } from './queue-driver';

interface Lane {
  waiting: DriverJob[];
  running: Map<string, { controller: AbortController; done: Promise<void> }>;
  delayed: Map<string, { job: DriverJob; timer: NodeJS.Timeout }>;
}

/**
 * In-process jobs for the embedded mode: the same processors as BullMQ, a FIFO per queue with
 * bounded concurrency, retries with exponential backoff, cancel through AbortSignal.
 */
export class InlineDriver implements QueueDriver {
  readonly kind = 'inline' as const;
  private readonly logger = new Logger('InlineQueue');
  private readonly lanes = new Map<QueueName, Lane>(
    QUEUE_NAMES.map((q) => [q, { waiting: [], running: new Map(), delayed: new Map() }]),
  );
  private executor?: Executor;
  private concurrency = 1;
  private closing = false;
  /** Attempt counter per job id (the row keeps the durable count). */
  private readonly attempts = new Map<string, number>();

  async add(job: DriverJob): Promise<void> {
    if (this.closing) return;
    const lane = this.lane(job.queue);
    if (
      lane.running.has(job.id) ||
      lane.delayed.has(job.id) ||
      lane.waiting.some((j) => j.id === job.id)
    )
      return;
    if (job.delayMs && job.delayMs > 0) this.delay(job, job.delayMs);
    else lane.waiting.push(job);
    this.pump(job.queue);
  }

  async cancel(id: string, queue: QueueName): Promise<void> {
    const lane = this.lane(queue);
    lane.waiting = lane.waiting.filter((j) => j.id !== id);
    const delayed = lane.delayed.get(id);
    if (delayed) {
      clearTimeout(delayed.timer);
      lane.delayed.delete(id);
    }
    lane.running.get(id)?.controller.abort(new JobAbortedError('cancelled'));
  }

  async isLive(id: string, queue: QueueName): Promise<boolean> {
    const lane = this.lane(queue);
    return lane.running.has(id) || lane.delayed.has(id) || lane.waiting.some((j) => j.id === id);
  }

  async startWorkers(executor: Executor, concurrency: number): Promise<void> {
    this.executor = executor;
    this.concurrency = concurrency;
    for (const q of QUEUE_NAMES) this.pump(q);
  }

  async counts() {
    const out = {} as Record<QueueName, { waiting: number; active: number; delayed: number }>;
    for (const [q, lane] of this.lanes) {
      out[q] = {
        waiting: lane.waiting.length,
        active: lane.running.size,
        delayed: lane.delayed.size,
      };
    }
    return out;
  }

  async close(graceMs: number): Promise<void> {
    this.closing = true;
    const running: Promise<void>[] = [];
    for (const lane of this.lanes.values()) {
      lane.waiting = [];
      for (const d of lane.delayed.values()) clearTimeout(d.timer);
      lane.delayed.clear();
      for (const r of lane.running.values()) running.push(r.done);
    }
    if (!running.length) return;
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.allSettled(running).then(() => 'done' as const);
    const timeout = new Promise<'timeout'>(
      (r) => (timer = setTimeout(() => r('timeout'), graceMs)),
    );
    if ((await Promise.race([all, timeout])) === 'timeout') {
      // Interrupted jobs stay `queued` in their rows and are re-enqueued at the next boot.
      for (const lane of this.lanes.values()) {
        for (const r of lane.running.values()) r.controller.abort(new JobAbortedError('shutdown'));
      }
      await all;
    }
    clearTimeout(timer);
  }

  private lane(q: QueueName): Lane {
    const lane = this.lanes.get(q);
    if (!lane) throw new Error(`unknown queue ${q}`);
    return lane;
  }

  private delay(job: DriverJob, ms: number): void {
    const lane = this.lane(job.queue);
    const timer = setTimeout(() => {
      lane.delayed.delete(job.id);
      lane.waiting.push(job);
      this.pump(job.queue);
    }, ms);
    lane.delayed.set(job.id, { job, timer });
  }

  private pump(queue: QueueName): void {
    const executor = this.executor;
    if (!executor || this.closing) return;
    const lane = this.lane(queue);
    while (lane.running.size < this.concurrency && lane.waiting.length) {
      const job = lane.waiting.shift()!;
      const controller = new AbortController();
      const attempt = (this.attempts.get(job.id) ?? 0) + 1;
      this.attempts.set(job.id, attempt);
      const done = executor(job.id, attempt, controller.signal)
        .catch((err: unknown) => {
          this.logger.error(`job ${job.id} executor crashed: ${String(err)}`);
          return 'failed' as const;
        })
        .then((outcome) => {
          lane.running.delete(job.id);
          if (outcome === 'retry' && !this.closing)
            this.delay(job, retryDelay(job.backoffMs, attempt));
          else this.attempts.delete(job.id);
          this.pump(queue);
        });
      lane.running.set(job.id, { controller, done });
    }
  }
}
