import { createCipheriv, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** One file of a fake repo; its bytes are generated (deterministic) unless `content` is given. */
export interface FakeHfFileSpec {
  path: string;
  size?: number;
  content?: Buffer | string;
  /** Stored in LFS (answered through the CDN redirect). Default: .gguf/.safetensors/.bin files. */
  lfs?: boolean;
  /**
   * Large files: the bytes are a pure function of the offset, produced as they are sent and never
   * held in memory (see `streamedBytes`); `size` is required. The SHA-256 is computed once, by
   * streaming, when the repo is added (and remembered per path and size for the process).
   */
  streamed?: boolean;
}

export interface FakeHfRepoSpec {
  id: string;
  files: FakeHfFileSpec[];
  /** Needs the hub token (401 without it, as the hub answers for gated repos). */
  gated?: boolean;
  sha?: string;
  tags?: string[];
  pipeline_tag?: string;
  library_name?: string;
  downloads?: number;
  likes?: number;
  createdAt?: string;
  lastModified?: string;
  gguf?: { total?: number; architecture?: string; context_length?: number };
  safetensors?: { parameters?: Record<string, number>; total?: number };
  config?: Record<string, unknown>;
}

export interface FakeHfFile {
  path: string;
  /** The bytes; absent for a `streamed` file (read it with `fileBytes`). */
  content?: Buffer;
  size: number;
  /** Hex SHA-256 of the bytes (the LFS oid). */
  sha256: string;
  /**
   * Git blob id, as the tree's `oid`: SHA-1 of "blob <size>\0" + the bytes, except for a streamed
   * LFS file, whose oid is that of its LFS pointer file (as on the real hub).
   */
  oid: string;
  lfs: boolean;
  /** Seed of a streamed file's bytes. */
  seed?: number;
}

export interface FakeHfRepo extends Omit<FakeHfRepoSpec, 'files'> {
  sha: string;
  files: FakeHfFile[];
}

/** Misbehaviours of the CDN path, for downloader tests. Assign fields on `fake.switches`. */
export interface FakeHfSwitches {
  /** Answer 200 with the whole body even when a Range is asked. */
  ignoreRange: boolean;
  /** Close the connection after this many body bytes of each CDN answer. */
  dropAtByte?: number;
  /** Send each CDN answer (so each connection) at about this many bytes per second. */
  throttleBytesPerSec?: number;
  /** The next N CDN requests get 429 with `Retry-After: retryAfterSeconds`. */
  tooManyRequests: number;
  retryAfterSeconds: number;
  /** Flip one byte of every CDN body (a checksum mismatch). */
  wrongBytes: boolean;
}

export interface FakeHfRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
}

function generate(path: string, size: number): Buffer {
  // Deterministic bytes per path: a SHA-256 counter stream.
  const out = Buffer.alloc(size);
  let block = 0;
  for (let off = 0; off < size; off += 32, block++) {
    createHash('sha256')
      .update(`${path}:${block}`)
      .digest()
      .copy(out, off, 0, Math.min(32, size - off));
  }
  return out;
}

const POOL_BYTES = 8 * 1024 * 1024;
const BLOCK_BYTES = 1024 * 1024;
/** Odd and not a multiple of 7, so co-prime with POOL_BYTES - BLOCK_BYTES (7 MiB). */
const BLOCK_STEP = 2_654_435_761;
let pool: Buffer | undefined;

/** 8 MiB of fixed pseudo-random bytes (an AES-128-CTR key stream), made once per process. */
function streamPool(): Buffer {
  pool ??= createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16)).update(
    Buffer.alloc(POOL_BYTES),
  );
  return pool;
}

/**
 * The bytes [start, end) of a streamed file, as slices of one shared pool (no copies, no
 * generation cost): 1 MiB block `i` of the file is the pool from offset
 * `(seed + i * BLOCK_STEP) mod 7 MiB`, so every block of a file starts at a different pool offset
 * (the step is co-prime with the modulus) and the content depends on the offset alone.
 */
