import { FakeHfHub } from '@test/fakes/fake-hf-hub';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { JobQueue } from '@app/queue';
import { createAccount } from '@test/support/auth';
import { eventually } from '@test/support/eventually';
import { DataSource } from 'typeorm';

/**
 * DOWNLOAD_MAX_TASKS holds for the whole deployment, not per process: two app processes on one
 * database (each running the jobs it enqueued) never download more than the limit together, a
 * slot freed in one is taken in the other, and a `downloading` row that a dead process left
 * behind (no heartbeat) does not hold a slot.
 */
type Json = Record<string, any>;

describe('Download task slots across processes (e2e)', () => {
  let hub: FakeHfHub;
  let one: TestApp;
  let two: TestApp;
  let auth: Record<string, string>;
  const SIZE = 2 * 1024 * 1024;

  beforeAll(async () => {
    hub = await FakeHfHub.create();
    const boot = () =>
      createTestApp({
        env: {
          OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
          HF_ENDPOINT: hub.url,
          DOWNLOAD_MAX_TASKS: '1',
          DOWNLOAD_PART_MIN_BYTES: String(256 * 1024),
        },
      });
    one = await boot();
    two = await boot();
    const a = await createAccount(one);
    auth = { Authorization: `Bearer ${await one.token(a.id, 'admin')}` };
  }, 60_000);
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await hub?.stop();
  });

  const post = async (t: TestApp, p: string, body: Json = {}) =>
    (await t.http().post(p).set(auth).send(body)).body as { code: string; data: Json };
  const get = async (t: TestApp, id: string) =>
    ((await t.http().get(`/downloads/${id}`).set(auth)).body as { data: Json }).data;
  const waitFor = async (t: TestApp, id: string, status: string): Promise<Json> => {
    for (let i = 0; i < 200; i++) {
      const d = await get(t, id);
      if (d.status === status) return d;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`task ${id} never became ${status}: ${JSON.stringify(await get(t, id))}`);
  };

  it('runs one task across two processes with DOWNLOAD_MAX_TASKS=1', async () => {
    const a = hub.addRepo({ id: 'acme/slot-a', files: [{ path: 'm.gguf', size: SIZE }] });
    const b = hub.addRepo({ id: 'acme/slot-b', files: [{ path: 'm.gguf', size: SIZE }] });
    hub.switches.throttleBytesPerSec = 16 * 1024;

    const first = await post(one, '/downloads', { source: 'huggingface', model_id: a.id });
    expect(first.code).toBe('success');
    await waitFor(one, first.data.id, 'downloading');
    const second = await post(two, '/downloads', { source: 'huggingface', model_id: b.id });
    expect(second.code).toBe('success');
    const idB = second.data.id as string;

    // Its process has a free slot of its own, yet the task waits with its queue position.
    for (let i = 0; i < 25; i++) {
      await new Promise((r) => setTimeout(r, 100));
      expect(await get(two, idB)).toMatchObject({ status: 'pending', queue_position: 1 });
    }
    expect(hub.requestsTo('/cdn/').some((r) => r.path.includes(b.files[0].sha256))).toBe(false);

    // A pause in the first process frees the slot for the second.
    expect((await post(one, `/downloads/${first.data.id}/pause`)).code).toBe('success');
    await waitFor(two, idB, 'downloading');
    expect((await post(two, `/downloads/${idB}/pause`)).code).toBe('success');

    // A row a killed process left `downloading` (no heartbeat for a minute) holds no slot.
    await one.app
      .get(DataSource)
      .query(
        `UPDATE download_tasks SET status = 'downloading', updated_at = now() - interval '1 minute' WHERE id = $1`,
        [first.data.id],
      );
    expect((await post(two, `/downloads/${idB}/resume`)).code).toBe('success');
    await waitFor(two, idB, 'downloading');

    // A fresh one does: the same row with a recent heartbeat keeps a resumed task waiting.
    expect((await post(two, `/downloads/${idB}/pause`)).code).toBe('success');
    await one.app
      .get(DataSource)
      .query(`UPDATE download_tasks SET updated_at = now() WHERE id = $1`, [first.data.id]);
    expect((await post(two, `/downloads/${idB}/resume`)).code).toBe('success');
    for (let i = 0; i < 15; i++) {
      await new Promise((r) => setTimeout(r, 100));
      expect((await get(two, idB)).status).toBe('pending');
    }
    for (const [t, id] of [
      [one, first.data.id],
      [two, idB],
    ] as const) {
      expect((await post(t, `/downloads/${id}/delete`)).code).toBe('success');
    }
  }, 60_000);

  it('never runs a task that is downloading elsewhere a second time (a job handed out twice)', async () => {
    const repo = hub.addRepo({ id: 'acme/slot-twice', files: [{ path: 'm.gguf', size: SIZE }] });
    hub.switches.throttleBytesPerSec = 16 * 1024;
    const task = await post(one, '/downloads', { source: 'huggingface', model_id: repo.id });
    expect(task.code).toBe('success');
    const id = task.data.id as string;
    await waitFor(one, id, 'downloading');
    const db = one.app.get(DataSource);
    const started = async () =>
      (
        await db.query<Array<{ started_at: Date }>>(
          `SELECT started_at FROM download_tasks WHERE id = $1`,
          [id],
        )
      )[0].started_at.getTime();
    const startedAt = await started();

    // The same task's job, delivered to the other process while the first still runs it.
    const [row] = await db.query<Array<{ account_id: string }>>(
      `SELECT account_id FROM download_tasks WHERE id = $1`,
      [id],
    );
    const job = await two.app
      .get(JobQueue)
      .enqueue('download.snapshot', { task_id: id }, { accountId: row.account_id, attempts: 1 });
    const state = () => two.app.get(JobQueue).get(job.id);
    expect((await eventually(state, (j) => j.status !== 'queued')).status).toBe('running');
    // It waits on the first run's heartbeat: no claim (started_at unchanged), no second download.
    for (let i = 0; i < 15; i++) {
      await new Promise((r) => setTimeout(r, 100));
      expect(await started()).toBe(startedAt);
      expect((await state()).status).toBe('running');
    }
    // The duplicate waits on the live heartbeat, and gives up once the task leaves `downloading`.
    expect((await post(one, `/downloads/${id}/pause`)).code).toBe('success');
    const done = await two.app.get(JobQueue).waitFor(job.id, 10_000);
    expect(done).toMatchObject({ status: 'completed', result: { status: 'skipped' } });
    expect(await started()).toBe(startedAt);
    expect((await post(one, `/downloads/${id}/delete`)).code).toBe('success');
  }, 60_000);
});
