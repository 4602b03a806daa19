import type { AppConfig } from '@app/config';
import type { OutboundHttpClient, OutboundHeaders } from '@app/http';
import { findOutboundError, parseRetryAfter } from '@app/http';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { addRange, coveredBytes, missingRanges, planParts, type ByteRange } from './ranges';

export interface SnapshotFile {
  /** Path inside the repository (forward slashes). */
  path: string;
  size: number;
  /** LFS oid. */
  sha256?: string;
  /** Git blob sha1, for files kept outside LFS. */
  gitSha1?: string;
  url: string;
}

export interface SnapshotPlan {
  /** `owner/name`. */
  repo: string;
  /** Commit sha. */
  revision: string;
  /** Branch or tag the commit was resolved from; refs/<ref> records it (default: the revision). */
  ref?: string;
  files: SnapshotFile[];
  /** Sent with every request (e.g. Authorization); the client drops it on a hop to another host. */
  headers?: OutboundHeaders;
}

export interface FileProgress {
  path: string;
  size: number;
  downloaded: number;
  status: 'pending' | 'downloading' | 'verifying' | 'done';
}

export interface DownloadProgress {
  downloaded: number;
  total: number;
  /** Bytes per second, exponential moving average. */
  speed: number;
  /** Seconds left at the current speed; null while unknown. */
  eta: number | null;
  files: FileProgress[];
  /**
   * 0..100 when the source decides it (an Ollama pull, whose total grows as layers are
   * announced); otherwise downloaded / total.
   */
  percent?: number;
}

export type StatfsFn = (dir: string) => Promise<{ bavail: number; bsize: number }>;

export interface SnapshotDownloaderOptions {
  http: OutboundHttpClient;
  modelsDir: string;
  /** Shared by every download of the process so the connection limit is global. */
  limiter: ConnectionLimiter;
  partMinBytes: number;
  maxParts: number;
  stallMs: number;
  /** Attempts per part after the first. Default 5. */
  maxRetries?: number;
  /** First backoff step, doubled per retry. Default 1000 ms. */
  retryBaseMs?: number;
  /** Longest wait honoured for 429/503; default 60 s. */
  maxRetryWaitMs?: number;
  /** Free space kept on top of the bytes still to fetch. Default 100 MB. */
  diskMarginBytes?: number;
  statfs?: StatfsFn;
  onProgress?: (p: DownloadProgress) => void;
  /** Minimum gap between progress callbacks. Default 250 ms. */
  progressIntervalMs?: number;
  /** Minimum gap between sidecar writes per file. Default 1000 ms. */
  sidecarIntervalMs?: number;
}

/** The configured part of the options (MODELS_DIR, DOWNLOAD_*). */
export function downloaderSettings(config: AppConfig): {
  modelsDir: string;
  maxConnections: number;
  partMinBytes: number;
  maxParts: number;
  stallMs: number;
} {
  return {
    modelsDir: config.modelsDir,
    maxConnections: config.env.DOWNLOAD_MAX_CONNECTIONS,
    partMinBytes: config.env.DOWNLOAD_PART_MIN_BYTES,
    maxParts: config.env.DOWNLOAD_MAX_PARTS,
    stallMs: config.env.DOWNLOAD_STALL_SECONDS * 1000,
  };
}

export type DownloadErrorCode =
  | 'insufficient_disk'
  | 'http_error'
  | 'range_unsupported'
  | 'size_mismatch'
  | 'checksum_mismatch'
  | 'retries_exhausted'
  | 'invalid_plan'
  | 'refused';

export class DownloadError extends Error {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

const REFUSALS = new Set(['ssrf_blocked', 'invalid_url', 'too_many_redirects']);

export type DownloadOutcome = 'completed' | 'paused' | 'cancelled';

/** Counting semaphore for connections across every file and download. */
export class ConnectionLimiter {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(readonly max: number) {}