export function* streamedBytes(
  seed: number,
  start: number,
  end: number,
  maxChunk = BLOCK_BYTES,
): Generator<Buffer> {
  const p = streamPool();
  for (let off = start; off < end;) {
    const block = Math.floor(off / BLOCK_BYTES);
    const within = off - block * BLOCK_BYTES;
    const len = Math.min(end - off, BLOCK_BYTES - within, maxChunk);
    const at = (seed + block * BLOCK_STEP) % (POOL_BYTES - BLOCK_BYTES);
    yield p.subarray(at + within, at + within + len);
    off += len;
  }
}

const streamedDigests = new Map<string, { sha256: string; oid: string }>();

function streamedDigest(
  key: string,
  seed: number,
  size: number,
  lfs: boolean,
): { sha256: string; oid: string } {
  const known = streamedDigests.get(key);
  if (known) return known;
  const sha = createHash('sha256');
  const git = lfs ? undefined : createHash('sha1').update(`blob ${size}\0`);
  for (const chunk of streamedBytes(seed, 0, size)) {
    sha.update(chunk);
    git?.update(chunk);
  }
  const sha256 = sha.digest('hex');
  const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
  const oid =
    git?.digest('hex') ??
    createHash('sha1')
      .update(`blob ${Buffer.byteLength(pointer)}\0${pointer}`)
      .digest('hex');
  const digest = { sha256, oid };
  streamedDigests.set(key, digest);
  return digest;
}

/** The bytes [start, end) of a fake file, whether held in memory or streamed. */
export function fileBytes(file: FakeHfFile, start = 0, end = file.size): Buffer {
  if (file.content) return file.content.subarray(start, end);
  return Buffer.concat([...streamedBytes(file.seed ?? 0, start, end)]);
}

function defaultLfs(path: string): boolean {
  return /\.(gguf|safetensors|bin|onnx|pt)$/i.test(path);
}

/**
 * A fake Hugging Face hub on loopback speaking the real wire protocol:
 * - `GET /api/models?search=&sort=&direction=&limit=&cursor=`: search, `Link: <...>; rel="next"`
 *   while more results remain.
 * - `GET /api/models/{owner}/{name}/revision/{rev}`: model info (`sha`, `siblings`, `gguf`, ...).
 * - `GET /api/models/{owner}/{name}/tree/{rev}?recursive=true&cursor=`: files (size, oid,
 *   `lfs.oid` = sha256), `treePageSize` a page with `Link` rel="next".
 * - `GET|HEAD /{owner}/{name}/resolve/{rev}/{path}`: LFS files answer 302 to `/cdn/{sha256}` on
 *   the same fake with `X-Repo-Commit`, `X-Linked-Etag`, `X-Linked-Size`; small files answer 200.
 * - `GET|HEAD /cdn/{sha256}`: the bytes, with `Range` (206/416) and the `switches` misbehaviours.
 * Gated repos answer 401 without `Authorization: Bearer <token>`; missing repos 404, both with
 * `{"error": ...}` and `X-Error-Code` as the hub does.
 */
export class FakeHfHub {
  readonly requests: FakeHfRequest[] = [];
  readonly repos = new Map<string, FakeHfRepo>();
  readonly switches: FakeHfSwitches = {
    ignoreRange: false,
    tooManyRequests: 0,
    retryAfterSeconds: 1,
    wrongBytes: false,
  };
  /** The token gated repos require. */
  token = 'hf_fake_token_0123456789';
  /** Entries per tree page (small, so tests see the `Link` pagination). */
  treePageSize = 1000;
  /** When set, `Link` next URLs point at this origin instead (a hub that sends clients elsewhere). */
  linkOrigin?: string;
  /** When set, LFS resolves redirect to this origin's `/cdn/...` (a CDN elsewhere, or a trap). */
  cdnOrigin?: string;
  private server?: Server;
  private base = '';

