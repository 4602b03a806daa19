import {
  AuthPrincipal,
  FailException,
  isUuid,
  NotFoundError,
  paginate,
  type Page,
  toUnix,
  ValidateError,
} from '@app/common';
import { AppConfig } from '@app/config';
import { isUniqueViolation } from '@app/database';
import { OutboundHttpClient } from '@app/http';
import { JobAbortedError, JobQueue } from '@app/queue';
import { RealtimeEmitter, RealtimeSubscriptions } from '@app/realtime';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { In, MoreThan, Not, Repository } from 'typeorm';
import {
  ConnectionLimiter,
  DownloadError,
  downloaderSettings,
  blobOid,
  SnapshotDownloader,
  validateSnapshotPlan,
  type DownloadProgress,
  type SnapshotFile,
} from '../downloader';
import {
  CreateDownloadReqDto,
  DownloadQueueDto,
  DownloadStorageDto,
  DownloadTaskDto,
  ListDownloadsReqDto,
} from '../dto/download-task.dto';
import { HuggingFaceClient, validateRepoId, validateRevision } from '../sources/huggingface.client';
import { OllamaClient } from '../sources/ollama.client';
import { DownloadTaskEntity, type DownloadTaskStatus } from './download-task.entity';
import { globToRegExp, matchesAny } from './glob';
import {
  type DownloadRunner,
  OLLAMA_MODEL_REMOVED_EVENT,
  ollamaPullTarget,
  ollamaTaskRow,
  OllamaPullRunner,
  type OllamaModelRemovedEvent,
} from './ollama-pull.runner';

export const downloadRoom = (taskId: string): string => `download:${taskId}`;
/** Emitted (EventEmitter2) when a snapshot is complete on disk: the model registry's hook. */
export const DOWNLOAD_COMPLETED_EVENT = 'download.completed';
export interface DownloadCompletedEvent {
  task_id: string;
  account_id: string;
  source: string;
  model_id: string;
  revision: string;
  commit: string;
  /** The snapshot folder: MODELS_DIR/models--owner--name/snapshots/<commit>; '' for Ollama. */
  local_path: string;
  files: Array<{ path: string; size: number }>;
}

const NOT_FOUND = 'Download task not found';
const DISK_MARGIN = 100 * 1024 * 1024;
const DB_WRITE_MS = 1000;
/** A `downloading` row not written for this long no longer holds a task slot (a dead process). */
const SLOT_STALE_MS = 30_000;
const SLOT_HEARTBEAT_MS = 5_000;
const SLOT_POLL_MS = 1_000;
/** How long one walk of MODELS_DIR answers GET /downloads/storage. */
const STORAGE_READ_MS = 5_000;

/** A counting semaphore for whole tasks (DOWNLOAD_MAX_TASKS), abortable while waiting. */
class TaskSlots {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(private readonly max: number) {}

  async acquire(signal: AbortSignal): Promise<(() => void) | null> {
    if (this.active < this.max) {
      this.active++;
      return this.releaser();
    }
    const got = await new Promise<boolean>((resolve) => {
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(wake);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      };
      if (signal.aborted) return resolve(false);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(wake);
    });
    return got ? this.releaser() : null;
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiters.shift();
      // The slot passes straight to the next waiter.
      if (next) next();
      else this.active--;
    };
  }
}

interface LiveTask {
  /** Aborted by pause/cancel/delete while the task waits for a slot. */
  waiting: AbortController;
  downloader?: DownloadRunner;
  /** Settles when the job's run is over (a resume waits for it before touching the files). */
  done: Promise<void>;
}

/**
 * Download tasks: the plan (tree + globs at one commit), the `download.snapshot` job running
 * SnapshotDownloader under one process-wide ConnectionLimiter (or, for source `ollama`, an
 * OllamaPullRunner), at most DOWNLOAD_MAX_TASKS at once, progress on the row (≤ 1/s) and to the
 * task's socket room (≤ 4/s), and the controls.
 */
@Injectable()
export class DownloadTaskService implements OnModuleInit {
  private readonly logger = new Logger('Downloads');
  private readonly limiter: ConnectionLimiter;
  private readonly slots: TaskSlots;
  private readonly live = new Map<string, LiveTask>();
  private storageRead?: { at: number; read: Promise<DownloadStorageDto> };
  private readonly settings: ReturnType<typeof downloaderSettings>;

