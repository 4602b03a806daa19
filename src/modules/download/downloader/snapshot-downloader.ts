import type { AppConfig } from '@app/config';
import type { OutboundHttpClient, OutboundHeaders } from '@app/http';
import { findOutboundError, parseRetryAfter } from '@app/http';
import { createHash, type Hash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import {
  addRange,
  contiguousEnd,
  coveredBytes,
  missingRanges,
  planParts,
  type ByteRange,
} from './ranges';

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
  /**
   * How long a file that could be cut into parts runs on one connection first, to measure it.
   * Default 1000 ms.
   */
  probeMs?: number;
  /**
   * A probed connection is split only while this process used less CPU than this (cores)
   * meanwhile: beyond it our side, not the connection, is the limit. Default 0.5.
   */
  splitBelowCores?: number;
  /**
   * Files of at least this many bytes are hashed on a worker thread beside the transfer; smaller
   * ones on this thread as their bytes land. Default 64 MiB.
   */
  hashWorkerMinBytes?: number;
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
  // "--" joins owner and name in the folder name: "a--b/c" and "a/b--c" must not share one.
  if (parts.length !== 2 || !parts.every((p) => SAFE_SEGMENT.test(p) && !p.includes('--'))) {
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

/** The blob name of a planned file (its sha256, or its git sha1, lowercase); null unless hex. */
export function blobOid(file: SnapshotFile): string | null {
  const oid = file.sha256 ?? file.gitSha1;
  return typeof oid === 'string' && /^[0-9a-f]{40,64}$/i.test(oid) ? oid.toLowerCase() : null;
}

/** blobOid, or `invalid_plan`. */
function fileOid(file: SnapshotFile): string {
  const oid = blobOid(file);
  if (oid === null) {
    throw new DownloadError(
      'invalid_plan',
      `File ${file.path} has no sha256 or git sha1`,
      file.path,
    );
  }
  return oid;
}

/**
 * Throws `invalid_plan` unless every name in the plan stays inside its repository's cache folder:
 * the repository (owner/name, no "--"), a commit sha, safe relative file paths (no "..", "\\",
 * NUL or empty segment) and a hex digest per file. Run when a task is created, so a hostile or
 * broken hub is refused before anything is stored, and again by the downloader.
 */
export function validateSnapshotPlan(
  plan: Pick<SnapshotPlan, 'repo' | 'revision' | 'files'>,
): void {
  if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/i.test(plan.revision)) {
    throw new DownloadError('invalid_plan', `Revision must be a commit sha: "${plan.revision}"`);
  }
  repoFolder(plan.repo);
  for (const file of plan.files) {
    if (typeof file.path !== 'string')
      throw new DownloadError('invalid_plan', 'A file has no path');
    checkRelPath(file.path);
    fileOid(file);
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

/** Read size of the verification and catch-up passes: one buffer, reused. */
const HASH_READ_BYTES = 1024 * 1024;

type DigestKind = 'sha256' | 'gitSha1';

function newHash(kind: DigestKind, size: number): Hash {
  return kind === 'sha256' ? createHash('sha256') : createHash('sha1').update(`blob ${size}\0`);
}

/**
 * The hex digest and size of a file: SHA-256, or the git blob SHA-1 ("blob <size>\0" + bytes).
 * Only the digest that is checked is computed (each one is a full pass of CPU over the file),
 * into one reused buffer (no garbage per chunk).
 */
async function hashFile(
  file: string,
  kind: DigestKind,
  signal: AbortSignal,
): Promise<{ digest: string; size: number }> {
  const fh = await fsp.open(file, 'r');
  try {
    const st = await fh.stat();
    const hash = newHash(kind, st.size);
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

/** Keeps the digest of a downloading file's bytes from 0 as far as they are contiguous. */
interface FrontDigest {
  /** How fast the digest advances while hashing (Infinity before it measured any). */
  readonly bytesPerSec: number;
  /** `data` was just written at `at`; `done()` already includes it. */
  written(at: number, data: Buffer, done: () => ByteRange[], fh: fsp.FileHandle): void;
  /** Takes in whatever joined the front; resolves once it is hashed. */
  catchUp(done: () => ByteRange[], fh: fsp.FileHandle): Promise<void>;
  /** Waits for reads of the file handle under way (before it is closed or the file replaced). */
  settle(): Promise<void>;
  /** Starts over (the file's bytes are being replaced). */
  reset(): void;
  /** The digest once the front reached the end; undefined otherwise. */
  digest(): string | undefined;
  /** Ends what runs for it (after settle(), digest() still answers). */
  release(): void;
}

/**
 * The digest of a file's bytes [0, front), kept while the file downloads so that no full pass is
 * left after its last byte. Bytes written exactly at the front are hashed from the write buffer
 * as they land (no second read); bytes that landed ahead of it (another part, or a resumed
 * file's recorded ranges) are read back from the file, mostly from the page cache, as soon as
 * they join the front. What it hashes is what was written, so a changed byte is still caught.
 */
class FrontHasher implements FrontDigest {
  private hash: Hash;
  /** Bytes [0, front) are in the digest. */
  front = 0;
  /** Time spent hashing bytes from write buffers, and how many (for `bytesPerSec`). */
  private inlineMs = 0;
  private inlineBytes = 0;
  /** The running catch-up read, if any. */
  private catching: Promise<void> | undefined;
  private buf: Buffer | undefined;
  /** Bumped by `reset()`: a catch-up of an older generation drops what it read. */
  private generation = 0;

  constructor(
    private readonly kind: DigestKind,
    private readonly size: number,
  ) {
    this.hash = newHash(kind, size);
  }

  /** Starts over (the file's bytes are being replaced). */
  reset(): void {
    this.generation++;
    this.hash = newHash(this.kind, this.size);
    this.front = 0;
    this.catching = undefined;
  }

  /** How fast this process hashes (from the inline updates); Infinity before any. */
  get bytesPerSec(): number {
    return this.inlineMs > 0 && this.inlineBytes >= 1024 * 1024
      ? (this.inlineBytes / this.inlineMs) * 1000
      : Infinity;
  }

  /**
   * `data` was just written at `at` and `done` already includes it: hash it now if it continues
   * the front, otherwise read whatever joined the front from the file.
   */
  written(at: number, data: Buffer, done: () => ByteRange[], fh: fsp.FileHandle): void {
    if (at === this.front && !this.catching) {
      const t0 = performance.now();
      this.hash.update(data);
      this.inlineMs += performance.now() - t0;
      this.inlineBytes += data.length;
      this.front += data.length;
    } else {
      void this.catchUp(done, fh).catch(() => undefined);
    }
  }

  /**
   * Hashes from the file up to the end of the recorded range the front is in (`done()` is asked
   * on every step, so ranges finished meanwhile count). One catch-up runs at a time.
   */
  catchUp(done: () => ByteRange[], fh: fsp.FileHandle): Promise<void> {
    if (!this.catching) {
      const run: Promise<void> = this.readFront(done, fh).finally(() => {
        if (this.catching === run) this.catching = undefined;
      });
      this.catching = run;
    }
    return this.catching;
  }

  private async readFront(done: () => ByteRange[], fh: fsp.FileHandle): Promise<void> {
    const generation = this.generation;
    const buf = (this.buf ??= Buffer.allocUnsafe(HASH_READ_BYTES));
    for (;;) {
      const until = contiguousEnd(done());
      if (this.front >= until) return;
      const n = Math.min(buf.length, until - this.front);
      const { bytesRead } = await fh.read(buf, 0, n, this.front);
      if (generation !== this.generation) return;
      if (bytesRead === 0) throw new Error(`Unexpected end of file at byte ${this.front}`);
      this.hash.update(buf.subarray(0, bytesRead));
      this.front += bytesRead;
    }
  }

  /** Waits for a running catch-up (a failed read leaves the front where it was). */
  async settle(): Promise<void> {
    while (this.catching) await this.catching.catch(() => undefined);
  }

  /** The digest once the front reached the end; undefined otherwise. */
  digest(): string | undefined {
    return this.front === this.size && !this.catching ? this.hash.digest('hex') : undefined;
  }

  release(): void {}
}

/** A message of hash.worker.js: how far its digest got, and the digest at the end. */
interface HashWorkerReport {
  generation: number;
  front: number;
  hashedBytes: number;
  hashMs: number;
  digest?: string;
  error?: string;
}

const HASH_WORKER_FILE = path.join(__dirname, 'hash.worker.js');

/**
 * FrontHasher's job on a worker thread (hash.worker.js): this thread only tells the worker how far
 * the file is contiguous from byte 0, and the worker reads those bytes back from the file and
 * hashes them. On a fast connection hashing costs as much CPU as receiving and writing together,
 * so the two then run on two cores instead of taking turns on one. The worker starts with the
 * first bytes and ends with `release()`; a reset starts its digest over (a generation number
 * drops whatever it read for the old bytes).
 */
export class WorkerFrontHasher implements FrontDigest {
  private worker: Worker | undefined;
  private generation = 0;
  /** Bytes [0, told) are in the file, as the worker was told (this generation). */
  private told = 0;
  /** Bytes [0, front) are in the worker's digest, as it last reported. */
  private front = 0;
  private final: string | undefined;
  /** The worker could not follow (a read failed, it died): verify() hashes the file instead. */
  private failed = false;
  private hashedBytes = 0;
  private hashMs = 0;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly kind: DigestKind,
    private readonly size: number,
    private readonly file: string,
  ) {}

  get bytesPerSec(): number {
    return this.hashMs > 0 && this.hashedBytes >= 1024 * 1024
      ? (this.hashedBytes / this.hashMs) * 1000
      : Infinity;
  }

  written(_at: number, _data: Buffer, done: () => ByteRange[]): void {
    this.advance(done);
  }

  /** Resolves once the worker has hashed all it was told (or cannot go on, or was released). */
  catchUp(done: () => ByteRange[]): Promise<void> {
    this.advance(done);
    if (this.caughtUp()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The worker reads through a descriptor of its own: nothing of `fh` to wait for. */
  settle(): Promise<void> {
    return Promise.resolve();
  }

  reset(): void {
    this.generation++;
    this.told = 0;
    this.front = 0;
    this.final = undefined;
    this.failed = false;
    this.worker?.postMessage({ type: 'reset', generation: this.generation });
    this.wake();
  }

  digest(): string | undefined {
    return this.front === this.size && !this.failed ? this.final : undefined;
  }

  release(): void {
    const worker = this.worker;
    this.worker = undefined;
    this.wake();
    // It closes its descriptor and exits at its next step (within one read).
    worker?.postMessage({ type: 'close' });
  }

  private advance(done: () => ByteRange[]): void {
    const until = contiguousEnd(done());
    if (until <= this.told || this.failed) return;
    this.told = until;
    this.start().postMessage({ type: 'advance', generation: this.generation, until });
  }

  private caughtUp(): boolean {
    return !this.worker || this.failed || this.front >= this.told;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(HASH_WORKER_FILE, {
      workerData: {
        file: this.file,
        kind: this.kind,
        size: this.size,
        generation: this.generation,
      },
    });
    // Never what keeps the process alive; release() ends it.
    worker.unref();
    worker.on('message', (m: HashWorkerReport) => {
      if (worker !== this.worker || m.generation !== this.generation) return;
      this.front = m.front;
      this.hashedBytes = m.hashedBytes;
      this.hashMs = m.hashMs;
      if (m.digest !== undefined) this.final = m.digest;
      if (m.error !== undefined) this.failed = true;
      this.wake();
    });
    const gone = () => {
      if (worker !== this.worker) return;
      this.worker = undefined;
      this.failed = true;
      this.wake();
    };
    worker.on('error', gone);
    worker.once('exit', gone);
    this.worker = worker;
    return worker;
  }

  private wake(): void {
    if (!this.caughtUp()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Size of each of a connection's two write buffers. */
const WRITE_BUFFER_BYTES = 256 * 1024;

/**
 * Writes one connection's bytes at consecutive offsets of the file through two fixed buffers:
 * chunks are copied into one while the other is being written, so a fast connection makes 256 KiB
 * writes and keeps reading meanwhile, a slow one writes each chunk as it comes, and the network's
 * chunks die young (no garbage held across writes). `onWritten` runs once bytes are in the file,
 * in order, with the bytes (valid during the call only).
 */
class PartWriter {
  /** Two buffers, allocated on first use: one fills while the other is written. */
  private readonly buffers: Buffer[] = [];
  private current = 0;
  private filled = 0;
  private writing: Promise<void> | undefined;
  private error: Error | undefined;
  private failed = false;

  constructor(
    private readonly fh: fsp.FileHandle,
    private at: number,
    private readonly onWritten: (at: number, bytes: number, data: Buffer) => void,
  ) {}

  /**
   * Copies a chunk in. Returns a promise only when both buffers are taken (the connection then
   * waits for the write in flight, whose end frees one); otherwise the chunk is in, no promise.
   */
  push(chunk: Buffer): Promise<void> | undefined {
    for (let off = 0; off < chunk.length;) {
      if (this.failed) return Promise.reject(this.error!);
      const fill = (this.buffers[this.current] ??= Buffer.allocUnsafe(WRITE_BUFFER_BYTES));
      if (this.filled === fill.length && this.writing) {
        const rest = chunk.subarray(off);
        return this.writing.then(() => this.push(rest));
      }
      const n = chunk.copy(fill, this.filled, off);
      this.filled += n;
      off += n;
      this.pump();
    }
    return undefined;
  }

  /** Resolves once everything pushed is written; rejects with a write's error. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.failed) throw this.error!;
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
        // The buffer is not refilled before this returns: the callback may read the bytes.
        this.onWritten(at, bytes, buf.subarray(0, bytes));
        this.pump();
      },
      (e: unknown) => {
        this.writing = undefined;
        this.failed = true;
        this.error = asError(e);
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
  /** Digest of the bytes from 0 as far as they are contiguous, kept during the transfer. */
  hasher: FrontDigest;
}

/** One connection's byte range; `end` may be cut short while it runs (the rest goes to others). */
interface Part {
  /** Bytes before this are in the file. */
  at: number;
  end: number;
  /** Bytes before this were received (handed to the writer); `at` <= `next` <= `end`. */
  next: number;
}

/**
 * A probed connection is split into parts only while it brings less than this fraction of the
 * rate we hash at, and this process used less than `splitBelowCores` of CPU meanwhile: beyond
 * either, our side (receiving, writing, hashing), not the connection, is the limit, and more
 * connections would only leave more of the file to hash after its last byte.
 */
const SPLIT_BELOW_HASH_RATE = 1 / 4;

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
      probeMs: 1000,
      splitBelowCores: 0.5,
      hashWorkerMinBytes: 64 * 1024 * 1024,
      ...options,
    };
    validateSnapshotPlan(plan);
    this.repoDir = path.join(options.modelsDir, repoFolder(plan.repo));
    const blobs = path.join(this.repoDir, 'blobs');
    this.files = plan.files.map((file) => {
      const oid = fileOid(file);
      const partPath = path.join(blobs, `${oid}.part`);
      const kind: DigestKind = file.sha256 ? 'sha256' : 'gitSha1';
      return {
        file,
        oid,
        partPath,
        sidecarPath: path.join(blobs, `${oid}.part.json`),
        blobPath: path.join(blobs, oid),
        done: [],
        progress: { path: file.path, size: file.size, downloaded: 0, status: 'pending' },
        lastSidecarAt: 0,
        sidecarChain: Promise.resolve(),
        hasher:
          file.size > 0 && file.size >= this.o.hashWorkerMinBytes
            ? new WorkerFrontHasher(kind, file.size, partPath)
            : new FrontHasher(kind, file.size),
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
      // Recorded ranges at the start of the file are hashed while the rest downloads.
      void f.hasher.catchUp(() => f.done, fh).catch(() => undefined);
      let singleConnection = false;
      // A fresh file starts on one connection ('probe') and is cut into parts only if that
      // connection turns out slow; a resumed file with several gaps gets its parts at once.
      let mode: 'probe' | 'single' | 'parts' = 'probe';
      for (;;) {
        const missing = missingRanges(f.done, f.file.size);
        if (missing.length === 0) break;
        const planned = planParts(missing, this.o.maxParts, this.o.partMinBytes).slice(
          0,
          this.o.maxParts,
        );
        if (mode === 'probe' && (missing.length > 1 || planned.length === 1)) {
          mode = planned.length > 1 ? 'parts' : 'single';
        }
        const ranges: ByteRange[] = singleConnection
          ? [[0, f.file.size]]
          : mode === 'parts'
            ? planned
            : [missing[0]];
        const fileStop = new AbortController();
        const signal = AbortSignal.any([this.stop.signal, fileStop.signal]);
        const running: Promise<void>[] = [];
        const launch = (part: Part) =>
          running.push(
            this.runPart(f, fh, part, signal, singleConnection).catch((e: unknown) => {
              // One part's fatal answer (or a server ignoring Range) ends its siblings too.
              fileStop.abort();
              throw e;
            }),
          );
        const parts = ranges.map(([at, end]): Part => ({ at, end, next: at }));
        parts.forEach(launch);
        const probe =
          mode === 'probe' && !singleConnection
            ? this.probe(f, parts[0], signal, (part) => {
                mode = 'parts';
                launch(part);
              })
            : undefined;
        let results: PromiseSettledResult<void>[];
        try {
          // Parts launched by the probe join the list while it is awaited.
          do results = await Promise.allSettled(running);
          while (results.length < running.length);
        } finally {
          if (probe) clearTimeout(probe);
        }
        if (mode === 'probe') mode = 'single';
        await this.saveSidecar(f, true);
        if (this.stop.signal.aborted) return;
        const ignored = results.some(
          (r) => r.status === 'rejected' && r.reason instanceof RangeIgnored,
        );
        if (ignored && !singleConnection) {
          // The server sends whole files only: start over with one plain GET.
          singleConnection = true;
          await f.hasher.settle();
          f.hasher.reset();
          f.done = [];
          await fh.truncate(0);
          f.progress.downloaded = 0;
          continue;
        }
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      }
      // What the inline hashing could not take (parts that landed ahead of the front).
      f.progress.status = 'verifying';
      this.emit(true);
      await f.hasher.settle();
      if (!this.stop.signal.aborted) await f.hasher.catchUp(() => f.done, fh);
    } finally {
      // A pause or cancel does not wait for hashing; a completed file's digest is kept.
      f.hasher.release();
      await f.hasher.settle();
      await fh.close();
    }
  }

  /**
   * After `probeMs` on one connection, cuts what is left of its range into parts if the
   * connection, not our side, is what limits it: parts beat per-connection limits, but every part
   * but the first is hashed only after it lands, so a connection our side can barely keep up with
   * stays one, and its bytes are hashed in order as they land.
   */
  private probe(
    f: FileState,
    part: Part,
    signal: AbortSignal,
    launch: (part: Part) => void,
  ): NodeJS.Timeout {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const from = part.next;
    return setTimeout(() => {
      if (signal.aborted || part.at >= part.end) return;
      const ms = performance.now() - t0;
      const rate = ((part.next - from) / ms) * 1000;
      const cpu = process.cpuUsage(cpu0);
      const cores = (cpu.user + cpu.system) / 1000 / ms;
      if (rate >= f.hasher.bytesPerSec * SPLIT_BELOW_HASH_RATE || cores >= this.o.splitBelowCores) {
        return;
      }
      const pieces = planParts([[part.next, part.end]], this.o.maxParts, this.o.partMinBytes);
      if (pieces.length < 2) return;
      // The running connection keeps the first piece; it stops at its new end.
      part.end = pieces[0][1];
      for (const [at, end] of pieces.slice(1)) launch({ at, end, next: at });
    }, this.o.probeMs);
  }

  /** One byte range with its own retries; progress is recorded as bytes land on disk. */
  private async runPart(
    f: FileState,
    fh: fsp.FileHandle,
    part: Part,
    signal: AbortSignal,
    whole: boolean,
  ): Promise<void> {
    const start = part.at;
    let failures = 0;
    while (part.at < part.end) {
      if (signal.aborted) return;
      if (whole && part.at > start) {
        // This server ignores Range: a broken connection means starting the file over.
        part.at = start;
        f.done = [];
        f.progress.downloaded = 0;
        await f.hasher.settle();
        f.hasher.reset();
      }
      part.next = part.at;
      let waitMs: number | undefined;
      const release = await this.o.limiter.acquire(signal).catch(() => undefined);
      if (!release) return;
      try {
        const before = part.at;
        try {
          await this.transfer(f, fh, part, signal, whole && part.at === 0);
        } finally {
          // Progress earns fresh retries, except in whole-file mode where every retry restarts.
          if (part.at > before && !whole) failures = 0;
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

  /** One connection from `part.at`, advancing it as bytes reach the file. */
  private async transfer(
    f: FileState,
    fh: fsp.FileHandle,
    part: Part,
    signal: AbortSignal,
    plainGet: boolean,
  ): Promise<void> {
    const start = part.at;
    const headers: OutboundHeaders = { ...this.plan.headers };
    if (!plainGet) headers.range = `bytes=${start}-${part.end - 1}`;
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
    // Bytes reach the file through the writer; `part.at` moves only once they are written.
    const writer = new PartWriter(fh, part.at, (at, n, data) => {
      f.done = addRange(f.done, at, at + n);
      part.at = at + n;
      f.progress.downloaded += n;
      f.hasher.written(at, data, () => f.done, fh);
      this.emit(false);
      void this.saveSidecar(f, false);
    });
    part.next = part.at;
    let stalled = false;
    let timer = setTimeout(onStall, this.o.stallMs);
    function onStall() {
      stalled = true;
      res.abort();
    }
    const rearm = () => {
      timer = setTimeout(onStall, this.o.stallMs);
    };
    try {
      await res.readChunks((chunk) => {
        let buf = chunk;
        // Never write past the range (a server may send more, a split may have cut it short).
        if (part.next + buf.length > part.end) buf = buf.subarray(0, part.end - part.next);
        part.next += buf.length;
        const more = part.next < part.end;
        const wait = buf.length > 0 ? writer.push(buf) : undefined;
        if (!wait) {
          timer.refresh();
          return more;
        }
        // The idle timer is for the server: it does not run while our write is what we wait for.
        clearTimeout(timer);
        return wait.then(() => {
          rearm();
          return more;
        });
      });
      if (part.next >= part.end) res.abort();
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
    if (part.at < part.end) throw new Error(`Connection closed at byte ${part.at} of ${part.end}`);
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
    // The digest kept during the transfer, or (if it could not follow) one pass over the file.
    const kept = f.hasher.digest();
    const h = kept
      ? { digest: kept, size: (await fsp.stat(f.partPath)).size }
      : await hashFile(f.partPath, kind, this.stop.signal);
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
    await f.hasher.settle();
    f.hasher.reset();
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

/** Errors from node:fs come from Node's own realm: no instanceof, the shape decides. */
function asError(e: unknown): Error {
  return typeof (e as Error | undefined)?.message === 'string'
    ? (e as Error)
    : new Error(String(e));
}

async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(
    () => true,
    () => false,
  );
}