  constructor(private readonly host = '127.0.0.1') {}

  static async create(host = '127.0.0.1'): Promise<FakeHfHub> {
    return new FakeHfHub(host).start();
  }

  get url(): string {
    return this.base;
  }

  addRepo(spec: FakeHfRepoSpec): FakeHfRepo {
    const files = spec.files.map((f): FakeHfFile => {
      if (f.streamed) {
        const size = f.size ?? 0;
        const lfs = f.lfs ?? defaultLfs(f.path);
        const seed = createHash('sha256').update(`${spec.id}/${f.path}`).digest().readUInt32BE(0);
        const key = `${spec.id}/${f.path}:${size}:${lfs}`;
        return { path: f.path, size, lfs, seed, ...streamedDigest(key, seed, size, lfs) };
      }
      const content =
        f.content !== undefined
          ? Buffer.from(f.content)
          : generate(`${spec.id}/${f.path}`, f.size ?? 0);
      return {
        path: f.path,
        content,
        size: content.length,
        sha256: createHash('sha256').update(content).digest('hex'),
        oid: createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex'),
        lfs: f.lfs ?? defaultLfs(f.path),
      };
    });
    const repo: FakeHfRepo = {
      ...spec,
      sha: spec.sha ?? createHash('sha1').update(spec.id).digest('hex'),
      files,
    };
    this.repos.set(spec.id, repo);
    return repo;
  }