  constructor(
    @InjectRepository(DownloadTaskEntity) private readonly tasks: Repository<DownloadTaskEntity>,
    private readonly config: AppConfig,
    private readonly http: OutboundHttpClient,
    private readonly hf: HuggingFaceClient,
    private readonly ollama: OllamaClient,
    private readonly queue: JobQueue,
    private readonly realtime: RealtimeEmitter,
    private readonly subscriptions: RealtimeSubscriptions,
    private readonly events: EventEmitter2,
  ) {
    this.settings = downloaderSettings(config);
    this.limiter = new ConnectionLimiter(this.settings.maxConnections);
    this.slots = new TaskSlots(config.env.DOWNLOAD_MAX_TASKS);
  }

  onModuleInit(): void {
    this.subscriptions.register<{ task_id?: unknown }>({
      subscribe: 'subscribe_download',
      room: (p) =>
        typeof p?.task_id === 'string' && isUuid(p.task_id) ? downloadRoom(p.task_id) : null,
      authorize: async (accountId, p, role) =>
        (await this.tasks.count({
          where:
            role === 'admin'
              ? { id: p.task_id as string }
              : { id: p.task_id as string, account_id: accountId },
        })) > 0,
      snapshot: async (_accountId, p) => {
        const task = await this.tasks.findOne({ where: { id: p.task_id as string } });
        return task ? { event: 'download_status', data: { ...(await this.toDto(task)) } } : null;
      },
    });
  }

  // ---- reads ----

  async list(principal: AuthPrincipal, q: ListDownloadsReqDto): Promise<Page<DownloadTaskDto>> {
    const qb = this.tasks.createQueryBuilder('t').orderBy('t.created_at', 'DESC');
    if (principal.role !== 'admin') qb.where('t.account_id = :a', { a: principal.accountId });
    if (q.status) qb.andWhere('t.status = :s', { s: q.status });
    const positions = await this.positions();
    return paginate(qb, q, (t) => this.toDtoSync(t, positions));
  }

  async get(principal: AuthPrincipal, id: string): Promise<DownloadTaskDto> {
    return this.toDto(await this.find(principal, id));
  }

  async queueView(principal: AuthPrincipal): Promise<DownloadQueueDto> {
    const rows = await this.tasks.find({
      where: {
        status: In(['downloading', 'pending']),
        ...(principal.role === 'admin' ? {} : { account_id: principal.accountId }),
      },
      order: { created_at: 'ASC' },
    });
    const positions = await this.positions();
    const dtos = rows.map((t) => this.toDtoSync(t, positions));
    return {
      active: dtos.filter((d) => d.status === 'downloading'),
      pending: dtos
        .filter((d) => d.status === 'pending')
        .sort((a, b) => (a.queue_position ?? 0) - (b.queue_position ?? 0)),
      max_active: this.config.env.DOWNLOAD_MAX_TASKS,
    };
  }

  /**
   * Disk use of MODELS_DIR. The walk of the tree is shared by the requests of a few seconds (a
   * page polling it must not walk a large model store each time); the path is an admin's to see.
   */
  async storage(principal: AuthPrincipal): Promise<DownloadStorageDto> {
    const now = Date.now();
    if (!this.storageRead || now - this.storageRead.at > STORAGE_READ_MS) {
      const read = this.readStorage();
      this.storageRead = { at: now, read };
      read.catch(() => {
        if (this.storageRead?.read === read) this.storageRead = undefined;
      });
    }
    const found = await this.storageRead.read;
    return { ...found, models_dir: principal.role === 'admin' ? found.models_dir : '' };
  }

  private async readStorage(): Promise<DownloadStorageDto> {
    const dir = this.settings.modelsDir;
    await fsp.mkdir(dir, { recursive: true });
    const st = await fsp.statfs(dir);
    return {
      models_dir: dir,
      used_bytes: await diskUse(dir),
      free_bytes: st.bavail * st.bsize,
      total_bytes: st.blocks * st.bsize,
    };
  }

  // ---- create and control (admins; the controller checks the role) ----

