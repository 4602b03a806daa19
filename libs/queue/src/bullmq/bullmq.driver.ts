import {
  closeRedis,
  everyFewSeconds,
  logRedisErrors,
  REDIS,
  settledWithin,
  withDeadline,
} from '@app/common';
import type { RedisClient } from '@app/common';
import { AppConfig } from '@app/config';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { BullRegistrar, WorkerHost } from '@nestjs/bullmq';
import { Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { ABORT_SETTLE_MS, DriverJob, Executor, QueueDriver } from '../drivers/queue-driver';
import { JobAbortedError, QueueName, QueueUnavailableError } from '../queue.types';
import { BULL_QUEUES, PRODUCER_TIMEOUT_MS, QUEUE_PRODUCER_REDIS } from './bullmq.tokens';
import type { BullQueues } from './bullmq.tokens';

const LIVE_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);
/** Shutdown steps after the grace (force-close workers, close queues) each get this long. */
const CLOSE_STEP_MS = 500;

/**
 * BullMQ on Redis for the scale mode, through @nestjs/bullmq: the queues are its registered
 * queues (producers), the workers its processor hosts (one per queue, worker role only), which
 * hand every job to `process()` here. BullMQ retries (attempts + exponential backoff) and
 * recovers stalled jobs of dead workers; cancelling a running job is broadcast on a Redis
 * channel so whichever process runs it aborts it. Producers (enqueue, cancel, counts: the
 * request path) use their own fail-fast connection and a deadline; only the workers' blocking
 * connections wait across outages.
 */
@Injectable()
export class BullMqDriver implements QueueDriver {
  readonly kind = 'bullmq' as const;
  private readonly logger = new Logger('BullMqQueue');
  /** Every worker reports each reconnect attempt of an outage: log a few, not all. */
  private readonly workerError = everyFewSeconds((m) => this.logger.error(m));
  private readonly hosts: WorkerHost[] = [];
  private workers: Worker[] = [];
  private readonly running = new Map<string, AbortController>();
  private readonly cancelChannel: string;
  private subscriber?: Redis;
  private executor?: Executor;

  constructor(
    @Inject(BULL_QUEUES) private readonly queues: BullQueues,
    @Inject(QUEUE_PRODUCER_REDIS) private readonly producer: Redis,
    @Inject(REDIS) private readonly connection: RedisClient,
    private readonly registrar: BullRegistrar,
    config: AppConfig,
  ) {
    this.cancelChannel = `${config.env.REDIS_PREFIX}:job-cancel`;
  }

  /** A worker host of this process (worker role) announces itself before the workers start. */
  attach(host: WorkerHost): void {
    this.hosts.push(host);
  }

  add(job: DriverJob): Promise<void> {
    return this.bounded(this.addNow(job));
  }

  cancel(id: string, queue: QueueName): Promise<void> {
    return this.bounded(this.cancelNow(id, queue));
  }

  isLive(id: string, queue: QueueName): Promise<boolean> {
    return this.bounded(this.isLiveNow(id, queue));
  }

  counts() {
    return this.bounded(this.countsNow());
  }

  /** A producer call that cannot reach Redis fails clearly instead of hanging the request. */
  private bounded<T>(work: Promise<T>): Promise<T> {
    return withDeadline(
      work.catch((err: unknown) => {
        throw new QueueUnavailableError(err instanceof Error ? err.message : String(err));
      }),
      PRODUCER_TIMEOUT_MS,
      () => new QueueUnavailableError(`no answer within ${PRODUCER_TIMEOUT_MS} ms`),
    );
  }

