import { cappedBackoff } from '@app/common';
import type { AppConfig } from '@app/config';
import { Injectable, OnModuleInit, Type } from '@nestjs/common';
import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { QUEUE_NAMES, QueueName } from '../queue.types';
import { BullMqDriver } from './bullmq.driver';

/**
 * The @nestjs/bullmq worker of one queue: every job goes to the driver, which runs it through
 * the JobQueue (row status, progress, cancel, timeout, retries) and the job's processor (@app/queue's @Processor), as
 * the inline driver does.
 */
@Injectable()
export abstract class QueueWorkerHost extends WorkerHost implements OnModuleInit {
  constructor(private readonly driver: BullMqDriver) {
    super();
  }

  onModuleInit(): void {
    this.driver.attach(this);
  }

  process(job: Job): Promise<void> {
    return this.driver.process(job);
  }

  @OnWorkerEvent('error')
  onError(err: Error): void {
    this.driver.onWorkerError(this.worker.name, err);
  }
}

/**
 * One host class per queue, built at module build time: @Processor takes the queue name and the
 * worker options (concurrency, connection) as decorator arguments, which come from the config.
 */
export function queueWorkerHosts(config: AppConfig): Type<QueueWorkerHost>[] {
  const url = config.env.REDIS_URL;
  if (!url) return [];
  return QUEUE_NAMES.map((queue) => queueWorkerHost(queue, url, config.env.QUEUE_CONCURRENCY));
}

function queueWorkerHost(queue: QueueName, url: string, concurrency: number) {
  @Processor(queue, {
    concurrency,
    // The workers' own connections, created by BullMQ (and closed by it): blocking commands
    // must not time out (maxRetriesPerRequest null) and outages are waited out, reconnecting
    // with a capped backoff, so workers resume without a restart.
    connection: {
      url,
      maxRetriesPerRequest: null,
      enableReadyCheck: true,
      connectTimeout: 10_000,
      retryStrategy: cappedBackoff,
    },
    lockDuration: 60_000,
    stalledInterval: 30_000,
  })
  class Host extends QueueWorkerHost {}
  Object.defineProperty(Host, 'name', {
    value: `${queue[0].toUpperCase()}${queue.slice(1)}QueueWorker`,
  });
  return Host;
}
