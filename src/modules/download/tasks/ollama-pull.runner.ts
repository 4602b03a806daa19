import { ValidateError } from '@app/common';
import type { OutboundStreamResponse } from '@app/http';
import type { DownloadOutcome, DownloadProgress, FileProgress } from '../downloader';
import type { CreateDownloadReqDto } from '../dto/download-task.dto';
import { errorText, type OllamaClient } from '../sources/ollama.client';
import type { DownloadTaskEntity } from './download-task.entity';

/**
 * Ollama pulls as download tasks. Ollama fetches and verifies the layers into its own store; we
 * start `POST /api/pull`, read its NDJSON progress, and map it onto the task's states and events.
 */

/** What a task's job drives: the snapshot downloader or an Ollama pull. */
export interface DownloadRunner {
  /** Resolves with how the run ended; a failure rejects with an error whose message is shown. */
  start(): Promise<DownloadOutcome>;
  /** Stops; what is fetched so far stays for a resume. */
  pause(): void;
  /** Stops for good. */
  cancel(): void;
}

/** Emitted (EventEmitter2) after a deleted task removed its model from Ollama. */
export const OLLAMA_MODEL_REMOVED_EVENT = 'download.ollama-removed';
export interface OllamaModelRemovedEvent {
  model_id: string;
}

/** Longest NDJSON line accepted from Ollama (its progress lines are ~200 bytes). */
export const MAX_LINE_BYTES = 64 * 1024;
/**
 * After `verifying sha256 digest` Ollama hashes every layer and says nothing until it is done:
 * that silence may last as long as hashing the model takes, at no less than this rate.
 */
const VERIFY_MIN_BYTES_PER_SEC = 50 * 1024 * 1024;

