import { closeRedis, logRedisErrors } from '@app/common';
import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import type { Server, ServerOptions } from 'socket.io';
import { socketIoRedisKey } from './realtime.emitter';

export interface AppIoAdapterOptions {
  /** Same rule as HTTP CORS: reflect allowed origins, with credentials. */
  isOriginAllowed: (origin: string | undefined) => boolean;
  redis?: Redis | null;
  redisPrefix: string;
}

/** socket.io with our CORS rule and, when Redis is configured, the Redis adapter. */
export class AppIoAdapter extends IoAdapter {
  private readonly clients: Redis[] = [];

  constructor(
    app: INestApplicationContext,
    private readonly options: AppIoAdapterOptions,
  ) {
    super(app);
  }

  createIOServer(port: number, options?: ServerOptions): Server {
    const server = super.createIOServer(port, {
      ...options,
      cors: {
        origin: (origin: string | undefined, cb: (err: Error | null, allow?: boolean) => void) =>
          cb(null, this.options.isOriginAllowed(origin)),
        credentials: true,
        methods: ['GET', 'POST'],
      },
    } as ServerOptions);
    if (this.options.redis) {
      // Emits are fire-and-forget (never awaited by a request); during an outage they wait in
      // the offline queue and clients re-read snapshots when they resubscribe.
      const pub = logRedisErrors(this.options.redis.duplicate(), 'socket.io pub');
      const sub = logRedisErrors(this.options.redis.duplicate(), 'socket.io sub');
      this.clients.push(pub, sub);
      server.adapter(createAdapter(pub, sub, { key: socketIoRedisKey(this.options.redisPrefix) }));
    }
    return server;
  }

  async dispose(): Promise<void> {
    await super.dispose();
    await Promise.all(this.clients.map((c) => closeRedis(c)));
  }
}