  async create(accountId: string, dto: CreateDownloadReqDto): Promise<DownloadTaskDto> {
    if (dto.source === 'ollama') return this.createOllamaPull(accountId, dto);
    const repo = validateRepoId(dto.model_id);
    const revision = validateRevision(dto.revision ?? 'main');
    const patterns = dto.files ?? [];
    const globs = patterns.map(globToRegExp);
    // Two tasks on one repository would write the same partial blobs.
    const open = await this.tasks.count({
      where: { model_id: repo, status: In(['pending', 'downloading', 'paused']) },
    });
    if (open > 0) throw alreadyOpen();
    const info = await this.hf.modelInfo(repo, revision);
    const commit = info.sha;
    if (!commit || !/^[0-9a-f]{40}$/i.test(commit)) {
      throw new FailException(`Hugging Face gave no commit for ${repo}@${revision}`);
    }
    const tree = await this.hf.fileTree(repo, commit);
    const endpoint = this.config.env.HF_ENDPOINT.replace(/\/+$/, '');
    const files: SnapshotFile[] = tree
      .filter((e) => matchesAny(e.path, globs))
      .map((e) => ({
        path: e.path,
        size: e.lfs?.size ?? e.size,
        ...(e.lfs ? { sha256: e.lfs.oid } : { gitSha1: e.oid }),
        url: `${endpoint}/${repo}/resolve/${commit}/${e.path.split('/').map(encodeURIComponent).join('/')}`,
      }));
    if (files.length === 0) {
      throw new ValidateError(
        { files: ['no file of the repository matches these globs'] },
        'No file of the repository matches these globs',
      );
    }
    try {
      validateSnapshotPlan({ repo, revision: commit, files });
    } catch (err) {
      // A hostile or broken hub (a mirror): nothing of it is stored, nothing is written.
      throw new FailException(
        `Hugging Face listed a file this server will not store for ${repo}: ${(err as Error).message}`,
      );
    }
    const total = files.reduce((n, f) => n + f.size, 0);
    await this.checkDisk(total);
    const task = await openOnce(
      this.tasks.save(
        this.tasks.create({
          account_id: accountId,
          source: 'huggingface',
          model_id: repo,
          revision,
          commit: commit.toLowerCase(),
          file_patterns: patterns,
          plan: { repo, ref: revision, files },
          status: 'pending',
          total_bytes: total,
          file_progress: files.map((f) => ({
            path: f.path,
            size: f.size,
            downloaded: 0,
            status: 'pending' as const,
          })),
        }),
      ),
    );
    await this.enqueue(task.id, accountId);
    return this.toDto(task);
  }

  /** An Ollama pull: Ollama resolves and stores the layers itself, so no plan and no disk check. */
  private async createOllamaPull(
    accountId: string,
    dto: CreateDownloadReqDto,
  ): Promise<DownloadTaskDto> {
    const target = ollamaPullTarget(dto);
    const open = await this.tasks.count({
      where: {
        source: 'ollama',
        model_id: target.model,
        status: In(['pending', 'downloading', 'paused']),
      },
    });
    if (open > 0) throw alreadyOpen();
    await this.ollama.version(); // unreachable: fail now, not in the job
    const task = await openOnce(
      this.tasks.save(this.tasks.create({ account_id: accountId, ...ollamaTaskRow(target) })),
    );
    await this.enqueue(task.id, accountId);
    return this.toDto(task);
  }

  async pause(principal: AuthPrincipal, id: string): Promise<void> {
    const task = await this.find(principal, id);
    if (task.status !== 'pending' && task.status !== 'downloading') {
      throw new ValidateError({}, `A ${task.status} download cannot be paused`);
    }
    await this.stop(task, 'paused');
  }

  async resume(principal: AuthPrincipal, id: string): Promise<void> {
    const task = await this.find(principal, id);
    if (task.status !== 'paused' && task.status !== 'failed') {
      throw new ValidateError({}, `A ${task.status} download cannot be resumed`);
    }
    // Only the request that moves it out of paused/failed enqueues it (two resumes: one job);
    // another open task of the model (uq_download_tasks_open_model) refuses it.
    const moved = await openOnce(
      this.setStatus(task, 'pending', { error: '', speed: 0, eta: null, finished_at: null }, [
        'paused',
        'failed',
      ]),
    );
    if (!moved) throw new ValidateError({}, 'The download changed meanwhile: reload it');
    await this.enqueue(task.id, task.account_id);
  }

