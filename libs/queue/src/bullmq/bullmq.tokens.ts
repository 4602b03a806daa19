import type * as NestBullmq from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { QueueName } from '../queue.types';

/** The fail-fast Redis connection of the BullMQ producers (the Queue objects). */
export const QUEUE_PRODUCER_REDIS = Symbol('QUEUE_PRODUCER_REDIS');
/** Every queue by name, as @nestjs/bullmq registered them (`getQueueToken(name)`). */
export const BULL_QUEUES = Symbol('BULL_QUEUES');
export type BullQueues = ReadonlyMap<QueueName, Queue>;

/** Longest a producer operation (add, cancel, state, counts) may wait on Redis. */
export const PRODUCER_TIMEOUT_MS = 2_000;

/** BullMQ's key prefix under REDIS_PREFIX (as before @nestjs/bullmq: existing keys stay valid). */
export const bullPrefix = (redisPrefix: string): string => `${redisPrefix}:bull`;

/**
 * @nestjs/bullmq's token of a registered queue. Loads BullMQ on first call rather than with this
 * library: the embedded mode (inline driver) never loads it (about 250 modules, 7 MB of heap).
 */
export function getQueueToken(name?: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@nestjs/bullmq') as typeof NestBullmq).getQueueToken(name);
}
