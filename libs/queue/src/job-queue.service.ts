import {
  FailException,
  MetricsRegistry,
  NotFoundError,
  raceAbort,
  settledWithin,
} from '@app/common';
import { AppConfig } from '@app/config';
import { isUniqueViolation } from '@app/database';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleInit,
} from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import { In, LessThan, Repository } from 'typeorm';
import { ABORT_SETTLE_MS, ExecuteOutcome, QUEUE_DRIVER } from './drivers/queue-driver';
import type { QueueDriver } from './drivers/queue-driver';
import { QueueJobEntity } from './entities/queue-job.entity';
import { JOB_PROCESSOR_KEY } from './job-processor.decorator';
import {
  ACTIVE_STATUSES,
  EnqueueOptions,
  JOB_UPDATED_EVENT,
  JobAbortedError,
  JobContext,
  JobName,
  JobPayloads,
  JobProcessor,
  JobSnapshot,
  queueOf,
  UnrecoverableJobError,
} from './queue.types';

/** Called at boot with nothing; modules re-enqueue their own interrupted work. */
export type RecoveryHook = () => Promise<void>;

const PROGRESS_WRITE_INTERVAL_MS = 500;

/**
 * The one API for background work: enqueue, cancel, inspect. Rows in `queue_jobs` carry status
 * and progress; the driver (BullMQ with Redis, inline without) only schedules attempts.
 */