  async cancel(principal: AuthPrincipal, id: string): Promise<void> {
    const task = await this.find(principal, id);
    if (task.status === 'completed' || task.status === 'cancelled') {
      throw new ValidateError({}, `A ${task.status} download cannot be cancelled`);
    }
    await this.stop(task, 'cancelled');
    await this.removeFiles(task, false);
  }

  /** Removes the task, its partial files and, for a finished one, its snapshot files. */
  async delete(principal: AuthPrincipal, id: string): Promise<void> {
    const task = await this.find(principal, id);
    if (task.status === 'pending' || task.status === 'downloading') {
      await this.stop(task, 'cancelled');
    }
    await this.removeFiles(task, true);
    await this.tasks.delete({ id: task.id });
  }

  // ---- the job ----

  /** Runs one task to completion, pause, cancel or failure. */
  async run(taskId: string, jobSignal: AbortSignal): Promise<{ status: string }> {
    // A resume right after a pause: the earlier run must let go of the files first.
    await this.live.get(taskId)?.done;
    let finish!: () => void;
    const live: LiveTask = {
      waiting: new AbortController(),
      done: new Promise<void>((r) => (finish = r)),
    };
    this.live.set(taskId, live);
    try {
      return await this.runLive(taskId, jobSignal, live);
    } finally {
      if (this.live.get(taskId) === live) this.live.delete(taskId);
      finish();
    }
  }

  private async runLive(
    taskId: string,
    jobSignal: AbortSignal,
    live: LiveTask,
  ): Promise<{ status: string }> {
    const first = await this.tasks.findOne({ where: { id: taskId } });
    // `downloading` too: a job re-enqueued after a crash finds its row as the crash left it.
    if (!first || (first.status !== 'pending' && first.status !== 'downloading')) {
      return { status: first?.status ?? 'deleted' };
    }
    const waitSignal = AbortSignal.any([jobSignal, live.waiting.signal]);
    const release = await this.slots.acquire(waitSignal);
    if (!release) return this.afterJobAbort(taskId, jobSignal);
    try {
      // Claim one of the DOWNLOAD_MAX_TASKS slots of the whole deployment (api and worker
      // processes apart each hold their own TaskSlots). A pause or cancel while waiting has
      // already changed the status.
      const claim = await this.claimSlot(taskId, waitSignal);
      if (claim === 'aborted') return this.afterJobAbort(taskId, jobSignal);
      if (claim === 'gone') return { status: 'skipped' };
      const task = (await this.tasks.findOne({ where: { id: taskId } }))!;
      this.emitStatus(task);
      return await this.download(task, jobSignal, live);
    } finally {
      release();
    }
  }

