import { AppConfig } from '@app/config';
import { DynamicModule, Provider } from '@nestjs/common';
import { BullModule, getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUE_DRIVER } from '../drivers/queue-driver';
import { JobQueue } from '../job-queue.service';
import { QUEUE_NAMES } from '../queue.types';
import { BullMqDriver } from './bullmq.driver';
import { BULL_QUEUES, bullPrefix, QUEUE_PRODUCER_REDIS } from './bullmq.tokens';
import { QueueProducerRedisModule } from './queue-producer-redis.module';
import { queueWorkerHosts } from './queue-worker.host';

/**
 * QueueModule's scale-mode half: BullMQ through @nestjs/bullmq, on the shared connection and
 * prefix, one registered queue per queue name, and (worker role only) one worker host per queue.
 * In a file of its own so that the embedded mode never loads BullMQ.
 */
export function bullmqQueueParts(config: AppConfig): {
  imports: Array<DynamicModule | typeof QueueProducerRedisModule>;
  providers: Provider[];
} {
  const providers: Provider[] = [
    JobQueue,
    BullMqDriver,
    { provide: QUEUE_DRIVER, useExisting: BullMqDriver },
    {
      provide: BULL_QUEUES,
      inject: QUEUE_NAMES.map((q) => getQueueToken(q)),
      useFactory: (...queues: Queue[]) => {
        // Connection errors are logged once by the connection's own listener.
        for (const q of queues) q.on('error', () => undefined);
        return new Map(QUEUE_NAMES.map((q, i) => [q, queues[i]]));
      },
    },
    ...(config.hasRole('worker') ? queueWorkerHosts(config) : []),
  ];
  return {
    imports: [
      QueueProducerRedisModule,
      BullModule.forRootAsync({
        imports: [QueueProducerRedisModule],
        inject: [AppConfig, QUEUE_PRODUCER_REDIS],
        useFactory: (cfg: AppConfig, producer: Redis) => ({
          connection: producer,
          prefix: bullPrefix(cfg.env.REDIS_PREFIX),
        }),
        // Workers start from the JobQueue once every job processor is registered.
        extraOptions: { manualRegistration: true },
      }),
      BullModule.registerQueue(...QUEUE_NAMES.map((name) => ({ name }))),
    ],
    providers,
  };
}
