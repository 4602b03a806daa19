import { Logger } from '@nestjs/common';
import { Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { JobAbortedError, QUEUE_NAMES, QueueName } from '../queue.types';
import { DriverJob, Executor, QueueDriver } from './queue-driver';

const LIVE_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/**
 * BullMQ on Redis for the scale mode. BullMQ retries (attempts + exponential backoff) and
 * recovers stalled jobs of dead workers; cancelling a running job is broadcast on a Redis
 * channel so whichever process runs it aborts it.
 */
export class BullMqDriver implements QueueDriver {
  readonly kind = 'bullmq' as const;
  private readonly logger = new Logger('BullMqQueue');
  private readonly queues = new Map<QueueName, Queue>();
  private readonly workers: Worker[] = [];
  /** BullMQ does not close connections it is handed: ours to quit on close. */
  private readonly workerConnections: Redis[] = [];
  private readonly running = new Map<string, AbortController>();
  private readonly cancelChannel: string;
  private subscriber?: Redis;

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {
    this.cancelChannel = `${prefix}:job-cancel`;
    for (const q of QUEUE_NAMES) {
      this.queues.set(q, new Queue(q, { connection, prefix: `${prefix}:bull` }));
    }
  }

  async add(job: DriverJob): Promise<void> {
    const queue = this.queue(job.queue);
    // A finished BullMQ job with the same id would swallow the add: clear it first.
    const existing = await queue.getJob(job.id);
    if (existing) {
      const state = await existing.getState();
      if (LIVE_STATES.has(state)) return;
      await existing.remove().catch(() => undefined);
    }
    await queue.add(
      'run',
      {},
      {
        jobId: job.id,
        // The row decides retries (the executor answers 'failed' with an UnrecoverableError); BullMQ
        // only needs enough attempts that shutdown interruptions, which spend none in the row,
        // never exhaust its own budget first.
        attempts: job.maxAttempts + 100,
        backoff: { type: 'exponential', delay: job.backoffMs },
        delay: job.delayMs,
        removeOnComplete: { age: 3600, count: 1000 },
        removeOnFail: { age: 24 * 3600, count: 5000 },
      },
    );
  }

  async cancel(id: string, queue: QueueName): Promise<void> {
    const job = await this.queue(queue).getJob(id);
    if (job) {
      const state = await job.getState();
      if (state !== 'active') await job.remove().catch(() => undefined);
    }
    await this.connection.publish(this.cancelChannel, id);
  }

  async isLive(id: string, queue: QueueName): Promise<boolean> {
    const job = await this.queue(queue).getJob(id);
    return !!job && LIVE_STATES.has(await job.getState());
  }

  async startWorkers(executor: Executor, concurrency: number): Promise<void> {
    this.subscriber = this.connection.duplicate();
    await this.subscriber.subscribe(this.cancelChannel);
    this.subscriber.on('message', (_channel: string, id: string) => {
      this.running.get(id)?.abort(new JobAbortedError('cancelled'));
    });
    for (const q of QUEUE_NAMES) {
      const connection = this.connection.duplicate();
      this.workerConnections.push(connection);
      const worker = new Worker(
        q,
        async (job: Job) => {
          const id = job.id!;
          const controller = new AbortController();
          this.running.set(id, controller);
          try {
            const outcome = await executor(id, job.attemptsMade + 1, controller.signal);
            if (outcome === 'retry') throw new Error('attempt failed; retrying');
            if (outcome === 'failed') throw new UnrecoverableError('job failed');
            if (outcome === 'interrupted') throw new Error('interrupted by shutdown');
          } finally {
            this.running.delete(id);
          }
        },
        {
          connection,
          prefix: `${this.prefix}:bull`,
          concurrency,
          lockDuration: 60_000,
          stalledInterval: 30_000,
        },
      );
      worker.on('error', (err) => this.logger.error(`worker ${q}: ${err.message}`));
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  async counts() {
    const out = {} as Record<QueueName, { waiting: number; active: number; delayed: number }>;
    await Promise.all(
      [...this.queues].map(async ([q, queue]) => {
        const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        out[q] = {
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
        };
      }),
    );
    return out;
  }

  async close(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const graceful = Promise.all(this.workers.map((w) => w.close())).then(() => 'done' as const);
    const timeout = new Promise<'timeout'>(
      (r) => (timer = setTimeout(() => r('timeout'), graceMs)),
    );
    if ((await Promise.race([graceful, timeout])) === 'timeout') {
      // Abort what still runs; its lock lapses and another worker picks the job up as stalled.
      for (const c of this.running.values()) c.abort(new JobAbortedError('shutdown'));
      await Promise.all(this.workers.map((w) => w.close(true)));
    }
    clearTimeout(timer);
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    if (this.subscriber) await this.subscriber.quit().catch(() => undefined);
    await Promise.all(this.workerConnections.map((c) => c.quit().catch(() => c.disconnect())));
  }

  private queue(q: QueueName): Queue {
    const queue = this.queues.get(q);
    if (!queue) throw new Error(`unknown queue ${q}`);
    return queue;
  }
}