  private async download(
    task: DownloadTaskEntity,
    jobSignal: AbortSignal,
    live: LiveTask,
  ): Promise<{ status: string }> {
    let lastWrite = 0;
    let writing: Promise<unknown> = Promise.resolve();
    let last: DownloadProgress | undefined;
    // The token goes only to the hub it belongs to: the plan's URLs may be of an earlier
    // HF_ENDPOINT (a mirror), and the client drops it on a redirect to another host.
    const hub = new URL(this.config.env.HF_ENDPOINT).origin;
    const token =
      task.source === 'huggingface' &&
      task.plan.files.every((f) => URL.canParse(f.url) && new URL(f.url).origin === hub)
        ? this.config.env.HF_TOKEN
        : undefined;
    const onProgress = (p: DownloadProgress) => {
      last = p;
      this.realtime.toRoom(downloadRoom(task.id), 'download_progress', {
        task_id: task.id,
        status: 'downloading',
        progress: percentOf(p),
        downloaded_size: p.downloaded,
        total_size: p.total,
        speed: p.speed,
        eta: p.eta,
        files: p.files,
      });
      const now = Date.now();
      if (now - lastWrite >= DB_WRITE_MS) {
        lastWrite = now;
        writing = writing.then(() =>
          this.tasks
            .update({ id: task.id, status: 'downloading' }, progressColumns(p))
            .catch((e: unknown) => this.logger.warn(`progress write: ${String(e)}`)),
        );
      }
    };
    let downloader: DownloadRunner;
    try {
      downloader =
        task.source === 'ollama'
          ? new OllamaPullRunner(task.model_id, {
              client: this.ollama,
              stallMs: this.settings.stallMs,
              progressIntervalMs: 250,
              resumeFrom: task.file_progress,
              onProgress,
            })
          : new SnapshotDownloader(
              {
                repo: task.plan.repo,
                revision: task.commit,
                ref: task.plan.ref,
                files: task.plan.files,
                headers: token ? { authorization: `Bearer ${token}` } : undefined,
              },
              {
                http: this.http,
                limiter: this.limiter,
                modelsDir: this.settings.modelsDir,
                partMinBytes: this.settings.partMinBytes,
                maxParts: this.settings.maxParts,
                stallMs: this.settings.stallMs,
                progressIntervalMs: 250,
                onProgress,
              },
            );
    } catch (e) {
      // A plan stored before it was checked (or by an older version): the task fails visibly.
      return this.failed(task, e, undefined);
    }
    live.downloader = downloader;
    // Cancel/timeout/shutdown of the job: stop; the files stay for a resume.
    const onJobAbort = () => downloader.pause();
    jobSignal.addEventListener('abort', onJobAbort, { once: true });
    // A pause/cancel/delete answered by another process (api and worker apart) shows in the row;
    // the row's heartbeat keeps this task's slot (claimSlot) while bytes do not flow.
    let beatAt = Date.now();
    const watch = setInterval(() => {
      const beat = Date.now() - beatAt >= SLOT_HEARTBEAT_MS;
      if (beat) beatAt = Date.now();
      void (
        beat
          ? this.tasks.update({ id: task.id, status: 'downloading' }, { updated_at: new Date() })
          : Promise.resolve()
      )
        .then(() =>
          this.tasks.findOne({ where: { id: task.id }, select: { id: true, status: true } }),
        )
        .then((row) => {
          if (!row || row.status === 'cancelled') downloader.cancel();
          else if (row.status === 'paused') downloader.pause();
        })
        .catch(() => undefined);
    }, 1000);
    watch.unref();
    try {
      const outcome = await downloader.start();
      await writing;
      const fresh = await this.tasks.findOne({ where: { id: task.id } });
      if (!fresh) return { status: 'deleted' };
      if (outcome === 'completed') {
        await this.setStatus(fresh, 'completed', {
          ...(last ? progressColumns(last) : {}),
          progress: 100,
          downloaded_bytes: last?.total ?? fresh.total_bytes,
          speed: 0,
          eta: 0,
          finished_at: new Date(),
        });
        const done = (await this.tasks.findOne({ where: { id: task.id } }))!;
        const dto = await this.toDto(done);
        this.realtime.toRoom(downloadRoom(task.id), 'download_completed', { ...dto });
        this.events.emit(DOWNLOAD_COMPLETED_EVENT, {
          task_id: done.id,
          account_id: done.account_id,
          source: done.source,
          model_id: done.model_id,
          revision: done.revision,
          commit: done.commit,
          local_path: dto.local_path,
          // An Ollama task plans no files: its layers are what it fetched.
          files: (done.source === 'ollama' ? done.file_progress : done.plan.files).map((f) => ({
            path: f.path,
            size: f.size,
          })),
        } satisfies DownloadCompletedEvent);
        return { status: 'completed' };
      }
      if (last) await this.tasks.update({ id: task.id }, { ...progressColumns(last), speed: 0 });
      if (jobSignal.aborted && fresh.status === 'downloading') {
        return this.afterJobAbort(task.id, jobSignal);
      }
      return { status: fresh.status };
    } catch (e) {
      await writing;
      return this.failed(task, e, last);
    } finally {
      clearInterval(watch);
      jobSignal.removeEventListener('abort', onJobAbort);
    }
  }

