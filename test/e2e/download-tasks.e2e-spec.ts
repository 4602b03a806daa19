import { FakeHfHub, type FakeHfRepo } from '@test/fakes/fake-hf-hub';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount, TestAccount } from '@test/support/auth';
import { emitWithAck, nextEvent, SocketTracker } from '@test/support/socket-client';
import { JobQueue } from '@app/queue';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import {
  DOWNLOAD_COMPLETED_EVENT,
  DownloadTaskService,
  type DownloadCompletedEvent,
} from 'src/modules/download/tasks/download-task.service';
import { DataSource } from 'typeorm';

/**
 * Download tasks against the fake hub (302 to its CDN with Range): a full download in the
 * Hugging Face cache layout, pause/resume without refetching, cancel removing the partial
 * files, admin-only control, reads scoped to the owner, and the socket events of a task.
 */

type Json = Record<string, any>;
interface Envelope<T = Json> {
  code: string;
  message: string;
  data: T;
}

describe('Download tasks (e2e)', () => {
  let t: TestApp;
  let hub: FakeHfHub;
  let admin: TestAccount & { token: string };
  let member: TestAccount;
  let small: FakeHfRepo;
  let big: FakeHfRepo;
  let big2: FakeHfRepo;
  let big3: FakeHfRepo;
  const sockets = new SocketTracker();
  const BIG = 2 * 1024 * 1024;

  beforeAll(async () => {
    hub = await FakeHfHub.create();
    small = hub.addRepo({
      id: 'acme/tiny-gguf',
      files: [
        { path: 'README.md', content: '# tiny' },
        { path: 'config.json', content: '{"a":1}' },
        { path: 'model-q4.gguf', size: 300_000 },
        { path: 'fp16/model-f16.gguf', size: 200_000 },
      ],
    });
    big = hub.addRepo({ id: 'acme/big-model', files: [{ path: 'model.gguf', size: BIG }] });
    big2 = hub.addRepo({ id: 'acme/big-model-2', files: [{ path: 'model.gguf', size: BIG }] });
    big3 = hub.addRepo({ id: 'acme/big-model-3', files: [{ path: 'model.gguf', size: BIG }] });
    t = await createTestApp({
      env: {
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
        HF_ENDPOINT: hub.url,
        DOWNLOAD_PART_MIN_BYTES: String(256 * 1024),
        DOWNLOAD_MAX_PARTS: '8',
      },
    });
    const a = await createAccount(t);
    const token = await t.token(a.id, 'admin');
    admin = { ...a, token, auth: { Authorization: `Bearer ${token}` } };
    member = await createAccount(t);
  });
  afterAll(async () => {
    sockets.closeAll();
    await t?.close();
    await hub?.stop();
  });
  beforeEach(() => {
    hub.switches.throttleBytesPerSec = undefined;
    hub.requests.length = 0;
  });

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
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const repoDir = (repo: string) =>
    path.join(t.config.modelsDir, `models--${repo.replace('/', '--')}`);
  const sha256 = async (p: string) =>
    createHash('sha256')
      .update(await fsp.readFile(p))
      .digest('hex');
  const partFiles = async (repo: string) =>
    (await fsp.readdir(path.join(repoDir(repo), 'blobs')).catch(() => [])).filter((f) =>
      f.includes('.part'),
    );
  const rangeBytes = (h: string | string[] | undefined, size: number) => {
    const m = /bytes=(\d+)-(\d*)/.exec(Array.isArray(h) ? h.join(',') : (h ?? ''));
    if (!m) return { start: 0, bytes: size };
    const end = m[2] ? Number(m[2]) : size - 1;
    return { start: Number(m[1]), bytes: end - Number(m[1]) + 1 };
  };

  it('downloads the files matching the globs into the cache layout', async () => {
    const res = await post('/downloads', {
      source: 'huggingface',
      model_id: small.id,
      files: ['*.gguf', '*.json'],
    });
    expect(res).toMatchObject({ code: 'success', message: 'Download started' });
    expect(res.data).toMatchObject({ commit: small.sha, revision: 'main', total_size: 300_007 });
    const done = await waitFor(res.data.id, (d) => d.status === 'completed');
    expect(done).toMatchObject({ progress: 100, downloaded_size: 300_007, queue_position: null });
    const snap = path.join(repoDir(small.id), 'snapshots', small.sha);
    expect(done.local_path).toBe(snap);
    for (const f of small.files.filter((x) => ['model-q4.gguf', 'config.json'].includes(x.path))) {
      expect((await fsp.lstat(path.join(snap, f.path))).isSymbolicLink()).toBe(true);
      expect(await sha256(path.join(snap, f.path))).toBe(f.sha256);
    }
    // `*.gguf` stays in the top folder; README.md matches nothing.
    await expect(fsp.access(path.join(snap, 'fp16'))).rejects.toThrow();
    await expect(fsp.access(path.join(snap, 'README.md'))).rejects.toThrow();
    expect(await fsp.readFile(path.join(repoDir(small.id), 'refs', 'main'), 'utf8')).toBe(
      small.sha,
    );
    // The registry records the finished snapshot (format and size read from the files).
    let entry: any;
    for (const until = Date.now() + 5000; ;) {
      entry = (
        await get(
          `/models?source=huggingface&search_word=${encodeURIComponent(small.id.split('/')[1])}`,
        )
      ).data.list[0];
      if (entry?.status === 'downloaded' || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(entry).toMatchObject({ model_id: small.id, status: 'downloaded', format: 'gguf' });
    const storage = await get('/downloads/storage');
    expect(storage.data.used_bytes).toBeGreaterThanOrEqual(300_007);
    expect(storage.data.free_bytes).toBeGreaterThan(0);
    expect(storage.data.models_dir).toBe(t.config.modelsDir);
    // A member sees the figures, not where the models live on the server.
    const seen = await get('/downloads/storage', member);
    expect(seen.data).toEqual({ ...storage.data, models_dir: '' });

    // Delete removes the snapshot and its blobs.
    expect(await post(`/downloads/${res.data.id}/delete`, {})).toMatchObject({
      code: 'success',
      message: 'Download deleted',
    });
    await expect(fsp.access(snap)).rejects.toThrow();
    expect((await get(`/downloads/${res.data.id}`)).code).toBe('not_found');
  });

  it('fails on a checksum mismatch, then resumes to completion; the registry hears of it', async () => {
    const heard: DownloadCompletedEvent[] = [];
    t.app.get(EventEmitter2).on(DOWNLOAD_COMPLETED_EVENT, (e: DownloadCompletedEvent) => {
      heard.push(e);
    });
    hub.switches.wrongBytes = true;
    const res = await post('/downloads', {
      source: 'huggingface',
      model_id: small.id,
      files: ['model-q4.gguf'],
    });
    const id = res.data.id as string;
    const failed = await waitFor(id, (d) => d.status === 'failed');
    expect(failed.error).toMatch(/checksum_mismatch/);
    expect(heard).toEqual([]);
    hub.switches.wrongBytes = false;
    await post(`/downloads/${id}/resume`, {});
    const done = await waitFor(id, (d) => d.status === 'completed');
    expect(done.error).toBe('');
    expect(heard).toEqual([
      expect.objectContaining({
        task_id: id,
        model_id: small.id,
        commit: small.sha,
        local_path: done.local_path,
        files: [{ path: 'model-q4.gguf', size: 300_000 }],
      }),
    ]);
    await post(`/downloads/${id}/delete`, {});
  });

  it('refuses a hub whose tree lists a path outside the snapshot: nothing is stored', async () => {
    const hostile = hub.addRepo({
      id: 'acme/escaping-tree',
      files: [
        { path: 'config.json', content: '{}' },
        { path: '../../../../outside.txt', content: 'x' },
      ],
    });
    const res = await post('/downloads', { source: 'huggingface', model_id: hostile.id });
    expect(res.code).toBe('fail');
    expect(res.message).toMatch(
      /will not store .*Invalid file path "\.\.\/\.\.\/\.\.\/\.\.\/outside\.txt"/,
    );
    const list = await get(`/downloads?page_size=50`);
    expect(list.data.list.map((d: Json) => d.model_id)).not.toContain(hostile.id);
    await expect(fsp.access(repoDir(hostile.id))).rejects.toThrow();
  });

  it('refuses a repository name with "--" (it would share a cache folder)', async () => {
    const res = await post('/downloads', { source: 'huggingface', model_id: 'acme--x/model' });
    expect(res).toMatchObject({ code: 'validate_error' });
    expect(res.message).toMatch(/no "--"/);
  });

  it('keeps the blobs and links an open task of the repository uses when another is deleted', async () => {
    const first = await post('/downloads', {
      source: 'huggingface',
      model_id: small.id,
      files: ['config.json'],
    });
    await waitFor(first.data.id, (d) => d.status === 'completed');
    // The second task finds config.json's blob already there, then pauses on the big file.
    hub.switches.throttleBytesPerSec = 50 * 1024;
    const second = await post('/downloads', {
      source: 'huggingface',
      model_id: small.id,
      files: ['config.json', 'model-q4.gguf'],
    });
    await waitFor(second.data.id, (d) => d.status === 'downloading' && d.downloaded_size > 0);
    expect((await post(`/downloads/${second.data.id}/pause`, {})).code).toBe('success');
    await waitFor(second.data.id, (d) => d.status === 'paused');
    const config = small.files.find((f) => f.path === 'config.json')!;
    const link = path.join(repoDir(small.id), 'snapshots', small.sha, 'config.json');
    expect((await post(`/downloads/${first.data.id}/delete`, {})).code).toBe('success');
    // The paused task still plans config.json: its link and blob stay, and so does its partial.
    expect(await sha256(link)).toBe(config.sha256);
    expect(await partFiles(small.id)).not.toHaveLength(0);
    hub.switches.throttleBytesPerSec = undefined;
    await post(`/downloads/${second.data.id}/resume`, {});
    await waitFor(second.data.id, (d) => d.status === 'completed');
    expect(await sha256(link)).toBe(config.sha256);
    expect((await post(`/downloads/${second.data.id}/delete`, {})).code).toBe('success');
    await expect(fsp.lstat(link)).rejects.toThrow();
    await expect(fsp.access(path.join(repoDir(small.id), 'blobs', config.oid))).rejects.toThrow();
  });

  it('refuses to resume a failed task while another task of the repository is open', async () => {
    hub.switches.wrongBytes = true;
    const failedTask = await post('/downloads', {
      source: 'huggingface',
      model_id: big2.id,
    });
    await waitFor(failedTask.data.id, (d) => d.status === 'failed');
    hub.switches.wrongBytes = false;
    hub.switches.throttleBytesPerSec = 50 * 1024;
    const open = await post('/downloads', { source: 'huggingface', model_id: big2.id });
    expect(open.code).toBe('success');
    await waitFor(open.data.id, (d) => d.status === 'downloading');
    const resumed = await post(`/downloads/${failedTask.data.id}/resume`, {});
    expect(resumed).toMatchObject({ code: 'validate_error' });
    expect(resumed.message).toMatch(/already queued, running or paused/);
    expect((await get(`/downloads/${failedTask.data.id}`)).data.status).toBe('failed');
    await post(`/downloads/${open.data.id}/cancel`, {});
    await post(`/downloads/${open.data.id}/delete`, {});
    await post(`/downloads/${failedTask.data.id}/delete`, {});
  });

  it('opens one task when two requests for the same model race', async () => {
    hub.switches.throttleBytesPerSec = 50 * 1024;
    const [a, b] = await Promise.all([
      post('/downloads', { source: 'huggingface', model_id: big3.id }),
      post('/downloads', { source: 'huggingface', model_id: big3.id }),
    ]);
    const codes = [a.code, b.code].sort();
    expect(codes).toEqual(['success', 'validate_error']);
    const loser = a.code === 'success' ? b : a;
    expect(loser.message).toMatch(/already queued, running or paused/);
    const winner = a.code === 'success' ? a : b;
    await post(`/downloads/${winner.data.id}/cancel`, {});
    await post(`/downloads/${winner.data.id}/delete`, {});
  });

  it('refuses globs that match nothing', async () => {
    const res = await post('/downloads', {
      source: 'huggingface',
      model_id: small.id,
      files: ['*.onnx'],
    });
    expect(res.code).not.toBe('success');
  });

  it.each(['http://169.254.169.254', 'http://10.20.30.40:8080', 'http://[::ffff:a00:1]:9'])(
    'fails at once when the hub redirects the file to %s (no retries)',
    async (origin) => {
      hub.cdnOrigin = origin;
      try {
        const res = await post('/downloads', {
          source: 'huggingface',
          model_id: small.id,
          files: ['model-q4.gguf'],
        });
        const failed = await waitFor(res.data.id as string, (d) => d.status === 'failed');
        expect(failed.error).toMatch(/^refused: model-q4\.gguf: .*(blocked|not allowed|private)/i);
        // One resolve per Range part (two here), never a retry of a refused hop.
        const resolves = hub.requests.filter((r) => r.path.includes('/resolve/'));
        expect(resolves.length).toBeGreaterThan(0);
        expect(resolves.length).toBeLessThanOrEqual(2);
        expect(hub.requestsTo('/cdn/')).toEqual([]);
        await post(`/downloads/${res.data.id}/delete`, {});
      } finally {
        hub.cdnOrigin = undefined;
      }
    },
  );

  it('pauses, then resumes from the partial file without refetching it', async () => {
    hub.switches.throttleBytesPerSec = 100 * 1024;
    const res = await post('/downloads', { source: 'huggingface', model_id: big.id });
    const id = res.data.id as string;
    await waitFor(id, (d) => d.status === 'downloading' && d.downloaded_size > 256 * 1024);
    const t0 = Date.now();
    expect(await post(`/downloads/${id}/pause`, {})).toMatchObject({
      code: 'success',
      message: 'Download paused',
    });
    // Stopped within about a second (slack for a loaded machine).
    expect(Date.now() - t0).toBeLessThan(2000);
    const paused = await waitFor(id, (d) => d.status === 'paused');
    expect(await partFiles(big.id)).not.toHaveLength(0);
    await new Promise((r) => setTimeout(r, 300));
    hub.requests.length = 0;
    hub.switches.throttleBytesPerSec = undefined;
    expect((await post(`/downloads/${id}/resume`, {})).message).toBe('Download resumed');
    await waitFor(id, (d) => d.status === 'completed');
    const cdn = hub.requests.filter((r) => r.path.startsWith('/cdn/') && r.method === 'GET');
    const fetched = cdn.reduce((n, r) => n + rangeBytes(r.headers.range, BIG).bytes, 0);
    expect(paused.downloaded_size).toBeGreaterThan(0);
    // Only what the sidecar did not record is fetched again.
    expect(fetched).toBeLessThan(BIG);
    expect(cdn.every((r) => r.headers.range !== undefined)).toBe(true);
    expect(await sha256(path.join(repoDir(big.id), 'snapshots', big.sha, 'model.gguf'))).toBe(
      big.files[0].sha256,
    );
    expect(await partFiles(big.id)).toHaveLength(0);
    await post(`/downloads/${id}/delete`, {});
  });

  it('stops when another process pauses the task (the row says so)', async () => {
    hub.switches.throttleBytesPerSec = 50 * 1024;
    const res = await post('/downloads', { source: 'huggingface', model_id: big.id });
    const id = res.data.id as string;
    await waitFor(id, (d) => d.status === 'downloading' && d.downloaded_size > 0);
    await t.app
      .get(DataSource)
      .query(`UPDATE download_tasks SET status = 'paused' WHERE id = $1`, [id]);
    const service = t.app.get(DownloadTaskService);
    const end = Date.now() + 3000;
    while (service['live'].has(id) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(service['live'].has(id)).toBe(false);
    expect((await get(`/downloads/${id}`)).data.status).toBe('paused');
    expect(await partFiles(big.id)).not.toHaveLength(0);
    await post(`/downloads/${id}/delete`, {});
    expect(await partFiles(big.id)).toHaveLength(0);
  });

  it('cancels a download and removes its partial files', async () => {
    hub.switches.throttleBytesPerSec = 50 * 1024;
    const res = await post('/downloads', { source: 'huggingface', model_id: big.id });
    const id = res.data.id as string;
    await waitFor(id, (d) => d.status === 'downloading' && d.downloaded_size > 0);
    expect(await post(`/downloads/${id}/cancel`, {})).toMatchObject({
      code: 'success',
      message: 'Download cancelled',
    });
    expect((await get(`/downloads/${id}`)).data.status).toBe('cancelled');
    expect(await partFiles(big.id)).toHaveLength(0);
    await expect(
      fsp.access(path.join(repoDir(big.id), 'snapshots', big.sha, 'model.gguf')),
    ).rejects.toThrow();
    expect((await post(`/downloads/${id}/resume`, {})).code).not.toBe('success');
  });

  it('lets only admins create and control; other accounts do not see the task', async () => {
    const denied = await post('/downloads', { source: 'huggingface', model_id: small.id }, member);
    expect(denied.code).toBe('forbidden');
    hub.switches.throttleBytesPerSec = 50 * 1024;
    const res = await post('/downloads', { source: 'huggingface', model_id: big.id });
    const id = res.data.id as string;
    for (const action of ['pause', 'resume', 'cancel', 'delete']) {
      expect((await post(`/downloads/${id}/${action}`, {}, member)).code).toBe('forbidden');
    }
    expect((await get(`/downloads/${id}`, member)).code).toBe('not_found');
    const list = await get('/downloads', member);
    expect(list.data.list.map((d: Json) => d.id)).not.toContain(id);
    expect((await get('/downloads/queue', member)).data.active).toEqual([]);
    const q = await get('/downloads/queue');
    expect(q.data.max_active).toBe(2);
    expect([...q.data.active, ...q.data.pending].map((d: Json) => d.id)).toContain(id);
    const other = await sockets.connect(t.url, member.access_token);
    expect((await emitWithAck<Json>(other, 'subscribe_download', { task_id: id })).ok).toBe(false);
    await post(`/downloads/${id}/delete`, {});
  });

  it('runs at most DOWNLOAD_MAX_TASKS at once; the others wait with a queue position', async () => {
    hub.switches.throttleBytesPerSec = 20 * 1024;
    const ids: string[] = [];
    for (const repo of [big, big2, big3]) {
      const res = await post('/downloads', { source: 'huggingface', model_id: repo.id });
      expect(res.code).toBe('success');
      ids.push(res.data.id as string);
    }
    // One repository is downloaded by one task at a time.
    expect((await post('/downloads', { source: 'huggingface', model_id: big.id })).code).toBe(
      'validate_error',
    );
    await waitFor(ids[0], (d) => d.status === 'downloading');
    await waitFor(ids[1], (d) => d.status === 'downloading');
    const third = await get(`/downloads/${ids[2]}`);
    expect(third.data).toMatchObject({ status: 'pending', queue_position: 1 });
    const q = await get('/downloads/queue');
    expect(q.data.active.map((d: Json) => d.id).sort()).toEqual(ids.slice(0, 2).sort());
    expect(q.data.pending).toMatchObject([{ id: ids[2], queue_position: 1 }]);
    // A slot freed by a pause goes to the waiting task.
    await post(`/downloads/${ids[0]}/pause`, {});
    await waitFor(ids[2], (d) => d.status === 'downloading');
    for (const id of ids) await post(`/downloads/${id}/delete`, {});
  });

  it('sends the snapshot, monotonic progress and the completion to the task room', async () => {
    hub.switches.throttleBytesPerSec = 400 * 1024;
    const res = await post('/downloads', { source: 'huggingface', model_id: big.id });
    const id = res.data.id as string;
    const socket = await sockets.connect(t.url, admin.token);
    const events: Array<[string, Json]> = [];
    socket.onAny((event: string, payload: Json) => events.push([event, payload]));
    const completed = nextEvent(socket, 'download_completed', (p) => p.id === id, 20_000);
    expect((await emitWithAck<Json>(socket, 'subscribe_download', { task_id: id })).ok).toBe(true);
    await completed;
    const names = events.map(([e]) => e).filter((e) => e.startsWith('download_'));
    // The room is joined before the snapshot is read, so a progress frame may precede it.
    expect(names).toContain('download_status');
    expect(names.indexOf('download_status')).toBeLessThan(names.indexOf('download_completed'));
    expect(names.at(-1)).toBe('download_completed');
    const progress = events.filter(([e]) => e === 'download_progress').map(([, p]) => p);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.every((p) => p.task_id === id && p.total_size === BIG)).toBe(true);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i].downloaded_size).toBeGreaterThanOrEqual(progress[i - 1].downloaded_size);
    }
    expect(progress.at(-1)!.downloaded_size).toBe(BIG);
    expect(names).toContain('download_status_change');
    await post(`/downloads/${id}/delete`, {});
  });

  it('cleans partial files no resumable task needs, and only old ones', async () => {
    const blobs = path.join(t.config.modelsDir, 'models--acme--abandoned', 'blobs');
    await fsp.mkdir(blobs, { recursive: true });
    const kept = 'a'.repeat(64); // planned by a paused task: a resume needs it
    const orphan = 'b'.repeat(64); // no task: removed once old
    const fresh = 'c'.repeat(64); // no task, but written just now: kept
    const finished = 'd'.repeat(64); // a finished blob: never touched
    for (const oid of [kept, orphan, fresh]) {
      await fsp.writeFile(path.join(blobs, `${oid}.part`), 'x');
      await fsp.writeFile(path.join(blobs, `${oid}.part.json`), '{}');
    }
    await fsp.writeFile(path.join(blobs, finished), 'done');
    const old = new Date(Date.now() - 48 * 3_600_000);
    for (const oid of [kept, orphan, finished]) {
      for (const f of [`${oid}.part`, `${oid}.part.json`, oid]) {
        await fsp.utimes(path.join(blobs, f), old, old).catch(() => undefined);
      }
    }
    await t.app.get(DataSource).query(
      `INSERT INTO download_tasks (account_id, source, model_id, revision, commit, plan, status)
       VALUES ($1, 'huggingface', 'acme/abandoned', 'main', $2, $3, 'paused')`,
      [
        admin.id,
        'e'.repeat(40),
        JSON.stringify({
          repo: 'acme/abandoned',
          ref: 'main',
          files: [{ path: 'm.gguf', size: 1, sha256: kept, url: 'http://127.0.0.1/x' }],
        }),
      ],
    );
    const jobs = t.app.get(JobQueue);
    const job = await jobs.enqueue('download.clean-partials', { older_than_hours: 24 });
    const done = await jobs.waitFor(job.id, 10_000);
    expect(done).toMatchObject({ status: 'completed', result: { removed: 2 } });
    const left = (await fsp.readdir(blobs)).sort();
    expect(left).toEqual(
      [`${kept}.part`, `${kept}.part.json`, `${fresh}.part`, `${fresh}.part.json`, finished].sort(),
    );
  });
});
