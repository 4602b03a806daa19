import { JobQueue } from '@app/queue';
import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';

/** Schedules maintenance jobs (api role only). Keys make a tick idempotent across replicas. */
@Injectable()
export class MaintenanceScheduler {
  private readonly logger = new Logger('Maintenance');

  constructor(private readonly jobs: JobQueue) {}

  @Cron(CronExpression.EVERY_DAY_AT_3AM, { name: 'purge-jobs' })
  async purgeJobs(): Promise<void> {
    const day = new Date().toISOString().slice(0, 10);
    const job = await this.jobs.enqueue(
      'maintenance.purge-jobs',
      { older_than_days: 30 },
      { key: `purge-jobs:${day}` },
    );
    this.logger.log(`purge-jobs scheduled (${job.id})`);
  }

  /** Partial download files no resumable task needs, untouched for a day. */
  @Cron(CronExpression.EVERY_DAY_AT_4AM, { name: 'clean-partial-downloads' })
  async cleanPartialDownloads(): Promise<void> {
    const day = new Date().toISOString().slice(0, 10);
    const job = await this.jobs.enqueue(
      'download.clean-partials',
      { older_than_hours: 24 },
      { key: `clean-partials:${day}` },
    );
    this.logger.log(`clean-partial-downloads scheduled (${job.id})`);
  }

  /** Document uploads never added to a dataset (or left by a deleted document), a day old. */
  @Cron(CronExpression.EVERY_DAY_AT_5AM, { name: 'clean-uploads' })
  async cleanUploads(): Promise<void> {
    const day = new Date().toISOString().slice(0, 10);
    const job = await this.jobs.enqueue(
      'dataset.clean-uploads',
      { older_than_hours: 24 },
      { key: `clean-uploads:${day}` },
    );
    this.logger.log(`clean-uploads scheduled (${job.id})`);
  }
}
