import { AppConfig } from '@app/config';
import { DynamicModule, Module, Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { BullModule, getQueueToken } from '@nestjs/bullmq';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { BullMqDriver } from './bullmq/bullmq.driver';
import { BULL_QUEUES, bullPrefix, QUEUE_PRODUCER_REDIS } from './bullmq/bullmq.tokens';
import { QueueProducerRedisModule } from './bullmq/queue-producer-redis.module';
import { queueWorkerHosts } from './bullmq/queue-worker.host';
import { InlineDriver } from './drivers/inline.driver';
import { QUEUE_DRIVER } from './drivers/queue-driver';
import { QueueJobEntity } from './entities/queue-job.entity';
import { JobQueue } from './job-queue.service';
import { QUEUE_NAMES } from './queue.types';

/**
 * The JobQueue and its driver. Embedded mode (no REDIS_URL): the inline driver, no Redis. Scale
 * mode: BullMQ through @nestjs/bullmq, on the shared connection and prefix, one registered
 * queue per queue name, and (worker role only) one worker host per queue.
 */
@Module({})
export class QueueModule {
  static forRoot(config: AppConfig): DynamicModule {
    const common = {
      module: QueueModule,
      global: true,
      exports: [JobQueue],
    };
    const imports = [DiscoveryModule, TypeOrmModule.forFeature([QueueJobEntity])];
    if (!config.env.REDIS_URL) {
      return {
        ...common,
        imports,
        providers: [JobQueue, { provide: QUEUE_DRIVER, useFactory: () => new InlineDriver() }],
      };
    }
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
      ...common,
      imports: [
        ...imports,
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
}
