import { AppConfig } from '@app/config';
import { DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type * as BullmqQueueParts from './bullmq/bullmq-queue.parts';
import { InlineDriver } from './drivers/inline.driver';
import { QUEUE_DRIVER } from './drivers/queue-driver';
import { QueueJobEntity } from './entities/queue-job.entity';
import { JobQueue } from './job-queue.service';

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
    // Required here, not imported: BullMQ loads only in the scale mode.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bullmq = require('./bullmq/bullmq-queue.parts') as typeof BullmqQueueParts;
    const parts = bullmq.bullmqQueueParts(config);
    return {
      ...common,
      imports: [...imports, ...parts.imports],
      providers: parts.providers,
    };
  }
}
