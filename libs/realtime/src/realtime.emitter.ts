import { REDIS } from '@app/common';
import type { RedisClient } from '@app/common';
import { AppConfig } from '@app/config';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { Emitter } from '@socket.io/redis-emitter';
import { RealtimeGateway } from './realtime.gateway';
import { accountRoom, ServerEvent, ServerPayload, ServerToClientEvents } from './realtime.events';

export const socketIoRedisKey = (prefix: string): string => `${prefix}:socket.io`;

/**
 * Emits typed events to rooms from anywhere: through the local socket.io server in the api role
 * (the Redis adapter fans out to other nodes), through the Redis emitter in a worker-only role.
 */
@Injectable()
export class RealtimeEmitter {
  private readonly redisEmitter?: Emitter<ServerToClientEvents>;

  constructor(
    config: AppConfig,
    @Inject(REDIS) redis: RedisClient,
    @Optional() private readonly gateway?: RealtimeGateway,
  ) {
    if (redis && !config.hasRole('api')) {
      this.redisEmitter = new Emitter<ServerToClientEvents>(redis, {
        key: socketIoRedisKey(config.env.REDIS_PREFIX),
      });
    }
  }

  toRoom<E extends ServerEvent>(room: string, event: E, payload: ServerPayload<E>): void {
    const args = [payload] as Parameters<ServerToClientEvents[E]>;
    if (this.gateway?.server) this.gateway.server.to(room).emit(event, ...args);
    else this.redisEmitter?.to(room).emit(event, ...args);
  }

  toAccount<E extends ServerEvent>(accountId: string, event: E, payload: ServerPayload<E>): void {
    this.toRoom(accountRoom(accountId), event, payload);
  }
}