  /** Marks a task that was downloading failed with what went wrong, and tells its room. */
  private async failed(
    task: DownloadTaskEntity,
    e: unknown,
    last: DownloadProgress | undefined,
  ): Promise<{ status: string }> {
    const message =
      e instanceof DownloadError ? `${e.code}: ${e.message}` : (e as Error).message || String(e);
    const fresh = await this.tasks.findOne({ where: { id: task.id } });
    if (fresh && fresh.status === 'downloading') {
      await this.setStatus(fresh, 'failed', {
        ...(last ? progressColumns(last) : {}),
        speed: 0,
        eta: null,
        error: message,
        finished_at: new Date(),
      });
      const failed = (await this.tasks.findOne({ where: { id: task.id } }))!;
      this.realtime.toRoom(downloadRoom(task.id), 'download_failed', {
        ...(await this.toDto(failed)),
      });
    }
    return { status: 'failed' };
  }

  /**
   * Moves the task to `downloading` once fewer than DOWNLOAD_MAX_TASKS other tasks are live in
   * any process. Live = `downloading` with a heartbeat younger than SLOT_STALE_MS: a row a killed
   * process left behind stops counting by itself (its job resumes it later). The count and the
   * claim run under one advisory transaction lock, so two processes cannot both take the last
   * slot. While the slots are full it checks again every SLOT_POLL_MS; the row stays `pending`
   * (its queue position shows) and a pause, cancel or delete ends the wait. A `downloading` row
   * is taken over only once its heartbeat is stale (its process died).
   */
  private async claimSlot(
    taskId: string,
    signal: AbortSignal,
  ): Promise<'claimed' | 'gone' | 'aborted'> {
    const max = this.config.env.DOWNLOAD_MAX_TASKS;
    for (;;) {
      if (signal.aborted) return 'aborted';
      const outcome = await this.tasks.manager.transaction(async (m) => {
        await m.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['llmops:download-slots']);
        const row = await m.findOne(DownloadTaskEntity, {
          where: { id: taskId },
          select: { id: true, status: true, updated_at: true },
        });
        if (!row || (row.status !== 'pending' && row.status !== 'downloading')) return 'gone';
        // A `downloading` row with a live heartbeat is being downloaded elsewhere (a job handed
        // out twice): wait for that run to end or to die, never write the same files beside it.
        // Embedded mode is one process, and run() has waited for this process's earlier run: the
        // row is a killed process's.
        if (
          row.status === 'downloading' &&
          this.config.mode !== 'embedded' &&
          row.updated_at.getTime() > Date.now() - SLOT_STALE_MS
        ) {
          return 'full';
        }
        const live = await m.count(DownloadTaskEntity, {
          where: {
            id: Not(taskId),
            status: 'downloading',
            updated_at: MoreThan(new Date(Date.now() - SLOT_STALE_MS)),
          },
        });
        if (live >= max) return 'full';
        await m.update(
          DownloadTaskEntity,
          { id: taskId },
          { status: 'downloading', started_at: new Date(), error: '' },
        );
        return 'claimed';
      });
      if (outcome !== 'full') return outcome;
      await sleepFor(SLOT_POLL_MS, undefined, { signal }).catch(() => undefined);
    }
  }

  /** The job itself was aborted: a shutdown hands it back to the queue; else it is paused. */
  private async afterJobAbort(taskId: string, signal: AbortSignal): Promise<{ status: string }> {
    const reason: unknown = signal.reason;
    if (reason instanceof JobAbortedError && reason.kind === 'shutdown') {
      await this.tasks.update({ id: taskId, status: 'downloading' }, { status: 'pending' });
      throw reason;
    }
    const task = await this.tasks.findOne({ where: { id: taskId } });
    if (task && (task.status === 'downloading' || task.status === 'pending')) {
      await this.setStatus(task, 'paused', { speed: 0, eta: null });
    }
    return { status: 'paused' };
  }

  // ---- helpers ----

  private async stop(task: DownloadTaskEntity, status: 'paused' | 'cancelled'): Promise<void> {
    // The row first: the job's claim and its end both check it.
    await this.setStatus(task, status, {
      speed: 0,
      eta: null,
      ...(status === 'cancelled' ? { finished_at: new Date() } : {}),
    });
    const live = this.live.get(task.id);
    if (!live) return;
    live.waiting.abort();
    if (status === 'cancelled') live.downloader?.cancel();
    else live.downloader?.pause();
    // Stops within a second: the downloader's transfers end on the abort.
    await Promise.race([live.done, new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  private async enqueue(taskId: string, accountId: string): Promise<void> {
    await this.queue.enqueue(
      'download.snapshot',
      { task_id: taskId },
      // Failures are the task's (resume to retry); a long model may take days.
      { accountId, attempts: 1, timeoutMs: 7 * 24 * 3_600_000 },
    );
  }

  /**
   * Moves the task to `status` (with `extra`), and tells its room. With `from`, only a task still
   * in one of those statuses moves; false when it was not.
   */
  private async setStatus(
    task: DownloadTaskEntity,
    status: DownloadTaskStatus,
    extra: Partial<DownloadTaskEntity> = {},
    from?: DownloadTaskStatus[],
  ): Promise<boolean> {
    const res = await this.tasks.update(
      from ? { id: task.id, status: In(from) } : { id: task.id },
      { status, ...extra },
    );
    if (from && !res.affected) return false;
    Object.assign(task, { status, ...extra });
    this.emitStatus(task);
    return true;
  }

  private emitStatus(task: DownloadTaskEntity): void {
    this.realtime.toRoom(downloadRoom(task.id), 'download_status_change', {
      task_id: task.id,
      status: task.status,
      progress: task.progress,
      downloaded_size: task.downloaded_bytes,
      total_size: task.total_bytes,
      error: task.error || null,
    });
  }

  private async find(principal: AuthPrincipal, id: string): Promise<DownloadTaskEntity> {
    if (!isUuid(id)) throw new NotFoundError(NOT_FOUND);
    const task = await this.tasks.findOne({
      where: principal.role === 'admin' ? { id } : { id, account_id: principal.accountId },
    });
    if (!task) throw new NotFoundError(NOT_FOUND);
    return task;
  }

  private async checkDisk(bytes: number): Promise<void> {
    const dir = this.settings.modelsDir;
    await fsp.mkdir(dir, { recursive: true });
    const st = await fsp.statfs(dir);
    const free = st.bavail * st.bsize;
    if (free < bytes + DISK_MARGIN) {
      throw new ValidateError(
        { files: ['not enough disk space'] },
        `Not enough disk space in MODELS_DIR: ${bytes} bytes needed plus ${DISK_MARGIN} spare, ${free} free`,
      );
    }
  }

  private repoDir(task: DownloadTaskEntity): string {
    const [owner, name] = task.model_id.split('/');
    return path.join(this.settings.modelsDir, `models--${owner}--${name}`);
  }

  /**
   * Partial files of the plan; with `snapshot`, also its snapshot links and blobs. What another
   * task of the same repository still uses stays: its blobs and links (any task not cancelled:
   * a finished one lists them, an open or failed one will), and the partial blobs an open or
   * failed task resumes from. Only names inside the repository's folder are ever removed.
   */
  private async removeFiles(task: DownloadTaskEntity, snapshot: boolean): Promise<void> {
    if (task.source === 'ollama') {
      // Ollama keeps partial blobs itself (pruned when it restarts); a finished pull is a model.
      if (snapshot && task.status === 'completed') await this.removeOllamaModel(task);
      return;
    }
    const repoDir = this.repoDir(task);
    const blobs = path.join(repoDir, 'blobs');
    const snapshotDir = path.join(repoDir, 'snapshots', task.commit);
    const keepParts = new Set<string>();
    const keepBlobs = new Set<string>();
    const keepLinks = new Set<string>();
    const others = await this.tasks.find({
      where: { id: Not(task.id), source: 'huggingface', model_id: task.model_id },
    });
    for (const o of others) {
      if (o.status === 'cancelled') continue;
      for (const f of o.plan.files) {
        const oid = blobOid(f);
        if (oid === null) continue;
        if (o.status !== 'completed') keepParts.add(oid);
        keepBlobs.add(oid);
        if (o.commit === task.commit) keepLinks.add(f.path);
      }
    }
    for (const f of task.plan.files) {
      const oid = blobOid(f);
      if (oid === null) continue;
      if (!keepParts.has(oid)) {
        await fsp.rm(path.join(blobs, `${oid}.part`), { force: true });
        await fsp.rm(path.join(blobs, `${oid}.part.json`), { force: true });
      }
      if (!snapshot) continue;
      if (!keepBlobs.has(oid)) await fsp.rm(path.join(blobs, oid), { force: true });
      const link = path.join(snapshotDir, ...String(f.path).split('/'));
      if (!keepLinks.has(f.path) && isInside(snapshotDir, link))
        await fsp.rm(link, { force: true });
    }
    if (snapshot && isInside(repoDir, snapshotDir)) await removeEmptyDirs(snapshotDir);
  }

  /** Deletes the pulled model from Ollama unless another completed task pulled it too. */
  private async removeOllamaModel(task: DownloadTaskEntity): Promise<void> {
    const others = await this.tasks.count({
      where: { source: 'ollama', model_id: task.model_id, status: 'completed', id: Not(task.id) },
    });
    if (others > 0) return;
    // Already gone from Ollama (removed by hand): nothing to do, the task still goes.
    await this.ollama.deleteModel(task.model_id);
    this.events.emit(OLLAMA_MODEL_REMOVED_EVENT, {
      model_id: task.model_id,
    } satisfies OllamaModelRemovedEvent);
  }

  /** Pending tasks in order (created first, first served): id -> 1-based position. */
  private async positions(): Promise<Map<string, number>> {
    const pending = await this.tasks.find({
      where: { status: 'pending' },
      select: { id: true },
      order: { created_at: 'ASC' },
    });
    return new Map(pending.map((t, i) => [t.id, i + 1]));
  }

  private async toDto(t: DownloadTaskEntity): Promise<DownloadTaskDto> {
    return this.toDtoSync(t, t.status === 'pending' ? await this.positions() : new Map());
  }

  private toDtoSync(t: DownloadTaskEntity, positions: Map<string, number>): DownloadTaskDto {
    return {
      id: t.id,
      account_id: t.account_id,
      source: t.source,
      model_id: t.model_id,
      revision: t.revision,
      commit: t.commit,
      file_patterns: t.file_patterns,
      status: t.status,
      progress: t.progress,
      downloaded_size: t.downloaded_bytes,
      total_size: t.total_bytes,
      speed: t.speed,
      eta: t.eta,
      error: t.error,
      files: t.file_progress,
      queue_position: t.status === 'pending' ? (positions.get(t.id) ?? null) : null,
      // Ollama keeps its models in its own store: they are addressed by model_id.
      local_path: t.source === 'ollama' ? '' : path.join(this.repoDir(t), 'snapshots', t.commit),
      started_at: t.started_at ? toUnix(t.started_at) : null,
      finished_at: t.finished_at ? toUnix(t.finished_at) : null,
      created_at: toUnix(t.created_at),
      updated_at: toUnix(t.updated_at),
    };
  }
}

function percent(done: number, total: number): number {
  return total > 0 ? Math.floor((done / total) * 10000) / 100 : 100;
}

function percentOf(p: DownloadProgress): number {
  return p.percent ?? percent(p.downloaded, p.total);
}

/** A write that would open a second download of a model (a race the checks lost) as alreadyOpen. */
async function openOnce<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (err) {
    if (isUniqueViolation(err)) throw alreadyOpen();
    throw err;
  }
}

function alreadyOpen(): ValidateError {
  return new ValidateError(
    { model_id: ['a download of this model is already queued, running or paused'] },
    'A download of this model is already queued, running or paused',
  );
}

function progressColumns(p: DownloadProgress): Partial<DownloadTaskEntity> {
  return {
    progress: percentOf(p),
    downloaded_bytes: p.downloaded,
    // Fixed by the plan for Hugging Face; grows as Ollama announces layers.
    total_bytes: p.total,
    speed: p.speed,
    eta: p.eta,
    file_progress: p.files,
  };
}

async function diskUse(dir: string): Promise<number> {
  let total = 0;
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await diskUse(p);
    else if (e.isFile()) total += (await fsp.lstat(p)).size;
  }
  return total;
}

async function removeEmptyDirs(dir: string): Promise<boolean> {
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => null);
  if (!entries) return true;
  let empty = true;
  for (const e of entries) {
    if (!e.isDirectory() || !(await removeEmptyDirs(path.join(dir, e.name)))) empty = false;
  }
  if (empty) await fsp.rmdir(dir).catch(() => undefined);
  return empty;
}

/** Whether `target` is `dir` itself or a path below it (after resolving "..", no symlinks). */
function isInside(dir: string, target: string): boolean {
  const rel = path.relative(dir, target);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