  async acquire(signal: AbortSignal): Promise<() => void> {
    if (this.active >= this.max) {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason as Error);
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(wake);
      });
    } else {
      this.active++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      // The slot passes straight to the next waiter, so `active` stays as is.
      if (next) next();
      else this.active--;
    };
  }

  get inUse(): number {
    return this.active;
  }
}

interface Sidecar {
  size: number;
  oid: string;
  done: ByteRange[];
}

/** Signals a server that answered 200 to a Range request: the file restarts with one connection. */
class RangeIgnored extends Error {}

const STOP_PAUSE = 'pause';
const STOP_CANCEL = 'cancel';
const STOP_FAILED = 'failed';
const SAFE_SEGMENT = /^(?!\.{1,2}$)[^/\\\0]+$/;

function repoFolder(repo: string): string {
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts.every((p) => SAFE_SEGMENT.test(p))) {
    throw new DownloadError('invalid_plan', `Invalid repository name "${repo}"`);
  }
  return `models--${parts[0]}--${parts[1]}`;
}

function checkRelPath(p: string): void {
  const segs = p.split('/');
  if (!p || !segs.every((s) => SAFE_SEGMENT.test(s))) {
    throw new DownloadError('invalid_plan', `Invalid file path "${p}"`, p);
  }
}

