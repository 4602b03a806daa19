import { JobQueue, type JobName, type JobPayloads } from '@app/queue';
import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';

/** Schedules maintenance jobs (api role only). Keys make a tick idempotent across replicas. */
@Injectable()
export class MaintenanceScheduler {
  private readonly logger = new Logger('Maintenance');

  constructor(private readonly jobs: JobQueue) {}

  @Cron(CronExpression.EVERY_DAY_AT_3AM, { name: 'purge-jobs' })
  purgeJobs(): Promise<void> {
    return this.daily('purge-jobs', 'maintenance.purge-jobs', { older_than_days: 30 });
  }

  /** Partial download files no resumable task needs, untouched for a day. */
  @Cron(CronExpression.EVERY_DAY_AT_4AM, { name: 'clean-partial-downloads' })
  cleanPartialDownloads(): Promise<void> {
    return this.daily('clean-partials', 'download.clean-partials', { older_than_hours: 24 });
  }

  /** Document uploads never added to a dataset (or left by a deleted document), a day old. */
  @Cron(CronExpression.EVERY_DAY_AT_5AM, { name: 'clean-uploads' })
  cleanUploads(): Promise<void> {
    return this.daily('clean-uploads', 'dataset.clean-uploads', { older_than_hours: 24 });
  }

  /** Enqueues today's run of a job once, however many replicas tick (the key holds the day). */
  private async daily<N extends JobName>(
    label: string,
    name: N,
    payload: JobPayloads[N],
  ): Promise<void> {
    const day = new Date().toISOString().slice(0, 10);
    const job = await this.jobs.enqueue(name, payload, { key: `${label}:${day}` });
    this.logger.log(`${label} scheduled (${job.id})`);
  }
}
