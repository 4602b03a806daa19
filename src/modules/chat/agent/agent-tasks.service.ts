import {
  cappedBackoff,
  closeRedis,
  everyFewSeconds,
  logRedisErrors,
  publishSoon,
  REDIS,
  REDIS_FAST,
  withDeadline,
} from '@app/common';
import type { RedisClient } from '@app/common';
import { AppConfig } from '@app/config';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';

/** Why a run was aborted: `signal.reason` of a stopped or timed-out turn. */
export class TurnAbort extends Error {
  constructor(readonly kind: 'stop' | 'timeout') {
    super(kind === 'stop' ? 'The run was stopped' : 'The run took too long');
    this.name = 'TurnAbort';
  }
}

interface RunningTask {
  accountId: string;
  controller: AbortController;
}

const BOOT_WAIT_MS = 2_000;

/** The pub/sub channel of stop requests under a Redis prefix. */
export const agentStopChannel = (prefix: string): string => `${prefix}:agent-stop`;

/**
 * Running agent turns by task id, so a stop request reaches the turn wherever it runs: the
 * process that has it aborts it at once; in the scale mode every request is also published on
 * Redis, and each api process aborts the task if it runs it (a stop may land on any instance
 * behind the load balancer). Only the account that started a turn can stop it. Embedded mode has
 * one process and no Redis: in-process only.
 */
@Injectable()
export class AgentTasks implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('AgentTasks');
  private readonly warn = everyFewSeconds((m) => this.logger.warn(m));
  private readonly running = new Map<string, RunningTask>();
  private readonly channel: string;
  private subscriber: Redis | null = null;

  constructor(
    private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(REDIS_FAST) private readonly fast: RedisClient,
  ) {
    this.channel = agentStopChannel(config.env.REDIS_PREFIX);
  }

  /** Tracks a turn until the returned function is called. */
  register(taskId: string, accountId: string, controller: AbortController): () => void {
    this.running.set(taskId, { accountId, controller });
    return () => {
      if (this.running.get(taskId)?.controller === controller) this.running.delete(taskId);
    };
  }

  /** Whether this process runs the task (tests, diagnostics). */
  runsHere(taskId: string): boolean {
    return this.running.has(taskId);
  }

  /**
   * Stops the account's task wherever it runs. Unknown and finished tasks are no-ops (a stop may
   * race the end of the answer); a task of another account is never touched.
   */
  async stop(accountId: string, taskId: string): Promise<void> {
    if (this.stopLocal(accountId, taskId) || !this.fast || !this.redis) return;
    const message = JSON.stringify({ task_id: taskId, account_id: accountId });
    await publishSoon(this.fast, this.redis, this.channel, message, (err) =>
      this.warn(`Stop request not broadcast yet: ${err.message}`),
    );
  }

  async onModuleInit(): Promise<void> {
    // Turns run in api processes only.
    if (!this.redis || !this.config.hasRole('api')) return;
    const sub = this.redis.duplicate({
      lazyConnect: true,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      retryStrategy: cappedBackoff,
    });
    this.subscriber = sub;
    logRedisErrors(sub, 'agent stop');
    sub.on('message', (channel: string, raw: string) => {
      if (channel !== this.channel) return;
      try {
        const m = JSON.parse(raw) as { task_id?: unknown; account_id?: unknown };
        if (typeof m.task_id === 'string' && typeof m.account_id === 'string')
          this.stopLocal(m.account_id, m.task_id);
      } catch {
        /* not ours */
      }
    });
    // The first command connects; ioredis resubscribes by itself after a reconnection. Boot
    // waits a little for the subscription, never for an unreachable Redis.
    const subscribed = sub.subscribe(this.channel);
    try {
      await withDeadline(subscribed, BOOT_WAIT_MS, () => new Error('Redis does not answer'));
    } catch (err) {
      this.warn(`Stop requests from other processes not received yet: ${(err as Error).message}`);
      subscribed.catch(() => undefined);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await closeRedis(this.subscriber);
  }

  private stopLocal(accountId: string, taskId: string): boolean {
    const task = this.running.get(taskId);
    if (!task || task.accountId !== accountId) return false;
    if (!task.controller.signal.aborted) task.controller.abort(new TurnAbort('stop'));
    return true;
  }
}
