import { OutboundHttpClient } from '@app/http';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FakeFileServer } from '@test/fakes/fake-file-server';
import { addRange, contiguousEnd, missingRanges, planParts } from './ranges';
import {
  ConnectionLimiter,
  DownloadError,
  rateLimitWait,
  SnapshotDownloader,
  type DownloadProgress,
  type SnapshotDownloaderOptions,
  type SnapshotPlan,
  WorkerFrontHasher,
} from './snapshot-downloader';

const KB = 1024;
const MB = 1024 * KB;
const COMMIT = 'a'.repeat(40);

describe('byte ranges', () => {
  it('merges, finds gaps and plans parts', () => {
    let r = addRange([], 10, 20);
    r = addRange(r, 0, 5);
    r = addRange(r, 5, 10);
    expect(r).toEqual([[0, 20]]);
    expect(missingRanges([[10, 20]], 30)).toEqual([
      [0, 10],
      [20, 30],
    ]);
    expect(planParts([[0, 100]], 8, 30)).toEqual([
      [0, 50],
      [50, 100],
    ]);
    expect(planParts([[0, 1000]], 4, 10)).toHaveLength(4);
    expect(planParts([[0, 10]], 8, 64)).toEqual([[0, 10]]);
    expect(
      contiguousEnd([
        [0, 20],
        [30, 40],
      ]),
    ).toBe(20);
    expect(contiguousEnd([[5, 20]])).toBe(0);
    expect(contiguousEnd([])).toBe(0);
  });

  it('reads Retry-After and RateLimit reset', () => {
    expect(rateLimitWait({ 'retry-after': '3' })).toBe(3000);
    expect(rateLimitWait({ ratelimit: 'limit=10, remaining=0, reset=7' })).toBe(7000);
    expect(rateLimitWait({})).toBeUndefined();
  });
});

