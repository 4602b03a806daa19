import { AppConfig } from '@app/config';
import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';

/** The shared Redis connection, or null in the embedded mode. */
export const REDIS = Symbol('REDIS');
export type RedisClient = Redis | null;

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: RedisClient) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.redis && this.redis.status !== 'end')
      await this.redis.quit().catch(() => this.redis?.disconnect());
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [AppConfig],
      useFactory: async (config: AppConfig): Promise<RedisClient> => {
        if (!config.env.REDIS_URL) return null;
        const logger = new Logger('Redis');
        // maxRetriesPerRequest null: BullMQ workers block on Redis and must not time out.
        const redis = new Redis(config.env.REDIS_URL, {
          maxRetriesPerRequest: null,
          enableReadyCheck: true,
          connectTimeout: 10_000,
          lazyConnect: true,
        });
        redis.on('error', (err) => logger.warn(`Redis: ${err.message}`));
        await redis.connect();
        return redis;
      },
    },
    RedisCloser,
  ],
  exports: [REDIS],
})
export class RedisModule {}
