import { AppConfig } from '@app/config';
import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { Redis, RedisOptions } from 'ioredis';
import { settledWithin, withDeadline } from './deadline';

/**
 * The base Redis connection (BullMQ workers, socket.io), or null in the embedded mode. Its
 * commands wait across outages: never await it on the request path.
 */
export const REDIS = Symbol('REDIS');
/**
 * The request-path connection (rate limits, readiness, locks), or null in the embedded mode:
 * no offline queue, one retry, a command timeout, so an unreachable Redis fails fast.
 */
export const REDIS_FAST = Symbol('REDIS_FAST');
export type RedisClient = Redis | null;

/** Longest a request-path Redis command may take before it fails. */
export const REDIS_FAST_TIMEOUT_MS = 500;
/** Longest a closing connection may take to QUIT before it is dropped. */
const QUIT_TIMEOUT_MS = 500;

/** Reconnect forever, with a capped backoff, so recovery needs no restart. */
export const cappedBackoff = (times: number): number => Math.min(100 * 2 ** times, 2_000);

/** Options of a fail-fast connection (duplicate() of the base connection with these). */
export const FAST_REDIS_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: REDIS_FAST_TIMEOUT_MS,
  connectTimeout: 2_000,
  retryStrategy: cappedBackoff,
};

/** A function that logs at most once per `intervalMs` (outages must not flood the logs). */
export function everyFewSeconds(log: (msg: string) => void, intervalMs = 5_000) {
  let last = 0;
  return (msg: string): void => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    log(msg);
  };
}

/** Logs a connection's errors, at most every few seconds. */
export function logRedisErrors(client: Redis, name: string, logger = new Logger('Redis')): Redis {
  const warn = everyFewSeconds((m) => logger.warn(m));
  client.on('error', (err: Error) => warn(`Redis (${name}): ${err.message}`));
  return client;
}

/**
 * Publishes without making the caller wait on a Redis that is away: on the fast connection
 * (REDIS_FAST_TIMEOUT_MS); when that does not answer in time, `onSlow` hears why and the message
 * is queued on the base connection, delivered once Redis answers again.
 */
export async function publishSoon(
  fast: Redis,
  base: Redis,
  channel: string,
  message: string,
  onSlow: (err: Error) => void,
): Promise<void> {
  try {
    await withDeadline(
      fast.publish(channel, message),
      REDIS_FAST_TIMEOUT_MS,
      () => new Error(`no answer within ${REDIS_FAST_TIMEOUT_MS} ms`),
    );
  } catch (err) {
    onSlow(err as Error);
    base.publish(channel, message).catch(() => undefined);
  }
}

/** Longest the service waits at start for Redis to answer (reconnecting meanwhile). */
export const REDIS_STARTUP_WAIT_MS = 15_000;

/**
 * Connects `client` and waits until it is ready, retrying through failed attempts (its
 * retryStrategy reconnects) for at most `ms`. A single attempt can fail on a busy host: when
 * the event loop is held past connectTimeout, the socket times out before its connect event is
 * seen, and ioredis' own connect() rejects for good with "Connection is closed".
 */
export async function connectRedis(client: Redis, name: string, ms = REDIS_STARTUP_WAIT_MS) {
  let lastError: Error | undefined;
  const onError = (err: Error) => (lastError = err);
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  client.on('error', onError);
  client.once('ready', onReady);
  client.connect().catch(() => undefined);
  try {
    await withDeadline(
      ready,
      ms,
      () =>
        new Error(
          `Redis (${name}) did not answer within ${ms} ms` +
            (lastError ? `: ${lastError.message}` : ''),
        ),
    );
  } catch (err) {
    client.disconnect();
    throw err;
  } finally {
    client.off('error', onError);
    client.off('ready', onReady);
  }
}

/** QUIT politely, but never wait on a Redis that does not answer: drop the socket instead. */
export async function closeRedis(client: Redis | null | undefined): Promise<void> {
  if (!client || client.status === 'end') return;
  await settledWithin(client.quit(), QUIT_TIMEOUT_MS);
  // quit() failed or hung (offline queue, frozen server): drop the socket and stop reconnecting.
  if ((client.status as string) !== 'end') client.disconnect();
}

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(REDIS_FAST) private readonly fast: RedisClient,
  ) {}
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([closeRedis(this.redis), closeRedis(this.fast)]);
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
        // maxRetriesPerRequest null: BullMQ workers block on Redis and must not time out.
        const redis = new Redis(config.env.REDIS_URL, {
          maxRetriesPerRequest: null,
          enableReadyCheck: true,
          connectTimeout: 10_000,
          retryStrategy: cappedBackoff,
          lazyConnect: true,
        });
        logRedisErrors(redis, 'base');
        await connectRedis(redis, 'base');
        return redis;
      },
    },
    {
      provide: REDIS_FAST,
      inject: [REDIS],
      useFactory: async (base: RedisClient): Promise<RedisClient> => {
        if (!base) return null;
        const fast = base.duplicate({ ...FAST_REDIS_OPTIONS, lazyConnect: true });
        logRedisErrors(fast, 'request path');
        await connectRedis(fast, 'request path');
        return fast;
      },
    },
    RedisCloser,
  ],
  exports: [REDIS, REDIS_FAST],
})
export class RedisModule {}
