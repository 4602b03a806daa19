import { JobQueue, QUEUE_NAMES, QUEUE_PRODUCER_REDIS } from '@app/queue';
import { QueueWorkerHost } from '@app/queue/bullmq/queue-worker.host';
import { getQueueToken } from '@nestjs/bullmq';
import { DiscoveryService } from '@nestjs/core';
import { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { uniqueRedisPrefix } from '@test/support/test-env';

/** The worker hosts (@nestjs/bullmq processors) a process registered. */
function workerHosts(t: TestApp): QueueWorkerHost[] {
  return t.app
    .get(DiscoveryService)
    .getProviders()
    .map((w) => w.instance as unknown)
    .filter((i): i is QueueWorkerHost => i instanceof QueueWorkerHost);
}

describe('Scale-mode queues through @nestjs/bullmq (api role + worker role)', () => {
  let api: TestApp;
  let worker: TestApp;
  let prefix: string;
  const processed: Array<{ queue: string; id: string | undefined; host: string }> = [];
  let spy: jest.SpyInstance;

  beforeAll(async () => {
    // Installed before boot: @nestjs/bullmq binds process() when it creates the workers.
    const original = QueueWorkerHost.prototype.process;
    spy = jest.spyOn(QueueWorkerHost.prototype, 'process').mockImplementation(function (
      this: QueueWorkerHost,
      job: Job,
    ) {
      processed.push({ queue: job.queueName, id: job.id, host: this.constructor.name });
      return original.call(this, job);
    });
    prefix = uniqueRedisPrefix('nest-bullmq');
    const env = { QUEUE_CONCURRENCY: '3' };
    [api, worker] = await Promise.all([
      createTestApp({ redis: true, redisPrefix: prefix, env: { ...env, APP_ROLES: 'api' } }),
      createTestApp({ redis: true, redisPrefix: prefix, env: { ...env, APP_ROLES: 'worker' } }),
    ]);
  });
  afterAll(async () => {
    spy?.mockRestore();
    await Promise.all([api, worker].filter(Boolean).map((t) => t.close()));
  });

  it('registers every queue with @nestjs/bullmq, on the configured prefix and the fail-fast producer connection', () => {
    for (const t of [api, worker]) {
      const producer = t.app.get<Redis>(QUEUE_PRODUCER_REDIS);
      expect(producer.options.enableOfflineQueue).toBe(false);
      for (const name of QUEUE_NAMES) {
        const queue = t.app.get<Queue>(getQueueToken(name));
        expect(queue).toBeInstanceOf(Queue);
        expect(queue.name).toBe(name);
        expect(queue.opts.prefix).toBe(`${prefix}:bull`);
        expect(queue.opts.connection).toBe(producer);
      }
    }
    expect(api.app.get<Queue>(getQueueToken('download')).qualifiedName).toBe(
      `${prefix}:bull:download`,
    );
  });

  it('runs one @nestjs/bullmq worker host per queue in the worker role only, with blocking connections', () => {
    expect(workerHosts(api)).toEqual([]);
    const hosts = workerHosts(worker);
    expect(hosts.map((h) => h.worker.name).sort()).toEqual([...QUEUE_NAMES].sort());
    for (const host of hosts) {
      const w = host.worker;
      expect(w).toBeInstanceOf(Worker);
      expect(w.isRunning()).toBe(true);
      expect(w.opts.prefix).toBe(`${prefix}:bull`);
      expect(w.concurrency).toBe(3);
      // Workers' own connections wait across outages; producers' fail fast.
      expect(w.opts.connection).toMatchObject({ maxRetriesPerRequest: null });
    }
    expect(worker.app.get(JobQueue).processing).toBe(true);
    expect(api.app.get(JobQueue).processing).toBe(false);
  });

  it('runs a job enqueued by the api-only app through the worker host of its queue', async () => {
    const jobs = api.app.get(JobQueue);
    const label = randomUUID();
    const job = await jobs.enqueue('maintenance.selftest', { steps: 2, step_ms: 10, label });
    const done = await jobs.waitFor(job.id, 15_000);
    expect(done).toMatchObject({ status: 'completed', progress: 100, attempts: 1 });
    expect(done.result).toEqual({ steps: 2, attempt: 1 });
    expect(processed).toContainEqual({
      queue: 'maintenance',
      id: job.id,
      host: 'MaintenanceQueueWorker',
    });
  });

  it('retries through BullMQ and the row, on the worker host', async () => {
    const jobs = api.app.get(JobQueue);
    const job = await jobs.enqueue(
      'maintenance.selftest',
      { steps: 1, step_ms: 1, fail_attempts: 1 },
      { attempts: 2, backoffMs: 50 },
    );
    expect(await jobs.waitFor(job.id, 15_000)).toMatchObject({ status: 'completed', attempts: 2 });
    expect(processed.filter((p) => p.id === job.id)).toHaveLength(2);
  });
});