function header(h: Record<string, string | string[]>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Retry-After, or the `reset` of RateLimit (IETF draft) / X-RateLimit-Reset, in ms. */
export function rateLimitWait(h: Record<string, string | string[]>): number | undefined {
  const ra = header(h, 'retry-after');
  if (ra !== undefined) {
    const ms = parseRetryAfter(ra);
    if (ms !== undefined) return ms;
  }
  const rl = header(h, 'ratelimit');
  const reset = rl ? /(?:^|[;,\s])(?:reset|t)=(\d+)/.exec(rl)?.[1] : header(h, 'ratelimit-reset');
  if (reset !== undefined && /^\d+$/.test(reset)) return Number(reset) * 1000;
  return undefined;
}

/** Read size of the verification pass: one buffer, reused for the whole file. */
const HASH_READ_BYTES = 1024 * 1024;

/**
 * The hex digest and size of a file: SHA-256, or the git blob SHA-1 ("blob <size>\0" + bytes).
 * Only the digest that is checked is computed (each one is a full pass of CPU over the file),
 * into one reused buffer (no garbage per chunk).
 */
async function hashFile(
  file: string,
  kind: 'sha256' | 'gitSha1',
  signal: AbortSignal,
): Promise<{ digest: string; size: number }> {
  const fh = await fsp.open(file, 'r');
  try {
    const st = await fh.stat();
    const hash =
      kind === 'sha256' ? createHash('sha256') : createHash('sha1').update(`blob ${st.size}\0`);
    const buf = Buffer.allocUnsafe(Math.max(1, Math.min(HASH_READ_BYTES, st.size)));
    let size = 0;
    for (;;) {
      signal.throwIfAborted();
      const { bytesRead } = await fh.read(buf, 0, buf.length, size);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { digest: hash.digest('hex'), size };
  } finally {
    await fh.close();
  }
}

/** Size of each of a connection's two write buffers. */
const WRITE_BUFFER_BYTES = 256 * 1024;

/**
 * Writes one connection's bytes at consecutive offsets of the file through two fixed buffers:
 * chunks are copied into one while the other is being written, so a fast connection makes 256 KiB
 * writes and keeps reading meanwhile, a slow one writes each chunk as it comes, and the network's
 * chunks die young (no garbage held across writes). `onWritten` runs once bytes are in the file,
 * in order.
 */
class PartWriter {
  /** Two buffers, allocated on first use: one fills while the other is written. */
  private readonly buffers: Buffer[] = [];
  private current = 0;
  private filled = 0;
  private writing: Promise<void> | undefined;
  private error: unknown;
  private failed = false;

  constructor(
    private readonly fh: fsp.FileHandle,
    private at: number,
    private readonly onWritten: (at: number, bytes: number) => void,
  ) {}

  /** Copies a chunk in; waits only when both buffers are taken. */
  async push(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length;) {
      if (this.failed) throw this.error;
      const fill = (this.buffers[this.current] ??= Buffer.allocUnsafe(WRITE_BUFFER_BYTES));
      const n = chunk.copy(fill, this.filled, off);
      this.filled += n;
      off += n;
      if (this.filled === fill.length) {
        while (this.writing) await this.writing;
        if (this.failed) throw this.error;
      }
      this.pump();
    }
  }

  /** Resolves once everything pushed is written; rejects with a write's error. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.failed) throw this.error;
  }

  /**
   * Starts writing the buffer being filled unless a write runs (its end starts the next); the
   * other buffer, free since only one write runs at a time, becomes the one filled.
   */
  private pump(): void {
    if (this.writing || this.filled === 0 || this.failed) return;
    const buf = this.buffers[this.current];
    const bytes = this.filled;
    const at = this.at;
    this.current ^= 1;
    this.filled = 0;
    this.at += bytes;
    this.writing = this.fh.write(buf, 0, bytes, at).then(
      ({ bytesWritten }) => {
        this.writing = undefined;
        if (bytesWritten !== bytes) {
          this.failed = true;
          this.error = new Error(`Short write at byte ${at}: ${bytesWritten} of ${bytes}`);
          return;
        }
        this.onWritten(at, bytes);
        this.pump();
      },
      (e: unknown) => {
        this.writing = undefined;
        this.failed = true;
        this.error = e;
      },
    );
  }
}

interface FileState {
  file: SnapshotFile;
  oid: string;
  partPath: string;
  sidecarPath: string;
  blobPath: string;
  done: ByteRange[];
  progress: FileProgress;
  lastSidecarAt: number;
  /** Sidecar writes run one after another, so an older one never lands last. */
  sidecarChain: Promise<void>;
}

/**
 * Downloads one snapshot into the Hugging Face cache layout:
 * `models--{owner}--{name}/blobs/<oid>`, `snapshots/<commit>/<path>` -> blob, `refs/<ref>`.
 * One instance is one run: `start()` resolves with how it ended; `pause()` keeps the partial files
 * (a later run resumes from them), `cancel()` removes them.
 */
export class SnapshotDownloader {
  private readonly stop = new AbortController();
  private readonly repoDir: string;
  private readonly files: FileState[];
  private readonly blobJobs = new Map<string, Promise<void>>();
  private started = false;
  private lastEmitAt = 0;
  private lastSampleAt = Date.now();
  private lastSampleBytes = 0;
  private speed = 0;
  private readonly o: Required<
    Omit<SnapshotDownloaderOptions, 'onProgress' | 'statfs' | 'http' | 'limiter'>
  > &
    SnapshotDownloaderOptions;

  constructor(
    private readonly plan: SnapshotPlan,
    options: SnapshotDownloaderOptions,
  ) {
    this.o = {
      maxRetries: 5,
      retryBaseMs: 1000,
      maxRetryWaitMs: 60_000,
      diskMarginBytes: 100 * 1024 * 1024,
      progressIntervalMs: 250,
      sidecarIntervalMs: 1000,
      ...options,
    };
    if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/i.test(plan.revision)) {
      throw new DownloadError('invalid_plan', `Revision must be a commit sha: "${plan.revision}"`);
    }
    this.repoDir = path.join(options.modelsDir, repoFolder(plan.repo));
    const blobs = path.join(this.repoDir, 'blobs');
    this.files = plan.files.map((file) => {
      checkRelPath(file.path);
      const oid = (file.sha256 ?? file.gitSha1)?.toLowerCase();
      if (!oid || !/^[0-9a-f]{40,64}$/.test(oid)) {
        throw new DownloadError(
          'invalid_plan',
          `File ${file.path} has no sha256 or git sha1`,
          file.path,
        );
      }
      return {
        file,
        oid,
        partPath: path.join(blobs, `${oid}.part`),
        sidecarPath: path.join(blobs, `${oid}.part.json`),
        blobPath: path.join(blobs, oid),
        done: [],
        progress: { path: file.path, size: file.size, downloaded: 0, status: 'pending' },
        lastSidecarAt: 0,
        sidecarChain: Promise.resolve(),
      };
    });
  }

  /** Stops every transfer; partial files stay for a resume. */
  pause(): void {
    this.stop.abort(STOP_PAUSE);
  }

  /** Stops every transfer and removes the partial files. */
  cancel(): void {
    this.stop.abort(STOP_CANCEL);
  }

  async start(): Promise<DownloadOutcome> {
    if (this.started) throw new Error('A SnapshotDownloader runs once; create another to resume');
    this.started = true;
    await fsp.mkdir(path.join(this.repoDir, 'blobs'), { recursive: true });
    for (const f of this.files) await this.loadState(f);
    await this.checkDisk();
    this.emit(true);
    let failure: Error | undefined;
    try {
      // Files run a pool at a time (bounded open files); their connections share the limiter.
      const queue = [...this.files];
      const worker = async () => {
        for (let f = queue.shift(); f && !this.stop.signal.aborted; f = queue.shift()) {
          try {
            await this.runFile(f);
          } catch (e) {
            // The first failure stops the others; their partial files stay for a later resume.
            failure ??= e instanceof Error ? e : new Error(String(e));
            this.stop.abort(STOP_FAILED);
          }
        }
      };
      const poolSize = Math.max(1, Math.min(this.files.length, this.o.limiter.max));
      await Promise.all(Array.from({ length: poolSize }, worker));
      if (failure !== undefined) throw failure;
      if (!this.stop.signal.aborted) {
        await this.writeRef();
        this.emit(true);
        return 'completed';
      }
    } finally {
      if (this.stop.signal.reason === STOP_CANCEL) await this.removePartials();
    }
    return this.stop.signal.reason === STOP_CANCEL ? 'cancelled' : 'paused';
  }

  private async loadState(f: FileState): Promise<void> {
    if (await exists(f.blobPath)) {
      f.done = [[0, f.file.size]];
    } else {
      try {
        const sc = JSON.parse(await fsp.readFile(f.sidecarPath, 'utf8')) as Sidecar;
        const st = await fsp.stat(f.partPath);
        // Only ranges the sidecar recorded and the .part file really holds count.
        if (sc.size === f.file.size && sc.oid === f.oid) {
          f.done = sc.done.filter(([s, e]) => e <= st.size && s < e);
        }
      } catch {
        f.done = [];
      }
    }
    f.progress.downloaded = coveredBytes(f.done);
  }

  private async checkDisk(): Promise<void> {
    const need = this.files.reduce((n, f) => n + f.file.size - coveredBytes(f.done), 0);
    if (need === 0) return;
    const statfs = this.o.statfs ?? ((dir: string) => fsp.statfs(dir));
    const st = await statfs(this.repoDir);
    const free = st.bavail * st.bsize;
    if (free < need + this.o.diskMarginBytes) {
      throw new DownloadError(
        'insufficient_disk',
        `Not enough disk space in ${this.o.modelsDir}: ${need} bytes to download plus a margin of ${this.o.diskMarginBytes}, ${free} free`,
      );
    }
  }

  private runFile(f: FileState): Promise<void> {
    // Files with the same content share one blob: fetch it once, link every path.
    let blob = this.blobJobs.get(f.oid);
    if (!blob) {
      blob = this.fetchBlob(f);
      this.blobJobs.set(f.oid, blob);
    }
    return blob.then(async () => {
      if (this.stop.signal.aborted) return;
      await this.link(f);
      f.progress.downloaded = f.file.size;
      f.progress.status = 'done';
      this.emit(true);
    });
  }

  private async fetchBlob(f: FileState): Promise<void> {
    if (await exists(f.blobPath)) return;
    for (let attempt = 0; ; attempt++) {
      await this.fetchFile(f);
      if (this.stop.signal.aborted) return;
      f.progress.status = 'verifying';
      this.emit(true);
      let problem: DownloadError | undefined;
      try {
        problem = await this.verify(f);
      } catch (e) {
        if (this.stop.signal.aborted) return;
        throw e;
      }
      if (!problem) break;
      // A bad file is fetched once more from scratch before we give up on it.
      await this.resetFile(f);
      if (attempt >= 1) throw problem;
    }
    await f.sidecarChain;
    await fsp.rename(f.partPath, f.blobPath);
    await fsp.rm(f.sidecarPath, { force: true });
  }

  private async fetchFile(f: FileState): Promise<void> {
    f.progress.status = 'downloading';
    const fh = await fsp.open(f.partPath, (await exists(f.partPath)) ? 'r+' : 'w+');
    try {
      if (f.file.size === 0) return;
      // A longer leftover (another size of the same name) would fail the size check for nothing.
      if ((await fh.stat()).size > f.file.size) await fh.truncate(f.file.size);
      let singleConnection = false;
      for (;;) {
        const missing = missingRanges(f.done, f.file.size);
        if (missing.length === 0) return;
        const parts = singleConnection
          ? [[0, f.file.size] as ByteRange]
          : planParts(missing, this.o.maxParts, this.o.partMinBytes).slice(0, this.o.maxParts);
        const fileStop = new AbortController();
        const signal = AbortSignal.any([this.stop.signal, fileStop.signal]);
        const results = await Promise.allSettled(
          parts.map((r) =>
            this.runPart(f, fh, r, signal, singleConnection).catch((e: unknown) => {
              // One part's fatal answer (or a server ignoring Range) ends its siblings too.
              fileStop.abort();
              throw e;
            }),
          ),
        );
        await this.saveSidecar(f, true);
        if (this.stop.signal.aborted) return;
        const ignored = results.some(
          (r) => r.status === 'rejected' && r.reason instanceof RangeIgnored,
        );
        if (ignored && !singleConnection) {
          // The server sends whole files only: start over with one plain GET.
          singleConnection = true;
          f.done = [];
          await fh.truncate(0);
          f.progress.downloaded = 0;
          continue;
        }
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      }
    } finally {
      await fh.close();
    }
  }

  /** One byte range with its own retries; progress is recorded as bytes land on disk. */
  private async runPart(
    f: FileState,
    fh: fsp.FileHandle,
    [start, end]: ByteRange,
    signal: AbortSignal,
    whole: boolean,
  ): Promise<void> {
    // Shared with transfer(), so bytes written before a connection fails are kept.
    const pos = { at: start };
    let failures = 0;
    while (pos.at < end) {
      if (signal.aborted) return;
      if (whole && pos.at > start) {
        // This server ignores Range: a broken connection means starting the file over.
        pos.at = start;
        f.done = [];
        f.progress.downloaded = 0;
      }
      let waitMs: number | undefined;
      const release = await this.o.limiter.acquire(signal).catch(() => undefined);
      if (!release) return;
      try {
        const before = pos.at;
        try {
          await this.transfer(f, fh, pos, end, signal, whole && pos.at === 0);
        } finally {
          // Progress earns fresh retries, except in whole-file mode where every retry restarts.
          if (pos.at > before && !whole) failures = 0;
        }
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof RangeIgnored || e instanceof DownloadError) throw e;
        // Our own policy said no (a redirect to a private address, a bad URL, a redirect loop):
        // asking again gets the same answer.
        const policy = findOutboundError(e);
        if (policy && REFUSALS.has(policy.code)) {
          throw new DownloadError('refused', `${f.file.path}: ${policy.message}`, f.file.path);
        }
        const ms = (e as { retryAfterMs?: number }).retryAfterMs;
        if (++failures > this.o.maxRetries) {
          throw new DownloadError(
            'retries_exhausted',
            `Download of ${f.file.path} failed after ${this.o.maxRetries} retries: ${(e as Error).message}`,
            f.file.path,
          );
        }
        waitMs = ms ?? this.o.retryBaseMs * 2 ** (failures - 1) * (0.75 + Math.random() / 2);
      } finally {
        release();
      }
      if (waitMs !== undefined) {
        // Aborting the wait is how pause/cancel end a backoff.
        await sleep(waitMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** One connection from `pos.at`, advancing it as bytes reach the file. */
  private async transfer(
    f: FileState,
    fh: fsp.FileHandle,
    pos: { at: number },
    end: number,
    signal: AbortSignal,
    plainGet: boolean,
  ): Promise<void> {
    const start = pos.at;
    const headers: OutboundHeaders = { ...this.plan.headers };
    if (!plainGet) headers.range = `bytes=${start}-${end - 1}`;
    const res = await this.o.http.stream(f.file.url, {
      headers,
      signal,
      retries: 0,
      timeoutMs: this.o.stallMs,
    });
    if (res.status === 429 || res.status === 503) {
      res.abort();
      const wait = rateLimitWait(res.headers);
      if (wait !== undefined && wait > this.o.maxRetryWaitMs) {
        throw new DownloadError(
          'http_error',
          `Rate limited on ${f.file.path}; retry in ${Math.round(wait / 1000)} s`,
          f.file.path,
        );
      }
      throw Object.assign(new Error(`HTTP ${res.status}`), { retryAfterMs: wait });
    }
    if (res.status >= 500) {
      res.abort();
      throw new Error(`HTTP ${res.status}`);
    }
    if (res.status === 200 && !plainGet) {
      res.abort();
      throw new RangeIgnored();
    }
    if (res.status === 206) {
      const cr = header(res.headers, 'content-range');
      const m = cr ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr) : null;
      if (!m || Number(m[1]) !== start) {
        res.abort();
        throw new RangeIgnored();
      }
    } else if (res.status !== 200) {
      res.abort();
      throw new DownloadError(
        res.status === 416 ? 'range_unsupported' : 'http_error',
        `Download of ${f.file.path} failed with HTTP ${res.status}`,
        f.file.path,
      );
    }
    // Bytes reach the file through the writer; `pos.at` moves only once they are written.
    const writer = new PartWriter(fh, pos.at, (at, n) => {
      f.done = addRange(f.done, at, at + n);
      pos.at = at + n;
      f.progress.downloaded += n;
      this.emit(false);
      void this.saveSidecar(f, false);
    });
    let next = pos.at;
    let stalled = false;
    let timer = setTimeout(onStall, this.o.stallMs);
    function onStall() {
      stalled = true;
      res.abort();
    }
    try {
      for await (const chunk of res.body) {
        clearTimeout(timer);
        let buf = chunk as Buffer;
        // Never write past the range asked for (a server may send more).
        if (next + buf.length > end) buf = buf.subarray(0, end - next);
        if (buf.length > 0) {
          next += buf.length;
          await writer.push(buf);
        }
        if (next >= end) {
          res.abort();
          break;
        }
        timer = setTimeout(onStall, this.o.stallMs);
      }
    } catch (e) {
      // What arrived before the failure is still written (and kept for the retry).
      await writer.flush().catch(() => undefined);
      if (stalled) throw new Error(`No bytes for ${this.o.stallMs} ms`);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    await writer.flush();
    if (stalled) throw new Error(`No bytes for ${this.o.stallMs} ms`);
    if (pos.at < end) throw new Error(`Connection closed at byte ${pos.at} of ${end}`);
  }

  private async saveSidecar(f: FileState, force: boolean): Promise<void> {
    const now = Date.now();
    if (!force && now - f.lastSidecarAt < this.o.sidecarIntervalMs) return;
    f.lastSidecarAt = now;
    const body: Sidecar = { size: f.file.size, oid: f.oid, done: f.done };
    const tmp = `${f.sidecarPath}.tmp`;
    f.sidecarChain = f.sidecarChain.then(async () => {
      try {
        await fsp.writeFile(tmp, JSON.stringify(body));
        await fsp.rename(tmp, f.sidecarPath);
      } catch {
        await fsp.rm(tmp, { force: true });
      }
    });
    await f.sidecarChain;
  }

  private async verify(f: FileState): Promise<DownloadError | undefined> {
    const kind = f.file.sha256 ? 'sha256' : 'gitSha1';
    const h = await hashFile(f.partPath, kind, this.stop.signal);
    if (h.size !== f.file.size) {
      return new DownloadError(
        'size_mismatch',
        `${f.file.path}: expected ${f.file.size} bytes, got ${h.size}`,
        f.file.path,
      );
    }
    if (h.digest === f.oid) return undefined;
    return new DownloadError(
      'checksum_mismatch',
      `${f.file.path}: checksum mismatch after a second download (expected ${f.oid})`,
      f.file.path,
    );
  }

  private async resetFile(f: FileState): Promise<void> {
    await f.sidecarChain;
    await fsp.rm(f.partPath, { force: true });
    await fsp.rm(f.sidecarPath, { force: true });
    f.done = [];
    f.progress.downloaded = 0;
  }

  private async link(f: FileState): Promise<void> {
    const target = path.join(
      this.repoDir,
      'snapshots',
      this.plan.revision,
      ...f.file.path.split('/'),
    );
    await fsp.mkdir(path.dirname(target), { recursive: true });
    const rel = path.relative(path.dirname(target), f.blobPath);
    const tmp = `${target}.${process.pid}.tmp`;
    await fsp.rm(tmp, { force: true });
    await fsp.symlink(rel, tmp);
    await fsp.rename(tmp, target);
  }

  private async writeRef(): Promise<void> {
    const ref = this.plan.ref ?? this.plan.revision;
    const refPath = path.join(this.repoDir, 'refs', ...ref.split('/'));
    if (!ref.split('/').every((s) => SAFE_SEGMENT.test(s))) return;
    await fsp.mkdir(path.dirname(refPath), { recursive: true });
    await fsp.writeFile(`${refPath}.tmp`, this.plan.revision);
    await fsp.rename(`${refPath}.tmp`, refPath);
  }

  private async removePartials(): Promise<void> {
    for (const f of this.files) {
      await f.sidecarChain;
      await fsp.rm(f.partPath, { force: true });
      await fsp.rm(f.sidecarPath, { force: true });
    }
  }

  private emit(force: boolean): void {
    if (!this.o.onProgress) return;
    const now = Date.now();
    if (!force && now - this.lastEmitAt < this.o.progressIntervalMs) return;
    this.lastEmitAt = now;
    const downloaded = this.files.reduce((n, f) => n + f.progress.downloaded, 0);
    const total = this.files.reduce((n, f) => n + f.file.size, 0);
    const dt = (now - this.lastSampleAt) / 1000;
    if (dt >= 0.1) {
      const inst = Math.max(0, downloaded - this.lastSampleBytes) / dt;
      this.speed = this.speed === 0 ? inst : 0.3 * inst + 0.7 * this.speed;
      this.lastSampleAt = now;
      this.lastSampleBytes = downloaded;
    }
    const eta = this.speed > 0 ? Math.ceil((total - downloaded) / this.speed) : null;
    this.o.onProgress({
      downloaded,
      total,
      speed: Math.round(this.speed),
      eta: downloaded >= total ? 0 : eta,
      files: this.files.map((f) => ({ ...f.progress })),
    });
  }
}

async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(
    () => true,
    () => false,
  );
}