// Every case twice: files hashed on this thread as their bytes land, and on a worker thread that
// reads them back from the file (what files of DOWNLOAD sizes get).
describe.each([
  ['on this thread', Infinity],
  ['on a worker thread', 0],
])('SnapshotDownloader, hashing %s', (_how, hashWorkerMinBytes) => {
  let server: FakeFileServer;
  let base: string;
  let dir: string;
  let http: OutboundHttpClient;

  beforeEach(async () => {
    server = new FakeFileServer();
    base = await server.start();
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dl-'));
    http = new OutboundHttpClient({
      allowHosts: ['127.0.0.1'],
      timeoutMs: 5000,
      maxResponseBytes: MB,
      maxRetries: 0,
    });
  });

  afterEach(async () => {
    await http.close();
    await server.stop();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  function plan(files: { path: string; size: number; lfs?: boolean }[]): SnapshotPlan {
    return {
      repo: 'acme/tiny-model',
      revision: COMMIT,
      ref: 'main',
      files: files.map((f) => {
        const ff = server.add(`/${f.path}`, f.size);
        return {
          path: f.path,
          size: f.size,
          url: `${base}/${f.path}`,
          ...(f.lfs === false ? { gitSha1: ff.gitSha1 } : { sha256: ff.sha256 }),
        };
      }),
    };
  }

  function downloader(p: SnapshotPlan, extra: Partial<SnapshotDownloaderOptions> = {}) {
    return new SnapshotDownloader(p, {
      http,
      modelsDir: dir,
      limiter: new ConnectionLimiter(8),
      partMinBytes: 256 * KB,
      maxParts: 4,
      stallMs: 2000,
      retryBaseMs: 10,
      diskMarginBytes: 0,
      hashWorkerMinBytes,
      ...extra,
    });
  }

  const repoDir = () => path.join(dir, 'models--acme--tiny-model');

  async function sha256Of(file: string): Promise<string> {
    const h = createHash('sha256');
    for await (const c of (await fsp.open(file)).createReadStream()) h.update(c as Buffer);
    return h.digest('hex');
  }

  async function expectComplete(p: SnapshotPlan): Promise<void> {
    for (const f of p.files) {
      const link = path.join(repoDir(), 'snapshots', COMMIT, f.path);
      const target = await fsp.readlink(link);
      expect(path.isAbsolute(target)).toBe(false);
      expect(path.basename(target)).toBe(f.sha256 ?? f.gitSha1);
      expect((await fsp.stat(link)).size).toBe(f.size);
      if (f.sha256) expect(await sha256Of(link)).toBe(f.sha256);
    }
    expect(await fsp.readFile(path.join(repoDir(), 'refs', 'main'), 'utf8')).toBe(COMMIT);
    const blobs = await fsp.readdir(path.join(repoDir(), 'blobs'));
    expect(blobs.filter((b) => b.includes('.part'))).toEqual([]);
  }

  it('downloads a snapshot in parallel Range parts, verified, into the HF cache layout', async () => {
    const p = plan([
      { path: 'model.safetensors', size: 2 * MB + 123 },
      { path: 'config.json', size: 300, lfs: false },
      { path: 'sub/dir/tokenizer.json', size: 70 * KB },
    ]);
    server.switches.throttleBytesPerSec = MB; // slow enough for speed samples
    const events: DownloadProgress[] = [];
    const d = downloader(p, {
      onProgress: (e) => events.push(e),
      progressIntervalMs: 0,
      // The fake hub and the test runner share this process: their CPU is not the download's,
      // and on a loaded CI machine it once crossed the 0.5 cores that keep a file on one
      // connection. This case is about the split; the connection's rate still decides it.
      splitBelowCores: Infinity,
      // Four parts need 1 MB still missing when the probe ends. At 1 MB/s a 1 s probe left that
      // to chance (a late timer cut three); after 200 ms the probe would have to be 800 ms late.
      probeMs: 200,
    });
    await expect(d.start()).resolves.toBe('completed');
    await expectComplete(p);
    // 2 MB at >= 256 KB per part and at most 4 parts: four Range requests for the big file.
    const ranges = server.rangeRequests('/model.safetensors');
    expect(ranges).toHaveLength(4);
    expect(new Set(ranges.map((r) => r.range)).size).toBe(4);
    const last = events[events.length - 1];
    expect(last.downloaded).toBe(last.total);
    expect(last.total).toBe(2 * MB + 123 + 300 + 70 * KB);
    expect(last.files.every((f) => f.status === 'done')).toBe(true);
    expect(events.some((e) => e.downloaded > 0 && e.downloaded < e.total)).toBe(true);
    expect(last.eta).toBe(0);
    expect(events.some((e) => e.speed > 0 && e.eta !== null && e.eta >= 0)).toBe(true);
  });

  it('keeps to the global connection limit across files', async () => {
    const p = plan([
      { path: 'a.bin', size: MB },
      { path: 'b.bin', size: MB },
    ]);
    const limiter = new ConnectionLimiter(2);
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, limiter.inUse)), 2);
    server.switches.throttleBytesPerSec = 8 * MB;
    try {
      await expect(downloader(p, { limiter }).start()).resolves.toBe('completed');
    } finally {
      clearInterval(timer);
    }
    expect(peak).toBeLessThanOrEqual(2);
    expect(peak).toBeGreaterThan(0);
    await expectComplete(p);
  });

  it('resumes after a pause without fetching the finished ranges again', async () => {
    const p = plan([{ path: 'big.bin', size: 2 * MB }]);
    server.switches.throttleBytesPerSec = 512 * KB;
    const first = downloader(p, { sidecarIntervalMs: 0 });
    const started = Date.now();
    const run = first.start();
    await new Promise((r) => setTimeout(r, 300));
    first.pause();
    // 'paused', not 'completed': the throttled parts need about a second more. The bound only
    // catches a pause that waits for its transfers (seconds); wall time under a loaded CI
    // machine is not a measure of the 1 s target, the e2e stop tests and the bench are.
    await expect(run).resolves.toBe('paused');
    expect(Date.now() - started).toBeLessThan(5000);
    const sidecar = JSON.parse(
      await fsp.readFile(path.join(repoDir(), 'blobs', `${p.files[0].sha256}.part.json`), 'utf8'),
    ) as { done: [number, number][] };
    const done = sidecar.done.reduce((n, [s, e]) => n + e - s, 0);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(2 * MB);

    await expect(first.start()).rejects.toThrow(/runs once/);
    server.switches = {};
    server.requests.length = 0;
    await expect(downloader(p).start()).resolves.toBe('completed');
    await expectComplete(p);
    // No second request asks for a byte the sidecar already had.
    for (const r of server.rangeRequests()) {
      const [s, e] = /bytes=(\d+)-(\d+)/.exec(r.range!)!.slice(1).map(Number);
      for (const [ds, de] of sidecar.done) expect(e < ds || s >= de).toBe(true);
    }
  });

  it('hashes a resumed file from its bytes on disk: a recorded range changed meanwhile is caught', async () => {
    const p = plan([{ path: 'r.bin', size: 2 * MB }]);
    server.switches.throttleBytesPerSec = 512 * KB;
    const first = downloader(p, { sidecarIntervalMs: 0 });
    const run = first.start();
    await new Promise((r) => setTimeout(r, 300));
    first.pause();
    await expect(run).resolves.toBe('paused');
    const blob = path.join(repoDir(), 'blobs', p.files[0].sha256!);
    const sidecar = JSON.parse(await fsp.readFile(`${blob}.part.json`, 'utf8')) as {
      done: [number, number][];
    };
    expect(sidecar.done[0][0]).toBe(0);
    expect(sidecar.done[0][1]).toBeGreaterThan(10);
    // A byte inside the recorded range changes on disk while nothing runs.
    const fh = await fsp.open(`${blob}.part`, 'r+');
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, 10);
    byte[0] ^= 0xff;
    await fh.write(byte, 0, 1, 10);
    await fh.close();

    server.switches = {};
    server.requests.length = 0;
    await expect(downloader(p).start()).resolves.toBe('completed');
    await expectComplete(p);
    // The resumed transfer failed verification, so the file was fetched again from byte 0.
    const starts = server.rangeRequests().map((r) => Number(/bytes=(\d+)-/.exec(r.range!)![1]));
    expect(starts[0]).toBeGreaterThanOrEqual(sidecar.done[0][1]);
    expect(starts).toContain(0);
  });

  it('keeps a file on the one connection that brings it within the probe', async () => {
    const p = plan([{ path: 'fast.bin', size: 2 * MB }]);
    await expect(downloader(p, { probeMs: 5000 }).start()).resolves.toBe('completed');
    await expectComplete(p);
    // Done within the probe: never cut into parts.
    expect(server.rangeRequests('/fast.bin').map((r) => r.range)).toEqual([
      `bytes=0-${2 * MB - 1}`,
    ]);
  });

  it('retries a dropped connection from the byte it reached', async () => {
    const p = plan([{ path: 'big.bin', size: MB }]);
    server.switches = { dropAfterBytes: 100 * KB, dropTimes: 1 };
    await expect(downloader(p, { maxParts: 1 }).start()).resolves.toBe('completed');
    await expectComplete(p);
    const ranges = server.rangeRequests().map((r) => r.range);
    expect(ranges[0]).toBe(`bytes=0-${MB - 1}`);
    // The retry starts at (or after) byte 100 KB: the dropped connection's bytes were kept.
    const second = Number(/bytes=(\d+)-/.exec(ranges[1]!)![1]);
    expect(second).toBeGreaterThan(0);
    expect(second).toBeLessThanOrEqual(100 * KB);
    expect(ranges).toHaveLength(2);
  });

  it('retries a stalled part', async () => {
    const p = plan([{ path: 'big.bin', size: 300 * KB }]);
    server.switches = { stallTimes: 1 };
    const started = Date.now();
    await expect(downloader(p, { stallMs: 300 }).start()).resolves.toBe('completed');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(server.requests).toHaveLength(2);
    await expectComplete(p);
  });

  it('waits as told by a 429 Retry-After', async () => {
    const p = plan([{ path: 'small.bin', size: 10 * KB }]);
    server.switches = { rateLimitTimes: 1, retryAfterSeconds: 1 };
    const started = Date.now();
    await expect(downloader(p).start()).resolves.toBe('completed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(server.requests.map((r) => r.status)).toEqual([429, 206]);
  });

  it('restarts from zero with one connection when the server ignores Range', async () => {
    const p = plan([{ path: 'big.bin', size: 2 * MB }]);
    server.switches = { ignoreRange: true };
    await expect(downloader(p).start()).resolves.toBe('completed');
    await expectComplete(p);
    const plain = server.requests.filter((r) => !r.range);
    expect(plain).toHaveLength(1);
    expect(plain[0].status).toBe(200);
  });

  it('without Range support, a dropped connection restarts the file from zero', async () => {
    const p = plan([{ path: 'big.bin', size: MB }]);
    // The first drop hits the Range request (answered 200), the second the first plain GET.
    server.switches = { ignoreRange: true, dropAfterBytes: 300 * KB, dropTimes: 2 };
    await expect(downloader(p, { maxParts: 1 }).start()).resolves.toBe('completed');
    await expectComplete(p);
    expect(server.requests.filter((r) => r.range)).toHaveLength(1);
    // Then plain GETs only (never a Range again): the dropped one and the full one.
    expect(server.requests.filter((r) => !r.range).map((r) => r.status)).toEqual([200, 200]);
  });

  it('fetches a blob shared by two paths once and links both', async () => {
    const p = plan([{ path: 'a.bin', size: 100 * KB }]);
    p.files.push({ ...p.files[0], path: 'copy/a.bin' });
    await expect(downloader(p).start()).resolves.toBe('completed');
    await expectComplete(p);
    expect(server.requests).toHaveLength(1);
  });

  it('fails clearly on an HTTP error and stops the other files', async () => {
    const p = plan([
      { path: 'slow.bin', size: MB },
      { path: 'gone.bin', size: 10 * KB },
    ]);
    server.files.delete('/gone.bin');
    server.switches.throttleBytesPerSec = 256 * KB;
    const started = Date.now();
    const err = await downloader(p, { maxParts: 1 })
      .start()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe('http_error');
    expect((err as Error).message).toMatch(/gone\.bin failed with HTTP 404/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('detects corruption, fetches again once, then fails clearly', async () => {
    const p = plan([{ path: 'w.bin', size: 200 * KB }]);
    server.switches = { corruptTimes: 1 };
    await expect(downloader(p).start()).resolves.toBe('completed');
    await expectComplete(p);
    expect(server.requests).toHaveLength(2);

    const q = plan([{ path: 'x.bin', size: 200 * KB }]);
    server.switches = { corruptTimes: 2 };
    const err = await downloader(q)
      .start()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe('checksum_mismatch');
    const blobs = await fsp.readdir(path.join(repoDir(), 'blobs'));
    expect(blobs.some((b) => b.startsWith(q.files[0].sha256!))).toBe(false);
  });

  it('cancel stops within a second and removes the partial files', async () => {
    const p = plan([{ path: 'big.bin', size: 2 * MB }]);
    server.switches.throttleBytesPerSec = MB;
    const d = downloader(p);
    const run = d.start();
    await new Promise((r) => setTimeout(r, 300));
    const at = Date.now();
    d.cancel();
    await expect(run).resolves.toBe('cancelled');
    expect(Date.now() - at).toBeLessThan(1000);
    expect(await fsp.readdir(path.join(repoDir(), 'blobs'))).toEqual([]);
  });

  it('refuses to start without enough free disk', async () => {
    const p = plan([{ path: 'big.bin', size: MB }]);
    const d = downloader(p, {
      diskMarginBytes: 10 * MB,
      statfs: () => Promise.resolve({ bavail: 1024, bsize: 4096 }), // 4 MB free
    });
    const err = await d.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe('insufficient_disk');
    expect((err as Error).message).toMatch(/Not enough disk space/);
    expect(server.requests).toHaveLength(0);
  });

  it('rejects a plan that would escape MODELS_DIR', () => {
    expect(() => downloader({ ...plan([]), repo: '../etc' })).toThrow(DownloadError);
    const bad = plan([{ path: 'ok.bin', size: 10 }]);
    bad.files[0].path = '../../evil';
    expect(() => downloader(bad)).toThrow(/Invalid file path/);
  });

  it('streams to disk: memory stays flat for a file much larger than any buffer', async () => {
    const size = 96 * MB;
    const p = plan([{ path: 'huge.bin', size }]);
    // Garbage (the fake server shares this process) is collected before each sample, so the
    // samples show what is really held.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;
    gc();
    const baseline = process.memoryUsage();
    let peak = 0;
    const sample = () => {
      // A minor GC is cheap and frees the short-lived chunk buffers.
      gc({ type: 'minor' });
      const m = process.memoryUsage();
      peak = Math.max(
        peak,
        m.heapUsed + m.arrayBuffers - baseline.heapUsed - baseline.arrayBuffers,
      );
    };
    const timer = setInterval(sample, 10);
    try {
      await expect(downloader(p, { partMinBytes: 8 * MB }).start()).resolves.toBe('completed');
    } finally {
      clearInterval(timer);
    }
    // Held: the parts' write buffers and what the sockets received meanwhile (more on a loaded
    // machine, ~25 MB seen); a downloader that buffered the file would hold all 96 MB.
    expect(peak).toBeLessThan(size / 3);
    expect((await fsp.stat(path.join(repoDir(), 'blobs', p.files[0].sha256!))).size).toBe(size);
  }, 30_000);
});

describe('WorkerFrontHasher', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'hash-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const gitSha1 = (b: Buffer) =>
    createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

  it('hashes the front as it grows, writes ahead of it included once the gap is filled', async () => {
    const bytes = Buffer.from(Array.from({ length: 5 * MB + 3 }, (_, i) => (i * 31) % 251));
    const file = path.join(dir, 'f.part');
    const fh = await fsp.open(file, 'w+');
    const h = new WorkerFrontHasher('sha256', bytes.length, file);
    let done: [number, number][] = [];
    const write = async (at: number, end: number) => {
      await fh.write(bytes, at, end - at, at);
      done = addRange(done, at, end);
      h.written(at, bytes.subarray(at, end), () => done);
    };
    await write(0, MB);
    await write(3 * MB, bytes.length); // ahead of the front: waits for the gap
    await write(MB, 2 * MB);
    await h.catchUp(() => done);
    expect(h.digest()).toBeUndefined();
    await write(2 * MB, 3 * MB);
    await h.catchUp(() => done);
    expect(h.digest()).toBe(sha256(bytes));
    expect(h.bytesPerSec).toBeGreaterThan(0);
    h.release();
    // Released, the digest stays; the worker closed its descriptor and ended.
    expect(h.digest()).toBe(sha256(bytes));
    await fh.close();
  });

  it('starts over on reset (a generation drops what it read of the old bytes)', async () => {
    const first = Buffer.alloc(2 * MB, 1);
    const second = Buffer.alloc(2 * MB, 2);
    const file = path.join(dir, 'g.part');
    const fh = await fsp.open(file, 'w+');
    const h = new WorkerFrontHasher('gitSha1', first.length, file);
    await fh.write(first, 0, first.length, 0);
    h.written(0, first, () => [[0, first.length]]);
    h.reset();
    await fh.truncate(0);
    await fh.write(second, 0, second.length, 0);
    await h.catchUp(() => [[0, second.length]]);
    expect(h.digest()).toBe(gitSha1(second));
    h.release();
    await fh.close();
  });

  it('says it has no digest when it cannot read the file (verify then hashes it itself)', async () => {
    const h = new WorkerFrontHasher('sha256', 10, path.join(dir, 'missing.part'));
    await h.catchUp(() => [[0, 10]]);
    expect(h.digest()).toBeUndefined();
    h.release();
  });
});