  requestsTo(prefix: string): FakeHfRequest[] {
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) this.json(res, 500, { error: String(e) });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, this.host, resolve));
    const { port } = this.server.address() as AddressInfo;
    this.base = `http://${this.host}:${port}`;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    this.server = undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    const method = req.method ?? 'GET';
    this.requests.push({
      method,
      path: decodeURIComponent(url.pathname),
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
    });
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'api' && parts[1] === 'models') {
      if (parts.length === 2) return this.search(url, res);
      const repo = this.repoFor(`${parts[2]}/${parts[3]}`, req, res);
      if (!repo) return;
      const rev = parts[5];
      if (!this.revisionOk(repo, rev)) return this.revisionMissing(res, rev);
      if (parts[4] === 'revision' && parts.length === 6) return this.info(repo, res);
      if (parts[4] === 'tree' && parts.length >= 6) return this.tree(repo, url, res);
    } else if (parts[0] === 'cdn' && parts.length === 2) {
      return this.cdn(parts[1], req, res);
    } else if (parts[2] === 'resolve' && parts.length >= 5) {
      const repo = this.repoFor(`${parts[0]}/${parts[1]}`, req, res);
      if (!repo) return;
      if (!this.revisionOk(repo, parts[3])) return this.revisionMissing(res, parts[3]);
      return this.resolve(repo, parts.slice(4).join('/'), req, res);
    }
    this.json(res, 404, { error: 'Not Found' });
  }

  private repoFor(id: string, req: IncomingMessage, res: ServerResponse): FakeHfRepo | undefined {
    const repo = this.repos.get(id);
    if (!repo) {
      res.setHeader('x-error-code', 'RepoNotFound');
      this.json(res, 404, { error: 'Repository not found' });
      return undefined;
    }
    if (repo.gated && req.headers.authorization !== `Bearer ${this.token}`) {
      res.setHeader('x-error-code', 'GatedRepo');
      this.json(res, 401, {
        error: `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
      });
      return undefined;
    }
    return repo;
  }

  private revisionOk(repo: FakeHfRepo, rev: string | undefined): boolean {
    return rev === 'main' || rev === repo.sha;
  }

  private revisionMissing(res: ServerResponse, rev: string | undefined): void {
    res.setHeader('x-error-code', 'RevisionNotFound');
    this.json(res, 404, { error: `Invalid rev id: ${rev}` });
  }

  private search(url: URL, res: ServerResponse): void {
    const word = (url.searchParams.get('search') ?? '').toLowerCase();
    const sort = url.searchParams.get('sort') ?? 'downloads';
    const dir = url.searchParams.get('direction') === '1' ? 1 : -1;
    const limit = Math.min(Number(url.searchParams.get('limit') ?? 1000) || 1000, 1000);
    const cursor = Number(url.searchParams.get('cursor') ?? 0) || 0;
    const key = (r: FakeHfRepo): number | string =>
      sort === 'likes'
        ? (r.likes ?? 0)
        : sort === 'createdAt'
          ? (r.createdAt ?? '')
          : sort === 'lastModified'
            ? (r.lastModified ?? '')
            : (r.downloads ?? 0);
    const all = [...this.repos.values()]
      .filter((r) => r.id.toLowerCase().includes(word))
      .sort((a, b) => {
        const ka = key(a);
        const kb = key(b);
        return (ka < kb ? -1 : ka > kb ? 1 : 0) * dir || a.id.localeCompare(b.id);
      });
    const page = all.slice(cursor, cursor + limit);
    if (cursor + limit < all.length) {
      const next = new URL(url);
      next.searchParams.set('cursor', String(cursor + limit));
      res.setHeader('link', `<${next.href}>; rel="next"`);
    }
    this.json(
      res,
      200,
      page.map((r) => ({
        _id: r.sha.slice(0, 24),
        id: r.id,
        likes: r.likes ?? 0,
        downloads: r.downloads ?? 0,
        tags: r.tags ?? [],
        pipeline_tag: r.pipeline_tag,
        library_name: r.library_name,
        private: false,
        createdAt: r.createdAt ?? '2025-01-01T00:00:00.000Z',
        modelId: r.id,
      })),
    );
  }

  private info(repo: FakeHfRepo, res: ServerResponse): void {
    this.json(res, 200, {
      _id: repo.sha.slice(0, 24),
      id: repo.id,
      modelId: repo.id,
      author: repo.id.split('/')[0],
      sha: repo.sha,
      lastModified: repo.lastModified ?? '2025-01-02T00:00:00.000Z',
      createdAt: repo.createdAt ?? '2025-01-01T00:00:00.000Z',
      private: false,
      gated: repo.gated ? 'manual' : false,
      disabled: false,
      downloads: repo.downloads ?? 0,
      likes: repo.likes ?? 0,
      tags: repo.tags ?? [],
      pipeline_tag: repo.pipeline_tag,
      library_name: repo.library_name,
      config: repo.config,
      gguf: repo.gguf,
      safetensors: repo.safetensors,
      siblings: repo.files.map((f) => ({ rfilename: f.path })),
    });
  }

  private tree(repo: FakeHfRepo, url: URL, res: ServerResponse): void {
    const recursive = url.searchParams.get('recursive') === 'true';
    const dirs = new Set<string>();
    for (const f of repo.files) {
      const segs = f.path.split('/');
      for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join('/'));
    }
    const entries = [
      ...[...dirs].map((d) => ({ type: 'directory', oid: repo.sha, size: 0, path: d })),
      ...repo.files.map((f) => ({
        type: 'file',
        oid: f.oid,
        size: f.size,
        path: f.path,
        ...(f.lfs ? { lfs: { oid: f.sha256, size: f.size, pointerSize: 134 } } : {}),
      })),
    ]
      .filter((e) => recursive || !e.path.includes('/'))
      .sort((a, b) => a.path.localeCompare(b.path));
    const cursor = Number(url.searchParams.get('cursor') ?? 0) || 0;
    if (cursor + this.treePageSize < entries.length) {
      const next = new URL(url.pathname + url.search, this.linkOrigin ?? this.base);
      next.searchParams.set('cursor', String(cursor + this.treePageSize));
      res.setHeader('link', `<${next.href}>; rel="next"`);
    }
    this.json(res, 200, entries.slice(cursor, cursor + this.treePageSize));
  }

  private async resolve(
    repo: FakeHfRepo,
    path: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const file = repo.files.find((f) => f.path === path);
    if (!file) {
      res.setHeader('x-error-code', 'EntryNotFound');
      return this.json(res, 404, { error: 'Entry not found' });
    }
    res.setHeader('x-repo-commit', repo.sha);
    if (!file.lfs) {
      res.setHeader('etag', `"${file.oid}"`);
      res.setHeader('content-length', file.size);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      if (req.method === 'HEAD') return void res.end();
      return this.send(res, file, 0, file.size, { throttle: false, drop: false, wrong: false });
    }
    res.setHeader('x-linked-etag', `"${file.sha256}"`);
    res.setHeader('x-linked-size', String(file.size));
    res.setHeader('etag', `"${file.sha256}"`);
    res.writeHead(302, {
      location: `${this.cdnOrigin ?? ''}/cdn/${file.sha256}?repo=${encodeURIComponent(repo.id)}`,
    });
    res.end();
  }

  private async cdn(sha256: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const file = [...this.repos.values()].flatMap((r) => r.files).find((f) => f.sha256 === sha256);
    if (!file) return this.json(res, 404, { error: 'Not Found' });
    if (this.switches.tooManyRequests > 0) {
      this.switches.tooManyRequests--;
      res.setHeader('retry-after', String(this.switches.retryAfterSeconds));
      return this.json(res, 429, { error: 'Too Many Requests' });
    }
    let status = 200;
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      etag: `"${file.sha256}"`,
    };
    let start = 0;
    let end = file.size;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && !this.switches.ignoreRange) {
      start = range[1] === '' ? Math.max(0, file.size - Number(range[2])) : Number(range[1]);
      const last =
        range[1] === '' || range[2] === ''
          ? file.size - 1
          : Math.min(Number(range[2]), file.size - 1);
      if (start >= file.size || start > last) {
        res.writeHead(416, { 'content-range': `bytes */${file.size}` });
        return void res.end();
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${last}/${file.size}`;
      end = last + 1;
    }
    headers['content-length'] = end - start;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();
    await this.send(res, file, start, end, { throttle: true, drop: true, wrong: true });
  }

  /**
   * Writes the bytes [start, end) of a file with backpressure, paced to the throttle (checked
   * when the answer starts), cut at `dropAtByte` and with byte 0 of the file flipped when the
   * switches say so and the answer allows it.
   */
  private async send(
    res: ServerResponse,
    file: FakeHfFile,
    start: number,
    end: number,
    allow: { throttle: boolean; drop: boolean; wrong: boolean },
  ): Promise<void> {
    const drop = allow.drop ? this.switches.dropAtByte : undefined;
    const limit = drop !== undefined ? Math.min(start + drop, end) : end;
    const rate = allow.throttle ? this.switches.throttleBytesPerSec : undefined;
    const wrong = allow.wrong && this.switches.wrongBytes;
    // Throttled: pieces of a tenth of a second, each sent when the pace allows.
    const maxChunk = rate ? Math.max(1, Math.floor(rate / 10)) : 1024 * 1024;
    const pieces = file.content
      ? (function* (content: Buffer) {
          for (let off = start; off < limit; off += maxChunk) {
            yield content.subarray(off, Math.min(off + maxChunk, limit));
          }
        })(file.content)
      : streamedBytes(file.seed ?? 0, start, limit, maxChunk);
    const t0 = performance.now();
    let sent = 0;
    let at = start;
    for (let piece of pieces) {
      if (res.destroyed) return;
      if (wrong && at === 0 && piece.length > 0) {
        piece = Buffer.from(piece);
        piece[0] ^= 0xff;
      }
      at += piece.length;
      sent += piece.length;
      if (!res.write(piece)) await drained(res);
      if (rate) {
        const due = t0 + (sent / rate) * 1000 - performance.now();
        if (due > 0) await sleep(due);
      }
    }
    if (res.destroyed) return;
    if (limit < end) {
      res.destroy();
      return;
    }
    res.end();
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }
}

/** Resolves when the response can take more data, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