// Ollama's name grammar (types/model/name.go) without the host part: a namespace has no dots, a
// name and a tag start with a letter, digit or underscore. A host would make Ollama fetch from a
// registry of the caller's choosing, so it is not accepted.
const NAMESPACE = '[A-Za-z0-9_][A-Za-z0-9_-]{0,79}';
const NAME = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}';
/** At most 64: the tag is kept in the task's `commit` column. */
const TAG = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}';
const MODEL_RE = new RegExp(`^(?:(${NAMESPACE})/)?(${NAME})(?::(${TAG}))?$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const NAME_RULE =
  'model_id must be an Ollama model name: name, name:tag or namespace/name:tag ' +
  '(letters, digits, _ - . ; tag at most 64 characters; no registry host)';

export interface OllamaPullTarget {
  /** The name as Ollama lists it (`/api/tags`): `name:tag` or `namespace/name:tag`. */
  model: string;
  tag: string;
}

/**
 * Validates an Ollama create request: the name (strict), the tag (in the name or as `revision`,
 * default `latest`), and no `files` globs (Ollama pulls every layer of a model).
 */
export function ollamaPullTarget(dto: CreateDownloadReqDto): OllamaPullTarget {
  if (dto.files?.length) {
    throw new ValidateError(
      { files: ['files (globs) do not apply to Ollama: a pull fetches every layer of the model'] },
      'files (globs) do not apply to Ollama: a pull fetches every layer of the model',
    );
  }
  const m = MODEL_RE.exec(dto.model_id);
  if (!m) throw new ValidateError({ model_id: [NAME_RULE] }, NAME_RULE);
  const [, namespace, name, inName] = m;
  const revision = dto.revision;
  if (revision !== undefined && !TAG_RE.test(revision)) {
    throw new ValidateError(
      { revision: ['revision is the Ollama tag: letters, digits, _ - . (at most 64)'] },
      'revision is the Ollama tag: letters, digits, _ - . (at most 64)',
    );
  }
  if (inName && revision !== undefined && revision !== inName) {
    throw new ValidateError(
      { revision: [`revision ${revision} differs from the tag in model_id (${inName})`] },
      `revision ${revision} differs from the tag in model_id (${inName})`,
    );
  }
  const tag = inName ?? revision ?? 'latest';
  // As Ollama names it: the default namespace `library` is left out.
  const ns = namespace && namespace.toLowerCase() !== 'library' ? `${namespace}/` : '';
  return { model: `${ns}${name}:${tag}`, tag };
}

/** The row of a new Ollama task (beside account_id): no files planned, the tag as commit. */
export function ollamaTaskRow(target: OllamaPullTarget): Partial<DownloadTaskEntity> {
  return {
    source: 'ollama',
    model_id: target.model,
    revision: target.tag,
    // Ollama has no commit to resolve before the pull; the tag is what was fetched.
    commit: target.tag,
    file_patterns: [],
    plan: { repo: target.model, ref: target.tag, files: [] },
    status: 'pending',
    total_bytes: 0,
    file_progress: [],
  };
}

/** A failed pull: Ollama's own `error` text, or what went wrong with the stream. */
export class OllamaPullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OllamaPullError';
  }
}

export interface OllamaPullOptions {
  client: Pick<OllamaClient, 'pull'>;
  /** No line for this long fails the pull (DOWNLOAD_STALL_SECONDS). */
  stallMs: number;
  /** At most one progress report per interval (default 250 ms), plus the first and the last. */
  progressIntervalMs?: number;
  maxLineBytes?: number;
  /**
   * The layers an earlier run of the task reported: shown from the start, so a resume does not
   * drop to zero before Ollama reports them again (its first line per layer then counts).
   */
  resumeFrom?: FileProgress[];
  onProgress?: (p: DownloadProgress) => void;
}

interface PullLine {
  status?: unknown;
  digest?: unknown;
  total?: unknown;
  completed?: unknown;
  error?: unknown;
}

const STOP_PAUSE = 'pause';
const STOP_CANCEL = 'cancel';

/**
 * One run of `POST /api/pull`: lines `pulling <digest>` become per-layer progress (path = the
 * layer digest), `success` completes, an `error` line, a silence longer than the stall limit, an
 * over-long or non-JSON line, or an end without `success` fails. Pause and cancel abort the
 * stream (Ollama keeps its partial blobs, so a later pull resumes them).
 *
 * Ollama announces layers one after another, so the total grows while it runs: `percent` is the
 * share of the bytes known so far, never lower than the last one reported and below 100 until
 * `success`.
 */
export class OllamaPullRunner implements DownloadRunner {
  private readonly stop = new AbortController();
  private readonly layers = new Map<string, FileProgress>();
  /** Layers Ollama reported in this run (a resumed layer's first report replaces the old one). */
  private readonly seen = new Set<string>();
  private readonly o: Required<Omit<OllamaPullOptions, 'onProgress' | 'resumeFrom'>> &
    OllamaPullOptions;
  private started = false;
  private verifying = false;
  /** `success` was read. */
  private done = false;
  private lastStatus = '';
  private percent = 0;
  private lastEmitAt = 0;
  private lastSampleAt = Date.now();
  private lastSampleBytes = 0;
  private speed = 0;

  constructor(
    private readonly model: string,
    options: OllamaPullOptions,
  ) {
    this.o = { progressIntervalMs: 250, maxLineBytes: MAX_LINE_BYTES, ...options };
    for (const f of options.resumeFrom ?? []) {
      this.layers.set(f.path, { ...f, status: f.status === 'done' ? 'done' : 'pending' });
    }
    this.lastSampleBytes = [...this.layers.values()].reduce((n, f) => n + f.downloaded, 0);
  }

  pause(): void {
    this.stop.abort(STOP_PAUSE);
  }

  cancel(): void {
    this.stop.abort(STOP_CANCEL);
  }

  async start(): Promise<DownloadOutcome> {
    if (this.started) throw new Error('An OllamaPullRunner runs once; create another to resume');
    this.started = true;
    if (this.stop.signal.aborted) return this.stopped();
    const idle = new AbortController();
    let res: OutboundStreamResponse | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    let stalledMs = 0;
    const arm = (ms: number) => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        stalledMs = ms;
        idle.abort();
        res?.abort();
      }, ms);
    };
    arm(this.o.stallMs);
    const onStop = () => res?.abort();
    this.stop.signal.addEventListener('abort', onStop, { once: true });
    this.emit(true);
    try {
      res = await this.o.client.pull(this.model, AbortSignal.any([this.stop.signal, idle.signal]));
      for await (const line of ndjsonLines(res.body, this.o.maxLineBytes)) {
        if (this.stop.signal.aborted) return this.stopped();
        arm(this.handle(line) === 'verifying' ? this.verifyWindow() : this.o.stallMs);
        if (this.done) {
          for (const f of this.layers.values()) f.status = 'done';
          this.percent = 100;
          this.emit(true);
          return 'completed';
        }
      }
      if (this.stop.signal.aborted) return this.stopped();
      throw new OllamaPullError(
        `Ollama ended the pull of ${this.model} without "success" (${this.lastStatus || 'no status'})`,
      );
    } catch (e) {
      if (this.stop.signal.aborted) return this.stopped();
      if (stalledMs > 0) {
        throw new OllamaPullError(
          `Ollama sent nothing for ${stalledMs / 1000} s while pulling ${this.model}` +
            (this.lastStatus ? ` (last: ${this.lastStatus})` : ''),
        );
      }
      if (e instanceof OllamaPullError) throw e;
      const message = e instanceof Error ? e.message : String(e);
      throw new OllamaPullError(res ? `The pull of ${this.model} broke off: ${message}` : message);
    } finally {
      clearTimeout(idleTimer);
      this.stop.signal.removeEventListener('abort', onStop);
      res?.abort();
    }
  }

  /** One line; throws on an `error` field. Answers 'verifying' when Ollama starts hashing. */
  private handle(text: string): 'verifying' | 'other' {
    if (!text.trim()) return 'other';
    let line: PullLine;
    try {
      line = JSON.parse(text) as PullLine;
    } catch {
      throw new OllamaPullError(`Ollama sent a line that is not JSON: ${text.slice(0, 200)}`);
    }
    if (!line || typeof line !== 'object') {
      throw new OllamaPullError(`Ollama sent a line that is not an object: ${text.slice(0, 200)}`);
    }
    // Every line: Ollama reports failures in-band, after the 200 and any progress.
    if (line.error !== undefined && line.error !== null) {
      throw new OllamaPullError(`Ollama: ${errorText(text) ?? 'unknown error'}`);
    }
    const status = typeof line.status === 'string' ? line.status.slice(0, 200) : '';
    if (status) this.lastStatus = status;
    if (status === 'success') {
      this.done = true;
      return 'other';
    }
    if (typeof line.digest === 'string' && line.digest) {
      const total = nonNegative(line.total);
      const completed = nonNegative(line.completed); // omitted by Ollama while 0
      const key = line.digest.slice(0, 200);
      let layer = this.layers.get(key);
      if (!layer) {
        layer = { path: key, size: total, downloaded: 0, status: 'downloading' };
        this.layers.set(key, layer);
      }
      if (!this.seen.has(key)) {
        this.seen.add(key);
        // Ollama's first word on a layer in this run is the truth (a pruned partial restarts).
        if (total > 0) layer.size = total;
        layer.downloaded = 0;
      }
      if (total > layer.size) layer.size = total;
      // A retried part may report less for a moment; the bytes shown never go back.
      layer.downloaded = Math.min(layer.size, Math.max(layer.downloaded, completed));
      layer.status = layer.size > 0 && layer.downloaded >= layer.size ? 'done' : 'downloading';
      this.emit(false);
      return 'other';
    }
    if (/^verifying\b/i.test(status)) {
      this.verifying = true;
      for (const f of this.layers.values()) f.status = 'verifying';
      this.emit(true);
      return 'verifying';
    }
    if (this.verifying && /^writing manifest/i.test(status)) {
      for (const f of this.layers.values()) f.status = 'done';
      this.emit(true);
    }
    return 'other';
  }

  private verifyWindow(): number {
    const total = [...this.layers.values()].reduce((n, f) => n + f.size, 0);
    return this.o.stallMs + Math.ceil((total / VERIFY_MIN_BYTES_PER_SEC) * 1000);
  }

  private stopped(): DownloadOutcome {
    return this.stop.signal.reason === STOP_CANCEL ? 'cancelled' : 'paused';
  }

  private emit(force: boolean): void {
    if (!this.o.onProgress) return;
    const now = Date.now();
    if (!force && now - this.lastEmitAt < this.o.progressIntervalMs) return;
    this.lastEmitAt = now;
    const files = [...this.layers.values()];
    const downloaded = files.reduce((n, f) => n + f.downloaded, 0);
    const total = files.reduce((n, f) => n + f.size, 0);
    const dt = (now - this.lastSampleAt) / 1000;
    if (dt >= 0.1) {
      const inst = Math.max(0, downloaded - this.lastSampleBytes) / dt;
      this.speed = this.speed === 0 ? inst : 0.3 * inst + 0.7 * this.speed;
      this.lastSampleAt = now;
      this.lastSampleBytes = downloaded;
    }
    if (!this.done && total > 0) {
      const share = Math.floor((downloaded / total) * 10000) / 100;
      this.percent = Math.min(99.99, Math.max(this.percent, share));
    }
    const eta = this.speed > 0 ? Math.ceil((total - downloaded) / this.speed) : null;
    this.o.onProgress({
      downloaded,
      total,
      speed: Math.round(this.speed),
      eta: this.done || (total > 0 && downloaded >= total) ? 0 : eta,
      files: files.map((f) => ({ ...f })),
      percent: this.percent,
    });
  }
}

function nonNegative(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

/**
 * Splits a byte stream into lines (without the newline), decoding each whole line as UTF-8, so a
 * character split across chunks survives. A line longer than `maxBytes` fails before it is kept.
 */
export async function* ndjsonLines(
  body: AsyncIterable<Buffer>,
  maxBytes: number,
): AsyncGenerator<string> {
  let pending: Buffer[] = [];
  let size = 0;
  const tooLong = () =>
    new OllamaPullError(`Ollama sent a line longer than ${maxBytes} bytes; the pull was stopped`);
  for await (const chunk of body) {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      if (size + piece.length > maxBytes) throw tooLong();
      const line = pending.length ? Buffer.concat([...pending, piece]) : piece;
      pending = [];
      size = 0;
      start = nl + 1;
      yield line.toString('utf8');
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      size += rest.length;
      if (size > maxBytes) throw tooLong();
      pending.push(rest);
    }
  }
  if (size > 0) yield Buffer.concat(pending).toString('utf8');
}