  private async addNow(job: DriverJob): Promise<void> {
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

  private async cancelNow(id: string, queue: QueueName): Promise<void> {
    const job = await this.queue(queue).getJob(id);
    if (job) {
      const state = await job.getState();
      if (state !== 'active') await job.remove().catch(() => undefined);
    }
    await this.producer.publish(this.cancelChannel, id);
  }

  private async isLiveNow(id: string, queue: QueueName): Promise<boolean> {
    const job = await this.queue(queue).getJob(id);
    return !!job && LIVE_STATES.has(await job.getState());
  }

  /**
   * Creates the workers of this process's hosts (registration is manual, so that no job is
   * fetched before every job processor is registered) and waits until they are connected. Their
   * concurrency is the hosts' (QUEUE_CONCURRENCY).
   */
  async startWorkers(executor: Executor): Promise<void> {
    this.executor = executor;
    if (!this.connection) throw new Error('BullMQ driver without Redis');
    this.subscriber = logRedisErrors(this.connection.duplicate(), 'job-cancel subscriber');
    await this.subscriber.subscribe(this.cancelChannel);
    this.subscriber.on('message', (_channel: string, id: string) => {
      this.running.get(id)?.abort(new JobAbortedError('cancelled'));
    });
    this.registrar.register();
    this.workers = this.hosts.map((h) => h.worker);
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  /** One attempt of one job, for the worker host of its queue: the JobQueue's execution path. */
  async process(job: Job): Promise<void> {
    const executor = this.executor;
    if (!executor) throw new Error('workers not started');
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
  }

  /** Worker errors (Redis outages mostly), logged at most every few seconds. */
  onWorkerError(queue: string, err: Error): void {
    this.workerError(`worker ${queue}: ${err.message}`);
  }

  private async countsNow() {
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

  /**
   * Bounded whatever Redis does: running jobs get `graceMs`, then they are aborted (their rows go
   * back to queued) and every remaining step gets a short deadline before sockets are dropped.
   * Runs before @nestjs/bullmq's own shutdown hooks, whose close() calls then find it done.
   */
  async close(graceMs: number): Promise<void> {
    // close() stops fetching at once; it may never resolve while Redis is unreachable, so the
    // grace ends as soon as no job runs here any more.
    const graceful = Promise.all(this.workers.map((w) => w.close()));
    const idle = this.untilIdle();
    const inTime = await settledWithin(Promise.race([graceful, idle.done]), graceMs);
    idle.stop();
    if (!inTime || this.running.size) {
      const ids = [...this.running.keys()];
      if (ids.length)
        this.logger.warn(`Shutdown: interrupting ${ids.length} job(s): ${ids.join(', ')}`);
      // Abort what still runs; its lock lapses and another worker picks the job up as stalled.
      for (const c of this.running.values()) c.abort(new JobAbortedError('shutdown'));
      // Their rows go back to queued (and their processors settle) before the database closes.
      const settle = this.untilIdle();
      await settledWithin(settle.done, ABORT_SETTLE_MS + CLOSE_STEP_MS);
      settle.stop();
    }
    await settledWithin(Promise.all(this.workers.map((w) => w.close(true))), CLOSE_STEP_MS);
    await settledWithin(
      Promise.all([...this.queues.values()].map((q) => q.close())),
      CLOSE_STEP_MS,
    );
    // The workers' connections are BullMQ's own (created from options): should their QUIT hang
    // on an unreachable Redis, drop the sockets so that nothing reconnects after shutdown.
    await settledWithin(Promise.all(this.workers.map((w) => w.disconnect())), CLOSE_STEP_MS);
    await Promise.all([this.subscriber, this.producer].map((c) => closeRedis(c)));
  }

  /** Resolves when no job runs in this process (polled: jobs end through many paths). */
  private untilIdle(): { done: Promise<void>; stop: () => void } {
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve) => {
      const check = () => {
        if (this.running.size === 0) resolve();
        else timer = setTimeout(check, 50);
      };
      check();
    });
    return { done, stop: () => clearTimeout(timer) };
  }

  private queue(q: QueueName): Queue {
    const queue = this.queues.get(q);
    if (!queue) throw new Error(`unknown queue ${q}`);
    return queue;
  }
}
