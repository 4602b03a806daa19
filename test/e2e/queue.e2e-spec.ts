import { NotFoundError } from '@app/common';
import { JOB_UPDATED_EVENT, JobQueue, JobSnapshot, QueueJobEntity } from '@app/queue';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { getRepositoryToken } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Repository } from 'typeorm';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { readJobRow } from '@test/support/queue-db';
import { uniqueRedisPrefix } from '@test/support/test-env';

/** Small concurrency (so a lane is easy to fill) and a short shutdown grace (graceful-shutdown test). */
const ENV = { QUEUE_CONCURRENCY: '2', SHUTDOWN_TIMEOUT_MS: '300' };

/** Polls `fn` until it returns a truthy value; fails after `timeoutMs`. */
async function until<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe.each([
  ['inline', false],
  ['bullmq', true],
] as const)('job queue (%s driver)', (kind, redis) => {
  let t: TestApp;
  let jobs: JobQueue;
  let repo: Repository<QueueJobEntity>;
  let events: EventEmitter2;
  let prefix: string | undefined;

  /** Boots "the same deployment" again: same database and, for BullMQ, the same Redis prefix. */
  const boot = async () => {
    t = await createTestApp({ redis, redisPrefix: prefix, env: ENV });
    jobs = t.app.get(JobQueue);
    repo = t.app.get(getRepositoryToken(QueueJobEntity));
    events = t.app.get(EventEmitter2);
  };

  /** Waits until the job runs and has reported some progress. */
  const running = (id: string) =>
    until(
      async () => {
        const s = await jobs.get(id);
        return s.status === 'running' && s.progress > 0 ? s : undefined;
      },
      5000,
      `job ${id} running`,
    );

  beforeAll(async () => {
    prefix = redis ? uniqueRedisPrefix('queue') : undefined;
    await boot();
  });
  afterAll(() => t.close());

  it(`uses the ${kind} driver`, () => {
    expect(jobs.driver.kind).toBe(kind);
    expect(jobs.processing).toBe(true);
  });

  it('runs a job to completion, persisting and broadcasting progress', async () => {
    const seen: JobSnapshot[] = [];
    const listener = (s: JobSnapshot) => seen.push(s);
    events.on(JOB_UPDATED_EVENT, listener);
    try {
      const job = await jobs.enqueue(
        'maintenance.selftest',
        { steps: 10, step_ms: 100 },
        { attempts: 1 },
      );
      expect(job).toMatchObject({
        queue: 'maintenance',
        name: 'maintenance.selftest',
        status: 'queued',
        progress: 0,
        attempts: 0,
      });

      // Poll the row while it runs: progress must be visible before the end.
      const polled: JobSnapshot[] = [];
      const deadline = Date.now() + 5000;
      for (;;) {
        const s = await jobs.get(job.id);
        polled.push(s);
        if ((s.status !== 'queued' && s.status !== 'running') || Date.now() > deadline) break;
        await sleep(40);
      }
      const mid = polled.filter(
        (s) => s.status === 'running' && s.progress > 0 && s.progress < 100,
      );
      expect(mid.length).toBeGreaterThan(0);
      expect(mid[0].progress_message).toMatch(/^step \d+\/10$/);

      const done = await jobs.waitFor(job.id, 5000);
      expect(done).toMatchObject({
        status: 'completed',
        progress: 100,
        attempts: 1,
        error: null,
        result: { steps: 10, attempt: 1 },
      });

      const mine = seen.filter((s) => s.id === job.id);
      expect(
        mine.some(
          (s) =>
            s.status === 'running' &&
            s.progress > 0 &&
            s.progress < 100 &&
            /^step \d+\/10$/.test(s.progress_message ?? ''),
        ),
      ).toBe(true);
      // The final event follows the row update, so it may trail waitFor() slightly.
      const last = await until(
        async () => seen.find((s) => s.id === job.id && s.status === 'completed'),
        2000,
        'completed event',
      );
      expect(last).toMatchObject({ progress: 100, attempts: 1, result: { steps: 10, attempt: 1 } });
    } finally {
      events.off(JOB_UPDATED_EVENT, listener);
    }
  });

  it('retries with backoff and completes on a later attempt', async () => {
    const job = await jobs.enqueue(
      'maintenance.selftest',
      { steps: 1, step_ms: 1, fail_attempts: 2 },
      { attempts: 3, backoffMs: 50 },
    );
    const done = await jobs.waitFor(job.id, 10_000);
    expect(done).toMatchObject({
      status: 'completed',
      attempts: 3,
      max_attempts: 3,
      error: null,
      result: { steps: 1, attempt: 3 },
    });
  });

  it('fails after the last attempt and keeps the error', async () => {
    const job = await jobs.enqueue(
      'maintenance.selftest',
      { steps: 1, step_ms: 1, fail_attempts: 5 },
      { attempts: 2, backoffMs: 50 },
    );
    const done = await jobs.waitFor(job.id, 10_000);
    expect(done).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: 'planned failure on attempt 2',
      result: null,
    });
    const row = await repo.findOneByOrFail({ id: job.id });
    expect(row.error).toBe('planned failure on attempt 2');
    expect(row.finished_at).toBeInstanceOf(Date);
  });

  it('fails an unrecoverable job at once, without retries', async () => {
    const job = await jobs.enqueue(
      'maintenance.selftest',
      { steps: -1, step_ms: 1 },
      { attempts: 3, backoffMs: 50 },
    );
    const done = await jobs.waitFor(job.id, 5000);
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: 'steps must be 0..10000' });
  });

  it('cancels a running job within a second and stops its processor', async () => {
    const job = await jobs.enqueue(
      'maintenance.selftest',
      { steps: 100, step_ms: 100 },
      { attempts: 1 },
    );
    await running(job.id);

    const started = Date.now();
    const res = await jobs.cancel(job.id);
    expect(['running', 'cancelled']).toContain(res.status);
    const done = await jobs.waitFor(job.id, 1000);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(done.status).toBe('cancelled');

    // The processor stopped: no more progress writes or events (the throttle window is 500 ms).
    // Only the final 'cancelled' event may trail the row update.
    const after: JobSnapshot[] = [];
    const listener = (s: JobSnapshot) =>
      s.id === job.id && s.status !== 'cancelled' && after.push(s);
    events.on(JOB_UPDATED_EVENT, listener);
    await sleep(800);
    events.off(JOB_UPDATED_EVENT, listener);
    expect(after).toEqual([]);
    const later = await jobs.get(job.id);
    expect(later).toMatchObject({ status: 'cancelled', progress: done.progress, attempts: 1 });
    expect(later.progress).toBeLessThan(100);
  });

  it('cancels a delayed (queued) job so that it never runs', async () => {
    const job = await jobs.enqueue(
      'maintenance.selftest',
      { steps: 1, step_ms: 1 },
      { delayMs: 300 },
    );
    expect((await jobs.get(job.id)).status).toBe('queued');
    const res = await jobs.cancel(job.id);
    expect(res).toMatchObject({ status: 'cancelled', attempts: 0 });
    await sleep(700);
    expect(await jobs.get(job.id)).toMatchObject({
      status: 'cancelled',
      attempts: 0,
      progress: 0,
      result: null,
    });
    // Cancelling a finished job is a no-op.
    expect(await jobs.cancel(job.id)).toMatchObject({ status: 'cancelled' });
  });

  it('cancels a job waiting behind a full lane so that it never runs', async () => {
    const long = await Promise.all(
      [0, 1].map(() =>
        jobs.enqueue('maintenance.selftest', { steps: 100, step_ms: 50 }, { attempts: 1 }),
      ),
    );
    await Promise.all(long.map((j) => running(j.id)));
    const waiting = await jobs.enqueue('maintenance.selftest', { steps: 1, step_ms: 1 });
    await sleep(100);
    expect((await jobs.get(waiting.id)).status).toBe('queued');

    expect(await jobs.cancel(waiting.id)).toMatchObject({ status: 'cancelled', attempts: 0 });
    for (const j of long) await jobs.cancel(j.id);
    for (const j of long) expect((await jobs.waitFor(j.id, 1000)).status).toBe('cancelled');
    await sleep(300); // the lane is free now: the cancelled job must still not run
    expect(await jobs.get(waiting.id)).toMatchObject({
      status: 'cancelled',
      attempts: 0,
      result: null,
    });
  });

  it('fails an attempt that runs past its time limit', async () => {
    const job = await jobs.enqueue(
      'maintenance.selftest',
      { steps: 100, step_ms: 50 },
      { attempts: 1, timeoutMs: 200 },
    );
    const done = await jobs.waitFor(job.id, 3000);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/Timed out/);
    expect(done.attempts).toBe(1);
    expect(done.progress).toBeLessThan(100);
  });

  it('returns the active job for an idempotency key', async () => {
    const key = `selftest:${randomUUID()}`;
    const a = await jobs.enqueue(
      'maintenance.selftest',
      { steps: 1, step_ms: 1 },
      { key, delayMs: 10_000 },
    );
    const b = await jobs.enqueue(
      'maintenance.selftest',
      { steps: 1, step_ms: 1 },
      { key, delayMs: 10_000 },
    );
    expect(b.id).toBe(a.id);
    expect(await repo.countBy({ key })).toBe(1);

    // Once the job is no longer active, the key is free again.
    await jobs.cancel(a.id);
    const c = await jobs.enqueue('maintenance.selftest', { steps: 1, step_ms: 1 }, { key });
    expect(c.id).not.toBe(a.id);
    expect((await jobs.waitFor(c.id, 5000)).status).toBe('completed');
  });

  it('returns the same job for concurrent enqueues with one key', async () => {
    const key = `selftest:${randomUUID()}`;
    const [a, b] = await Promise.all(
      [0, 1].map(() =>
        jobs.enqueue('maintenance.selftest', { steps: 1, step_ms: 1 }, { key, delayMs: 10_000 }),
      ),
    );
    expect(b.id).toBe(a.id);
    expect(await repo.countBy({ key })).toBe(1);
    await jobs.cancel(a.id);
  });

  it("hides another account's job", async () => {
    const owner = randomUUID();
    const other = randomUUID();
    const job = await jobs.enqueue(
      'maintenance.selftest',
      { steps: 1, step_ms: 1 },
      { accountId: owner },
    );
    await expect(jobs.get(job.id, other)).rejects.toBeInstanceOf(NotFoundError);
    await expect(jobs.cancel(job.id, other)).rejects.toBeInstanceOf(NotFoundError);
    await expect(jobs.get(randomUUID(), owner)).rejects.toBeInstanceOf(NotFoundError);
    await expect(jobs.get('not-a-uuid')).rejects.toBeInstanceOf(NotFoundError);
    expect(await jobs.get(job.id, owner)).toMatchObject({ id: job.id, account_id: owner });
    // The foreign cancel did not touch it.
    expect(await jobs.waitFor(job.id, 5000)).toMatchObject({
      status: 'completed',
      account_id: owner,
    });
  });

  it('exports job durations and queue depth on /metrics', async () => {
    const job = await jobs.enqueue('maintenance.selftest', { steps: 1, step_ms: 1 });
    await jobs.waitFor(job.id, 5000);
    const res = await t.http().get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(
      /^llmops_job_duration_seconds_count\{queue="maintenance",name="maintenance\.selftest",outcome="completed"\} [1-9]\d*$/m,
    );
    expect(res.text).toMatch(
      /^llmops_job_duration_seconds_count\{queue="maintenance",name="maintenance\.selftest",outcome="retry"\} [1-9]\d*$/m,
    );
    expect(res.text).toMatch(/^llmops_queue_depth\{queue="maintenance",state="waiting"\} \d+$/m);
    expect(res.text).toMatch(/^llmops_queue_depth\{queue="maintenance",state="active"\} \d+$/m);
  });

  it('re-enqueues at boot a job left running by a crashed process, and finishes cancelled ones', async () => {
    // Rows no driver knows about: what a killed process leaves behind.
    const orphan = await repo.save(
      repo.create({
        queue: 'maintenance',
        name: 'maintenance.selftest',
        payload: { steps: 2, step_ms: 10 },
        status: 'running',
        attempts: 1,
        max_attempts: 3,
        backoff_ms: 50,
        timeout_ms: 10_000,
        progress: 50,
        progress_message: 'step 1/2',
        started_at: new Date(),
      }),
    );
    const doomed = await repo.save(
      repo.create({
        queue: 'maintenance',
        name: 'maintenance.selftest',
        payload: { steps: 2, step_ms: 10 },
        status: 'running',
        attempts: 1,
        timeout_ms: 10_000,
        cancel_requested: true,
        started_at: new Date(),
      }),
    );
    expect(orphan.id).toMatch(/^[0-9a-f-]{36}$/);

    await t.close();
    await boot();

    expect(await jobs.waitFor(orphan.id, 5000)).toMatchObject({
      status: 'completed',
      progress: 100,
      attempts: 2,
      result: { steps: 2, attempt: 2 },
    });
    expect(await jobs.get(doomed.id)).toMatchObject({
      status: 'cancelled',
      attempts: 1,
      result: null,
    });
  });

  it('puts a running job back to queued on graceful shutdown, and the next boot re-runs it', async () => {
    const job = await jobs.enqueue(
      'maintenance.selftest',
      { steps: 40, step_ms: 50 },
      { attempts: 3, backoffMs: 50 },
    );
    await running(job.id);

    const started = Date.now();
    await t.close(); // SHUTDOWN_TIMEOUT_MS=300: the job is interrupted, not awaited
    expect(Date.now() - started).toBeLessThan(1500);

    const row = await readJobRow(job.id);
    expect(row).toMatchObject({ status: 'queued', attempts: 0, cancel_requested: false });
    expect(row.finished_at).toBeNull();

    await boot();
    const done = await jobs.waitFor(job.id, 8000);
    expect(done).toMatchObject({
      status: 'completed',
      progress: 100,
      attempts: 1,
      result: { steps: 40, attempt: 1 },
    });
  });
});
