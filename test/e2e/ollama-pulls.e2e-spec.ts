import { FakeOllama, type FakePullRecord } from '@test/fakes/fake-ollama';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { emitWithAck, nextEvent, SocketTracker } from '@test/support/socket-client';
import { DataSource } from 'typeorm';

/**
 * Ollama pulls as download tasks, against the fake Ollama's `/api/pull` NDJSON: a pull to
 * completion with its socket events and registry entry, in-band errors (mid-stream, unknown
 * model), a dropped stream, pause/resume, cancel closing the stream, validation, and the same
 * admin and ownership rules as Hugging Face tasks.
 */

type Json = Record<string, any>;
interface Envelope<T = Json> {
  code: string;
  message: string;
  data: T;
}

describe('Ollama pulls as download tasks (e2e)', () => {
  let t: TestApp;
  let ollama: FakeOllama;
  let admin: TestAccount & { token: string };
  let member: TestAccount;
  const sockets = new SocketTracker();
  const LAYERS = [3_000_000, 1_500, 400, 96];
  const TOTAL = LAYERS.reduce((a, b) => a + b, 0);

  beforeAll(async () => {
    ollama = await FakeOllama.create();
    t = await createTestApp({ env: { OLLAMA_BASE_URL: ollama.url } });
    const a = await createAccount(t);
    const token = await t.token(a.id, 'admin');
    admin = { ...a, token, auth: { Authorization: `Bearer ${token}` } };
    member = await createAccount(t);
  });
  afterAll(async () => {
    sockets.closeAll();
    await t?.close();
    await ollama?.close();
  });
  beforeEach(() => {
    ollama.reset();
    ollama.pull.layers = LAYERS;
  });
  afterEach(() => sockets.closeAll());

  const post = async (path: string, body: Json, who: { auth: Json } = admin) =>
    (await t.http().post(path).set(who.auth).send(body)).body as Envelope;
  const get = async (path: string, who: { auth: Json } = admin) =>
    (await t.http().get(path).set(who.auth)).body as Envelope;
  const waitFor = async (id: string, ok: (d: Json) => boolean, ms = 20_000): Promise<Json> => {
    const end = Date.now() + ms;
    for (;;) {
      const d = (await get(`/downloads/${id}`)).data;
      if (ok(d)) return d;
      if (Date.now() > end) throw new Error(`task ${id} still ${JSON.stringify(d.status)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const pull = async (model_id: string, extra: Json = {}) => {
    const res = await post('/downloads', { source: 'ollama', model_id, ...extra });
    expect(res).toMatchObject({ code: 'success', message: 'Download started' });
    return res.data;
  };
  /** Subscribes to the task's room and records every download_* event in order. */
  const watch = async (id: string) => {
    const socket = await sockets.connect(t.url, admin.token);
    const events: Array<[string, Json]> = [];
    socket.onAny((event: string, payload: Json) => {
      if (event.startsWith('download_')) events.push([event, payload]);
    });
    expect((await emitWithAck<Json>(socket, 'subscribe_download', { task_id: id })).ok).toBe(true);
    return { socket, events };
  };
  const within = (p: Promise<unknown>, ms: number) =>
    Promise.race([
      p.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref()),
    ]);
  const entry = async (model_id: string): Promise<Json | undefined> =>
    (await get(`/models?source=ollama&search_word=${encodeURIComponent(model_id)}`)).data.list.find(
      (e: Json) => e.model_id === model_id,
    );

  it('pulls to completion: layer progress, socket events in order, registry entry, delete', async () => {
    ollama.pull.lineDelayMs = 25;
    const task = await pull('e2e-tiny:1b');
    expect(task).toMatchObject({
      source: 'ollama',
      model_id: 'e2e-tiny:1b',
      revision: '1b',
      commit: '1b',
      file_patterns: [],
      local_path: '',
      files: [],
    });
    const id = task.id as string;
    const { socket, events } = await watch(id);
    await nextEvent(socket, 'download_completed', (p: Json) => p.id === id, 20_000);
    const done = (await get(`/downloads/${id}`)).data;
    expect(done).toMatchObject({
      status: 'completed',
      progress: 100,
      downloaded_size: TOTAL,
      total_size: TOTAL,
      error: '',
      local_path: '',
    });
    expect(done.files).toHaveLength(LAYERS.length);
    expect(done.files.map((f: Json) => f.size)).toEqual(LAYERS);
    expect(done.files.every((f: Json) => /^sha256:[0-9a-f]{64}$/.test(f.path))).toBe(true);
    expect(done.files.every((f: Json) => f.status === 'done')).toBe(true);

    const names = events.map(([e]) => e);
    // The room is joined before the snapshot is read, so a progress frame may precede it.
    expect(names).toContain('download_status');
    expect(names.indexOf('download_status')).toBeLessThan(names.indexOf('download_completed'));
    expect(names.at(-1)).toBe('download_completed');
    expect(names.filter((n) => n === 'download_completed')).toHaveLength(1);
    expect(names).not.toContain('download_failed');
    const progress = events.filter(([e]) => e === 'download_progress').map(([, p]) => p);
    expect(progress.length).toBeGreaterThan(1);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i].progress).toBeGreaterThanOrEqual(progress[i - 1].progress);
      expect(progress[i].downloaded_size).toBeGreaterThanOrEqual(progress[i - 1].downloaded_size);
      expect(progress[i].total_size).toBeGreaterThanOrEqual(progress[i - 1].total_size);
    }
    expect(progress.every((p) => p.task_id === id)).toBe(true);
    // 100 only once Ollama said success (the total grows as layers are announced).
    expect(progress.slice(0, -1).every((p) => p.progress < 100)).toBe(true);
    expect(progress.at(-1)!.downloaded_size).toBe(TOTAL);

    // Ollama got one pull, streamed, and now lists the model; the registry recorded it.
    expect(ollama.requestsTo('pull').map((r) => r.body)).toEqual([
      { model: 'e2e-tiny:1b', stream: true },
    ]);
    expect(ollama.pulls.map((p) => p.outcome)).toEqual(['success']);
    expect(ollama.models).toContain('e2e-tiny:1b');
    let e: Json | undefined;
    for (const until = Date.now() + 5000; Date.now() < until;) {
      e = await entry('e2e-tiny:1b');
      if (e?.status === 'downloaded') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(e).toMatchObject({ source: 'ollama', status: 'downloaded', format: 'gguf' });

    // Delete removes the model from Ollama, and the entry turns remote.
    expect(await post(`/downloads/${id}/delete`, {})).toMatchObject({
      code: 'success',
      message: 'Download deleted',
    });
    expect(ollama.requestsTo('delete').map((r) => r.body)).toEqual([{ model: 'e2e-tiny:1b' }]);
    expect(ollama.models).not.toContain('e2e-tiny:1b');
    expect((await get(`/downloads/${id}`)).code).toBe('not_found');
    for (const until = Date.now() + 5000; Date.now() < until;) {
      e = await entry('e2e-tiny:1b');
      if (e?.status === 'remote') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(e?.status).toBe('remote');
  });

  it('deletes a completed task whose model Ollama no longer has (404)', async () => {
    const { id } = await pull('e2e-gone');
    await waitFor(id, (d) => d.status === 'completed');
    ollama.models = ollama.models.filter((m) => m !== 'e2e-gone:latest');
    expect((await post(`/downloads/${id}/delete`, {})).code).toBe('success');
    expect(ollama.requestsTo('delete')).toHaveLength(1);
    expect((await get(`/downloads/${id}`)).code).toBe('not_found');
  });

  it('fails with the error line sent mid-stream, then a resume pulls again', async () => {
    ollama.pull.lineDelayMs = 40;
    ollama.pull.errorAfter = { lines: 9, message: 'max retries exceeded: unexpected EOF' };
    const { id } = await pull('e2e-midway:2b');
    const { socket, events } = await watch(id);
    const failedEvent = await nextEvent<Json>(
      socket,
      'download_failed',
      (p) => p.id === id,
      10_000,
    );
    expect(failedEvent).toMatchObject({
      status: 'failed',
      error: 'Ollama: max retries exceeded: unexpected EOF',
    });
    const failed = await waitFor(id, (d) => d.status === 'failed');
    expect(failed.error).toBe('Ollama: max retries exceeded: unexpected EOF');
    expect(failed.downloaded_size).toBeGreaterThan(0);
    expect(failed.finished_at).not.toBeNull();
    expect(events.map(([e]) => e)).not.toContain('download_completed');
    expect(ollama.pulls.map((p) => p.outcome)).toEqual(['error']);
    expect(ollama.models).not.toContain('e2e-midway:2b');

    ollama.pull.errorAfter = undefined;
    ollama.pull.lineDelayMs = 0;
    expect((await post(`/downloads/${id}/resume`, {})).message).toBe('Download resumed');
    const done = await waitFor(id, (d) => d.status === 'completed');
    expect(done).toMatchObject({ error: '', progress: 100, downloaded_size: TOTAL });
    expect(ollama.pulls.map((p) => p.outcome)).toEqual(['error', 'success']);
    await post(`/downloads/${id}/delete`, {});
  });

  it('fails with Ollama’s manifest error for a model its registry does not have', async () => {
    ollama.pull.missing = ['e2e-nosuch'];
    const { id } = await pull('e2e-nosuch');
    const failed = await waitFor(id, (d) => d.status === 'failed');
    expect(failed.error).toBe('Ollama: pull model manifest: file does not exist');
    expect(failed.files).toEqual([]);
    await post(`/downloads/${id}/delete`, {});
    // Nothing was pulled, so nothing is deleted from Ollama.
    expect(ollama.requestsTo('delete')).toHaveLength(0);
  });

  it('fails when the stream breaks off before success', async () => {
    ollama.pull.dropAfter = 6;
    const { id } = await pull('e2e-dropped:3b');
    const failed = await waitFor(id, (d) => d.status === 'failed');
    expect(failed.error).toMatch(/^The pull of e2e-dropped:3b broke off: /);
    expect(ollama.pulls.map((p) => p.outcome)).toEqual(['dropped']);
    await post(`/downloads/${id}/delete`, {});
  });

  it('pauses (closing the stream) and resumes to completion', async () => {
    ollama.pull.lineDelayMs = 100;
    const { id } = await pull('e2e-paused:4b');
    await waitFor(id, (d) => d.status === 'downloading' && d.downloaded_size > 0);
    const first: FakePullRecord = ollama.pulls[0];
    const t0 = Date.now();
    expect(await post(`/downloads/${id}/pause`, {})).toMatchObject({
      code: 'success',
      message: 'Download paused',
    });
    // Stopped within about a second (slack for a loaded machine).
    expect(await within(first.closed, 2000 - (Date.now() - t0))).toBe(true);
    expect(first.outcome).toBe('client_closed');
    const paused = await waitFor(id, (d) => d.status === 'paused');
    expect(paused.downloaded_size).toBeGreaterThan(0);
    ollama.pull.lineDelayMs = 0;
    expect((await post(`/downloads/${id}/resume`, {})).message).toBe('Download resumed');
    await waitFor(id, (d) => d.status === 'completed');
    expect(ollama.pulls.map((p) => p.outcome)).toEqual(['client_closed', 'success']);
    await post(`/downloads/${id}/delete`, {});
  });

  it('cancels within a second: the fake sees the stream closed', async () => {
    ollama.pull.lineDelayMs = 100;
    const { id } = await pull('e2e-cancelled:5b');
    const { socket } = await watch(id);
    await waitFor(id, (d) => d.status === 'downloading' && d.downloaded_size > 0);
    const first = ollama.pulls[0];
    const cancelled = nextEvent<Json>(
      socket,
      'download_status_change',
      (p) => p.task_id === id && p.status === 'cancelled',
    );
    const t0 = Date.now();
    expect(await post(`/downloads/${id}/cancel`, {})).toMatchObject({
      code: 'success',
      message: 'Download cancelled',
    });
    expect(await within(first.closed, 2000 - (Date.now() - t0))).toBe(true);
    expect(first.outcome).toBe('client_closed');
    await cancelled;
    expect((await get(`/downloads/${id}`)).data.status).toBe('cancelled');
    expect(ollama.models).not.toContain('e2e-cancelled:5b');
    expect((await post(`/downloads/${id}/resume`, {})).code).not.toBe('success');
    // Not completed: delete does not ask Ollama to delete anything.
    await post(`/downloads/${id}/delete`, {});
    expect(ollama.requestsTo('delete')).toHaveLength(0);
  });

  it('stops when another process pauses the task (the row says so)', async () => {
    ollama.pull.lineDelayMs = 100;
    const { id } = await pull('e2e-row-paused');
    await waitFor(id, (d) => d.status === 'downloading' && d.downloaded_size > 0);
    await t.app
      .get(DataSource)
      .query(`UPDATE download_tasks SET status = 'paused' WHERE id = $1`, [id]);
    expect(await within(ollama.pulls[0].closed, 3000)).toBe(true);
    expect(ollama.pulls[0].outcome).toBe('client_closed');
    expect((await get(`/downloads/${id}`)).data.status).toBe('paused');
    await post(`/downloads/${id}/delete`, {});
  });

  it('refuses invalid names, globs and a revision that contradicts the tag', async () => {
    for (const model_id of [
      'registry.example.com/library/llama3:latest',
      'evil.com/llama3',
      '127.0.0.1:5000/x/y',
      'a/b/c',
      '../x',
      'name:',
      'name@sha256:0000',
      'with space',
      '',
    ]) {
      const res = await post('/downloads', { source: 'ollama', model_id });
      expect([model_id, res.code]).toEqual([model_id, 'validate_error']);
    }
    const bad = await post('/downloads', { source: 'ollama', model_id: 'evil.com/llama3' });
    expect(bad.message).toMatch(/Ollama model name.*no registry host/);
    const globs = await post('/downloads', {
      source: 'ollama',
      model_id: 'llama3',
      files: ['*.gguf'],
    });
    expect(globs.code).toBe('validate_error');
    expect(globs.message).toMatch(/files \(globs\) do not apply to Ollama/);
    const rev = await post('/downloads', {
      source: 'ollama',
      model_id: 'llama3:8b',
      revision: '70b',
    });
    expect(rev.code).toBe('validate_error');
    expect((await post('/downloads', { source: 'docker', model_id: 'x' })).code).toBe(
      'validate_error',
    );
    expect(ollama.requestsTo('pull')).toHaveLength(0);
  });

  it('admins only; one open task per model; other accounts neither see nor control it', async () => {
    const denied = await post('/downloads', { source: 'ollama', model_id: 'e2e-owned' }, member);
    expect(denied.code).toBe('forbidden');
    ollama.pull.lineDelayMs = 200;
    // `library/` is Ollama's default namespace: the same model as `e2e-owned:latest`.
    const { id } = await pull('library/e2e-owned');
    const twice = await post('/downloads', { source: 'ollama', model_id: 'e2e-owned:latest' });
    expect(twice.code).toBe('validate_error');
    expect(twice.message).toMatch(/already queued, running or paused/);
    for (const action of ['pause', 'resume', 'cancel', 'delete']) {
      expect((await post(`/downloads/${id}/${action}`, {}, member)).code).toBe('forbidden');
    }
    expect((await get(`/downloads/${id}`, member)).code).toBe('not_found');
    expect((await get('/downloads', member)).data.list.map((d: Json) => d.id)).not.toContain(id);
    const other = await sockets.connect(t.url, member.access_token);
    expect((await emitWithAck<Json>(other, 'subscribe_download', { task_id: id })).ok).toBe(false);
    // Delete of a running pull stops it (the stream closes) without asking Ollama to delete.
    await waitFor(id, (d) => d.status === 'downloading');
    expect((await post(`/downloads/${id}/delete`, {})).code).toBe('success');
    expect(await within(ollama.pulls[0].closed, 3000)).toBe(true);
    expect(ollama.requestsTo('delete')).toHaveLength(0);
  });

  it('fails the create at once when Ollama is not reachable', async () => {
    const down = await FakeOllama.create();
    const url = down.url;
    await down.close();
    const app = await createTestApp({ env: { OLLAMA_BASE_URL: url } });
    try {
      const acc = await createAccount(app);
      const auth = { Authorization: `Bearer ${await app.token(acc.id, 'admin')}` };
      const res = await app
        .http()
        .post('/downloads')
        .set(auth)
        .send({ source: 'ollama', model_id: 'e2e-unreachable' });
      expect((res.body as Envelope).code).toBe('fail');
      expect((res.body as Envelope).message).toMatch(/Ollama request failed/);
    } finally {
      await app.close();
    }
  });
});
