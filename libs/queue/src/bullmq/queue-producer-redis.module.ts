import { FAST_REDIS_OPTIONS, logRedisErrors, REDIS } from '@app/common';
import type { RedisClient } from '@app/common';
import { Module } from '@nestjs/common';
import { PRODUCER_TIMEOUT_MS, QUEUE_PRODUCER_REDIS } from './bullmq.tokens';

/**
 * The producers' connection, shared by @nestjs/bullmq's queues (BullModule.forRootAsync) and the
 * driver (cancel broadcasts): fail-fast, so an enqueue never waits on an unreachable Redis. The
 * driver closes it at shutdown.
 */
@Module({
  providers: [
    {
      provide: QUEUE_PRODUCER_REDIS,
      inject: [REDIS],
      useFactory: (base: RedisClient) => {
        if (!base) throw new Error('The BullMQ queues need REDIS_URL');
        return logRedisErrors(
          base.duplicate({ ...FAST_REDIS_OPTIONS, commandTimeout: PRODUCER_TIMEOUT_MS }),
          'queue producer',
        );
      },
    },
  ],
  exports: [QUEUE_PRODUCER_REDIS],
})
export class QueueProducerRedisModule {}
