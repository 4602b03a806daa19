import { JobContext, JobProcessor, JobQueue, Processor, UnrecoverableJobError } from '@app/queue';
import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Exercises the whole job pipeline (progress, retries, cancel, recovery) without side effects:
 * used by the queue tests and by operators checking a deployment's workers.
 */
@Injectable()
@Processor('maintenance.selftest')
export class SelfTestProcessor implements JobProcessor<'maintenance.selftest'> {
  async process(
    ctx: JobContext<'maintenance.selftest'>,
  ): Promise<{ steps: number; attempt: number }> {
    const { steps, step_ms, fail_attempts = 0 } = ctx.payload;
    if (!Number.isInteger(steps) || steps < 0 || steps > 10_000)
      throw new UnrecoverableJobError('steps must be 0..10000');
    if (ctx.attempt <= fail_attempts) throw new Error(`planned failure on attempt ${ctx.attempt}`);
    for (let i = 1; i <= steps; i++) {
      await sleep(step_ms, undefined, { signal: ctx.signal });
      await ctx.progress((i / steps) * 100, `step ${i}/${steps}`);
    }
    return { steps, attempt: ctx.attempt };
  }
}

/** Deletes finished job rows past their retention. */
@Injectable()
@Processor('maintenance.purge-jobs')
export class PurgeJobsProcessor implements JobProcessor<'maintenance.purge-jobs'> {
  constructor(private readonly jobs: JobQueue) {}

  async process(ctx: JobContext<'maintenance.purge-jobs'>): Promise<{ deleted: number }> {
    const days = ctx.payload.older_than_days;
    if (!(days >= 1)) throw new UnrecoverableJobError('older_than_days must be at least 1');
    const deleted = await this.jobs.purgeFinished(new Date(Date.now() - days * 86_400_000));
    await ctx.progress(100);
    return { deleted };
  }
}
