import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A static file server on loopback with HTTP Range support and fault switches, for the downloader.
 * File contents are generated block by block from a seed, so neither side needs them in memory.
 */
export interface FakeFileSwitches {
  /** Answer Range requests with 200 and the whole file. */
  ignoreRange?: boolean;
  /** Drop the connection after sending this many body bytes, for the next `dropTimes` responses. */
  dropAfterBytes?: number;
  dropTimes?: number;
  /** Bytes per second per response. */
  throttleBytesPerSec?: number;
  /** Flip bytes in the next `corruptTimes` full-file deliveries (every response counts). */
  corruptTimes?: number;
  /** Answer the next `rateLimitTimes` requests with 429 and this Retry-After (seconds). */
  rateLimitTimes?: number;
  retryAfterSeconds?: number;
  /** Send headers, then nothing, for the next `stallTimes` responses. */
  stallTimes?: number;
}

export interface FakeRequestLog {
  path: string;
  range?: string;
  status: number;
}

const BLOCK = 64 * 1024;

function block(seed: string, index: number): Buffer {
  const digest = createHash('sha256').update(`${seed}:${index}`).digest();
  const out = Buffer.allocUnsafe(BLOCK);
  for (let i = 0; i < BLOCK; i += digest.length) digest.copy(out, i);
  return out;
}

export class FakeFile {
  constructor(
    readonly size: number,
    readonly seed: string,
  ) {}

  /** Bytes [start, end) in pieces of at most one block. */
  *chunks(start: number, end: number): Generator<Buffer> {
    let at = start;
    while (at < end) {
      const b = Math.floor(at / BLOCK);
      const from = at - b * BLOCK;
      const to = Math.min(BLOCK, end - b * BLOCK);
      yield block(this.seed, b).subarray(from, to);
      at = b * BLOCK + to;
    }
  }

  digests(): { sha256: string; gitSha1: string } {
    const sha = createHash('sha256');
    const git = createHash('sha1').update(`blob ${this.size}\0`);
    for (const c of this.chunks(0, this.size)) {
      sha.update(c);
      git.update(c);
    }
    return { sha256: sha.digest('hex'), gitSha1: git.digest('hex') };
  }
}

export class FakeFileServer {
  readonly files = new Map<string, FakeFile>();
  readonly requests: FakeRequestLog[] = [];
  switches: FakeFileSwitches = {};
  private server?: Server;
  private readonly sockets = new Set<import('node:net').Socket>();

  add(path: string, size: number, seed = path): FakeFile & { sha256: string; gitSha1: string } {
    const f = new FakeFile(size, seed);
    this.files.set(path, f);
    return Object.assign(f, f.digests());
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  rangeRequests(path?: string): FakeRequestLog[] {
    return this.requests.filter((r) => r.range && (!path || r.path === path));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = this.files.get(path);
    const range = req.headers.range;
    const sw = this.switches;
    const log = (status: number) => this.requests.push({ path, range, status });
    if (!file) {
      log(404);
      res.writeHead(404).end('not found');
      return;
    }
    if (sw.rateLimitTimes) {
      sw.rateLimitTimes--;
      log(429);
      res.writeHead(429, { 'retry-after': String(sw.retryAfterSeconds ?? 1) }).end('slow down');
      return;
    }
    let start = 0;
    let end = file.size;
    let status = 200;
    const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (m && !sw.ignoreRange) {
      start = Number(m[1]);
      end = m[2] ? Math.min(file.size, Number(m[2]) + 1) : file.size;
      if (start >= file.size || start >= end) {
        log(416);
        res.writeHead(416, { 'content-range': `bytes */${file.size}` }).end();
        return;
      }
      status = 206;
    }
    log(status);
    const headers: Record<string, string> = {
      'content-length': String(end - start),
      'accept-ranges': sw.ignoreRange ? 'none' : 'bytes',
      'content-type': 'application/octet-stream',
    };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end - 1}/${file.size}`;
    res.writeHead(status, headers);
    if (sw.stallTimes) {
      sw.stallTimes--;
      res.flushHeaders();
      return; // headers only; the client's stall detection must give up on us
    }
    let drop: number | undefined;
    if (sw.dropAfterBytes !== undefined && (sw.dropTimes ?? 1) > 0) {
      sw.dropTimes = (sw.dropTimes ?? 1) - 1;
      drop = sw.dropAfterBytes;
    }
    let corrupt = false;
    if (sw.corruptTimes) {
      sw.corruptTimes--;
      corrupt = true;
    }
    let sent = 0;
    for (let c of file.chunks(start, end)) {
      if (res.destroyed) return;
      if (drop !== undefined && sent + c.length > drop) {
        c = c.subarray(0, drop - sent);
        if (c.length) res.write(c);
        await new Promise((r) => setTimeout(r, 20));
        res.socket?.destroy();
        return;
      }
      if (corrupt) {
        c = Buffer.from(c);
        c[0] ^= 0xff;
      }
      sent += c.length;
      const ok = res.write(c);
      if (sw.throttleBytesPerSec) {
        await new Promise((r) => setTimeout(r, (c.length / sw.throttleBytesPerSec!) * 1000));
      } else if (!ok) {
        await new Promise((r) => res.once('drain', r));
      }
    }
    res.end();
  }
}