@Injectable()
export class JobQueue implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('JobQueue');
  private readonly processors = new Map<JobName, JobProcessor>();
  private readonly recoveryHooks: RecoveryHook[] = [];
  private started = false;

  constructor(
    private readonly config: AppConfig,
    @InjectRepository(QueueJobEntity) private readonly jobs: Repository<QueueJobEntity>,
    private readonly discovery: DiscoveryService,
    private readonly events: EventEmitter2,
    private readonly metrics: MetricsRegistry,
    @Inject(QUEUE_DRIVER) readonly driver: QueueDriver,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const { instance, metatype } = wrapper;
      if (!instance || !metatype) continue;
      const name = Reflect.getMetadata(JOB_PROCESSOR_KEY, metatype) as JobName | undefined;
      if (name) this.register(name, instance as JobProcessor);
    }
  }

  /** Registers a processor by hand (the @Processor decorator does it for providers). */
  register<N extends JobName>(name: N, processor: JobProcessor<N>): void {
    if (this.processors.has(name)) throw new Error(`Two processors for job ${name}`);
    this.processors.set(name, processor);
  }

  registerRecoveryHook(hook: RecoveryHook): void {
    this.recoveryHooks.push(hook);
  }

  async onApplicationBootstrap(): Promise<void> {
    // Workers process; the api role of the embedded mode is its own worker.
    if (this.config.hasRole('worker') || this.driver.kind === 'inline') {
      await this.driver.startWorkers(
        (id, attempt, signal) => this.execute(id, attempt, signal),
        this.config.env.QUEUE_CONCURRENCY,
      );
      this.started = true;
    }
    if (this.config.hasRole('api')) await this.recover();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.driver.close(this.config.env.SHUTDOWN_TIMEOUT_MS);
  }

  async enqueue<N extends JobName>(
    name: N,
    payload: JobPayloads[N],
    opts: EnqueueOptions = {},
  ): Promise<JobSnapshot> {
    if (opts.key) {
      const active = await this.jobs.findOne({
        where: { key: opts.key, status: In(ACTIVE_STATUSES) },
      });
      if (active) return this.snapshot(active);
    }
    const row = this.jobs.create({
      queue: queueOf(name),
      name,
      key: opts.key ?? null,
      account_id: opts.accountId ?? null,
      payload: payload as Record<string, unknown>,
      status: 'queued',
      max_attempts: opts.attempts ?? 3,
      backoff_ms: opts.backoffMs ?? 1000,
      timeout_ms: opts.timeoutMs ?? this.config.env.JOB_TIMEOUT_MS,
    });
    try {
      await this.jobs.save(row);
    } catch (err) {
      // A concurrent enqueue with the same key won the race for the unique active-key index.
      const active =
        opts.key && isUniqueViolation(err)
          ? await this.jobs.findOne({ where: { key: opts.key, status: In(ACTIVE_STATUSES) } })
          : null;
      if (active) return this.snapshot(active);
      throw err;
    }
    try {
      await this.schedule(row, opts.delayMs);
    } catch (err) {
      // Not scheduled: the row must not claim otherwise (and must not hold its key). Should the
      // add still reach Redis later, execute() skips a row that is no longer active.
      await this.jobs.update(
        { id: row.id },
        { status: 'failed', error: errorMessage(err), finished_at: new Date() },
      );
      throw err;
    }
    this.emit(row);
    return this.snapshot(row);
  }

  /** Cancels a queued or running job; running work is aborted through its signal. */
  async cancel(id: string, accountId?: string): Promise<JobSnapshot> {
    return this.cancelRow(await this.find(id, accountId));
  }

  /**
   * Cancels the active jobs enqueued with these keys (work made pointless, e.g. indexing documents
   * just deleted), found in one query; keys with no job queued or running are skipped.
   */
  async cancelByKeys(keys: string[]): Promise<JobSnapshot[]> {
    if (!keys.length) return [];
    const rows = await this.jobs.find({ where: { key: In(keys), status: In(ACTIVE_STATUSES) } });
    const cancelled: JobSnapshot[] = [];
    for (const row of rows) cancelled.push(await this.cancelRow(row));
    return cancelled;
  }

  private async cancelRow(row: QueueJobEntity): Promise<JobSnapshot> {
    const { id } = row;
    if (!ACTIVE_STATUSES.includes(row.status)) return this.snapshot(row);
    await this.jobs.update({ id }, { cancel_requested: true });
    // Removes a waiting job, or aborts a running one wherever it runs (which then marks its row).
    await this.driver.cancel(id, row.queue);
    if (row.status === 'queued') {
      // Unless it started meanwhile, a queued job is finished here.
      const res = await this.jobs
        .createQueryBuilder()
        .update()
        .set({ status: 'cancelled', finished_at: () => 'now()' })
        .where('id = :id AND status = :s', { id, s: 'queued' })
        .execute();
      if (res.affected) return this.changed(id);
    }
    return this.snapshot(await this.find(id));
  }

  async get(id: string, accountId?: string): Promise<JobSnapshot> {
    return this.snapshot(await this.find(id, accountId));
  }

  /** Waits until the job leaves the active states (tests, CLI); polls the row. */
  async waitFor(id: string, timeoutMs = 30_000): Promise<JobSnapshot> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await this.find(id);
      if (!ACTIVE_STATUSES.includes(row.status)) return this.snapshot(row);
      if (Date.now() > deadline)
        throw new FailException(`job ${id} still ${row.status} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  counts() {
    return this.driver.counts();
  }

  get processing(): boolean {
    return this.started;
  }

  /** Deletes finished rows older than the given age; returns how many. */
  async purgeFinished(olderThan: Date): Promise<number> {
    const res = await this.jobs.delete({
      status: In(['completed', 'failed', 'cancelled']),
      updated_at: LessThan(olderThan),
    });
    return res.affected ?? 0;
  }

  /** Re-enqueues rows that say queued/running but have no live job (crash, restart). */
  async recover(): Promise<number> {
    const rows = await this.jobs.find({
      where: { status: In(ACTIVE_STATUSES) },
      order: { created_at: 'ASC' },
    });
    let count = 0;
    for (const row of rows) {
      if (await this.driver.isLive(row.id, row.queue)) continue;
      if (row.cancel_requested) {
        await this.finish(row.id, { status: 'cancelled' });
        continue;
      }
      await this.jobs.update({ id: row.id }, { status: 'queued' });
      await this.schedule(row);
      count++;
    }
    if (count) this.logger.log(`Re-enqueued ${count} interrupted job(s)`);
    for (const hook of this.recoveryHooks) await hook();
    return count;
  }

  /** One attempt of one job. Decides the row's next state and tells the driver what to do. */
  private async execute(
    id: string,
    _driverAttempt: number,
    signal: AbortSignal,
  ): Promise<ExecuteOutcome> {
    const row = await this.jobs.findOne({ where: { id } });
    if (!row || !ACTIVE_STATUSES.includes(row.status)) return 'done';
    if (row.cancel_requested) {
      await this.finish(id, { status: 'cancelled' });
      return 'done';
    }
    const processor = this.processors.get(row.name);
    if (!processor) {
      await this.finish(id, { status: 'failed', error: `No processor for job ${row.name}` });
      return 'failed';
    }
    const attempt = row.attempts + 1;
    await this.jobs.update(
      { id },
      { status: 'running', attempts: attempt, started_at: new Date(), error: null },
    );
    this.emit({ ...row, status: 'running', attempts: attempt });

    const timeout = AbortSignal.timeout(row.timeout_ms);
    const controller = new AbortController();
    const onAbort = (s: AbortSignal, fallback: JobAbortedError) => () =>
      controller.abort(s.reason instanceof JobAbortedError ? s.reason : fallback);
    signal.addEventListener('abort', onAbort(signal, new JobAbortedError('cancelled')), {
      once: true,
    });
    timeout.addEventListener('abort', onAbort(timeout, new JobAbortedError('timeout')), {
      once: true,
    });
    if (signal.aborted) controller.abort(signal.reason);

    let lastWrite = 0;
    let pending: Promise<unknown> = Promise.resolve();
    const ctx: JobContext = {
      id,
      name: row.name,
      payload: row.payload as JobPayloads[JobName],
      accountId: row.account_id,
      attempt,
      maxAttempts: row.max_attempts,
      signal: controller.signal,
      progress: async (percent, message) => {
        const p = Math.max(0, Math.min(100, Number.isFinite(percent) ? percent : 0));
        const now = Date.now();
        if (now - lastWrite < PROGRESS_WRITE_INTERVAL_MS && p < 100) return;
        lastWrite = now;
        pending = this.jobs.update({ id }, { progress: p, progress_message: message ?? null });
        await pending;
        this.emit({
          ...row,
          status: 'running',
          attempts: attempt,
          progress: p,
          progress_message: message ?? null,
        });
      },
    };
    const started = process.hrtime.bigint();
    const observe = (outcome: string) =>
      this.metrics.jobDuration.observe(
        { queue: row.queue, name: row.name, outcome },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    const work = processor.process(ctx);
    try {
      const result = await raceAbort(work, controller.signal);
      await pending;
      await this.finish(id, { status: 'completed', progress: 100, result: result ?? null });
      observe('completed');
      return 'done';
    } catch (err) {
      await pending.catch(() => undefined);
      const reason = controller.signal.aborted ? controller.signal.reason : undefined;
      const kind = reason instanceof JobAbortedError ? reason.kind : undefined;
      if (kind === 'cancelled') {
        await this.finish(id, { status: 'cancelled' });
        observe('cancelled');
        return 'done';
      }
      if (kind === 'shutdown') {
        // The processor gets a moment to leave its own rows resumable (a download hands its task
        // back) before the database closes under it.
        await settledWithin(work, ABORT_SETTLE_MS);
        // Back to queued without spending the attempt: the next boot (or worker) resumes it.
        await this.jobs.update({ id }, { status: 'queued', attempts: attempt - 1 });
        observe('interrupted');
        return 'interrupted';
      }
      const message =
        kind === 'timeout' ? `Timed out after ${row.timeout_ms} ms` : errorMessage(err);
      const retry = !(err instanceof UnrecoverableJobError) && attempt < row.max_attempts;
      if (retry) {
        await this.jobs.update({ id }, { status: 'queued', error: message });
        this.emit({ ...row, status: 'queued', attempts: attempt, error: message });
        observe('retry');
        return 'retry';
      }
      this.logger.warn(`job ${row.name} ${id} failed after ${attempt} attempt(s): ${message}`);
      await this.finish(id, { status: 'failed', error: message });
      observe('failed');
      return 'failed';
    }
  }

  /** Hands a row to the driver (enqueue, recovery). */
  private schedule(row: QueueJobEntity, delayMs?: number): Promise<void> {
    return this.driver.add({
      id: row.id,
      queue: row.queue,
      maxAttempts: row.max_attempts,
      backoffMs: row.backoff_ms,
      delayMs,
    });
  }

  private async finish(
    id: string,
    patch: Pick<Partial<QueueJobEntity>, 'status' | 'error' | 'progress'> & { result?: unknown },
  ): Promise<void> {
    const { result, ...rest } = patch;
    await this.jobs.update(
      { id },
      {
        ...rest,
        ...(result !== undefined ? { result: result as object } : {}),
        finished_at: new Date(),
      },
    );
    await this.changed(id);
  }

  private async changed(id: string): Promise<JobSnapshot> {
    const row = await this.find(id);
    this.emit(row);
    return this.snapshot(row);
  }

  private async find(id: string, accountId?: string): Promise<QueueJobEntity> {
    const row = /^[0-9a-f-]{36}$/i.test(id) ? await this.jobs.findOne({ where: { id } }) : null;
    if (!row) throw new NotFoundError('The job does not exist');
    // Another account's job is "not found", never "forbidden": do not reveal that it exists.
    if (accountId !== undefined && row.account_id !== accountId)
      throw new NotFoundError('The job does not exist');
    return row;
  }

  private emit(row: QueueJobEntity): void {
    this.events.emit(JOB_UPDATED_EVENT, this.snapshot(row));
  }

  private snapshot(row: QueueJobEntity): JobSnapshot {
    return {
      id: row.id,
      queue: row.queue,
      name: row.name,
      status: row.status,
      progress: row.progress ?? 0,
      progress_message: row.progress_message ?? null,
      attempts: row.attempts ?? 0,
      max_attempts: row.max_attempts,
      error: row.error ?? null,
      result: row.result ?? null,
      account_id: row.account_id ?? null,
    };
  }
}

function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 2000);
}
