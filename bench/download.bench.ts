import { AppConfig, parseEnv } from '@app/config';
import { spawn, fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { downloaderSettings, planParts, type SnapshotPlan } from 'src/modules/download/downloader';
import type { DownloadJob, DownloadResult } from './support/download-child';
import { FakeHubProcess } from './support/fake-hf-hub-process';
import { Agent } from 'undici';

const MB = 1024 * 1024;
/** Size of the file for the unthrottled runs and the memory check (MiB). */
const SIZE_MB = Number(process.env.BENCH_DOWNLOAD_MB ?? 1024);
/**
 * Size of the file for the throttled runs (MiB). Defaults to BENCH_DOWNLOAD_MB: with the default
 * DOWNLOAD_PART_MIN_BYTES (64 MiB) and DOWNLOAD_MAX_PARTS (8) a file needs 1 GiB to be cut into
 * all 8 parts; below 512 MiB it gets at most 4, and 4x curl would be out of reach by construction.
 */
const THROTTLED_MB = Number(process.env.BENCH_DOWNLOAD_THROTTLED_MB ?? SIZE_MB);
/** Per-connection pace of the throttled runs (MiB/s). */
const THROTTLE_MBPS = Number(process.env.BENCH_DOWNLOAD_THROTTLE_MBPS ?? 20);
/** Unthrottled runs of each side; the median counts. */
const RUNS = Math.max(1, Number(process.env.BENCH_DOWNLOAD_RUNS ?? 3));
/** The targets. */
const TARGET_UNTHROTTLED = 0.8;
const TARGET_THROTTLED = 4;
const TARGET_MEMORY_MB = 64;

const SMALL_MB = Math.max(1, Math.round(SIZE_MB / 8));
const FULL = 'model.gguf';
const SMALL = 'small.gguf';
const THROTTLED = THROTTLED_MB === SIZE_MB ? FULL : 'throttled.gguf';

interface Timed {
  ms: number;
  /** curl: the time of `sha256sum` afterwards; ours: the time after the last byte landed. */
  hashMs?: number;
  /** The same hash in Node (a 1 MiB-chunk stream into createHash), for comparison. */
  nodeHashMs?: number;
  /** The hub process's CPU over the run, ms. */
  hubCpuMs: number;
  cpuMs?: number;
  peakRssMb?: number;
  startRssMb?: number;
}

function exec(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}: ${err.trim()}`)),
    );
  });
}

async function nodeSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: MB }))
    h.update(chunk as Buffer);
  return h.digest('hex');
}

function scratch(): string {
  return mkdtempSync(path.join(tmpdir(), 'llmops-bench-dl-'));
}

/** `curl -sS -L -o` (it follows the 302 to the CDN path as we do), then `sha256sum`. */
async function curl(hub: FakeHubProcess, file: string): Promise<Timed> {
  const dir = scratch();
  try {
    const { size, sha256 } = hub.file(file);
    const out = path.join(dir, file);
    const hub0 = await hub.cpuMs();
    const t0 = performance.now();
    await exec('curl', ['-sS', '-L', '-o', out, hub.resolveUrl(file)]);
    const ms = performance.now() - t0;
    const hubCpuMs = (await hub.cpuMs()) - hub0;
    if (statSync(out).size !== size) throw new Error(`curl wrote ${statSync(out).size} bytes`);
    const t1 = performance.now();
    const sum = (await exec('sha256sum', [out])).split(/\s/)[0];
    const hashMs = performance.now() - t1;
    const t2 = performance.now();
    const nodeSum = await nodeSha256(out);
    const nodeHashMs = performance.now() - t2;
    if (sum !== sha256 || nodeSum !== sha256) throw new Error('curl got other bytes');
    return { ms, hashMs, nodeHashMs, hubCpuMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What Node itself can do here, as a floor for ours: undici (our HTTP client) receiving the file
 * over one connection and dropping each chunk (no write, no hash), and SHA-256 over memory (one
 * core: a file's digest is one sequential pass). Run in this process, not the hub's.
 */
async function nodeFloor(
  hub: FakeHubProcess,
  file: string,
): Promise<{ receiveMs: number; receiveCpuMs: number; hashMbps: number }> {
  const agent = new Agent();
  try {
    const get = (url: URL) =>
      agent.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'GET' });
    let url = new URL(hub.resolveUrl(file));
    // The hub answers the resolve URL with a 302 to the CDN path, as for curl and ours.
    const first = await get(url);
    await first.body.dump();
    if (first.statusCode >= 300 && first.statusCode < 400)
      url = new URL(String(first.headers.location), url);
    const { size } = hub.file(file);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const res = await get(url);
    let bytes = 0;
    for await (const chunk of res.body) bytes += (chunk as Buffer).length;
    const receiveMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (bytes !== size) throw new Error(`undici received ${bytes} of ${size} bytes`);
    const block = randomBytes(MB);
    const h = createHash('sha256');
    const t1 = performance.now();
    for (let done = 0; done < size; done += block.length) h.update(block);
    h.digest();
    const hashMbps = mbps(Math.ceil(size / block.length) * block.length, performance.now() - t1);
    return { receiveMs, receiveCpuMs: (cpu.user + cpu.system) / 1000, hashMbps };
  } finally {
    await agent.close();
  }
}

/** SnapshotDownloader, in a child process of its own, into a fresh cache directory. */
async function ours(
  hub: FakeHubProcess,
  file: string,
  settings: DownloadJob['settings'],
): Promise<Timed> {
  const dir = scratch();
  try {
    const { size, sha256 } = hub.file(file);
    const plan: SnapshotPlan = {
      repo: hub.repo.id,
      revision: hub.repo.sha,
      ref: 'main',
      files: [{ path: file, size, sha256, url: hub.resolveUrl(file) }],
    };
    const child = fork(path.join(__dirname, 'support', 'download-child.ts'), [], {
      execPath: process.execPath,
      execArgv: [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        // e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the downloader.
        ...(process.env.BENCH_DOWNLOAD_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const result = new Promise<DownloadResult>((resolve, reject) => {
      child.once('message', (r: DownloadResult) => resolve(r));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`download child exited with ${code}`)));
    });
    const hub0 = await hub.cpuMs();
    child.send({ plan, modelsDir: dir, settings } satisfies DownloadJob);
    const r = await result;
    const hubCpuMs = (await hub.cpuMs()) - hub0;
    if (r.error !== undefined || r.outcome !== 'completed') {
      throw new Error(`our download failed: ${r.error ?? r.outcome}`);
    }
    const blob = path.join(dir, `models--${hub.repo.id.replace('/', '--')}`, 'blobs', sha256);
    const linked = path.join(path.dirname(path.dirname(blob)), 'snapshots', hub.repo.sha, file);
    if (statSync(blob).size !== size || statSync(linked).size !== size) {
      throw new Error('our download left no complete blob behind');
    }
    return {
      ms: r.ms!,
      hashMs: r.verifyMs,
      hubCpuMs,
      cpuMs: r.cpuMs,
      peakRssMb: r.peakRssMb,
      startRssMb: r.startRssMb,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
const mbps = (bytes: number, ms: number) => bytes / MB / (ms / 1000);
const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

function row(label: string, bytes: number, t: Timed, extra = ''): string {
  return [
    label.padEnd(26),
    `${f2(t.ms / 1000)} s`.padStart(9),
    `${Math.round(mbps(bytes, t.ms))} MB/s`.padStart(11),
    `hub ${f2(t.hubCpuMs / t.ms)} cores`.padStart(16),
    t.cpuMs !== undefined ? `ours ${f2(t.cpuMs / t.ms)} cores` : '',
    extra,
  ]
    .join(' ')
    .trimEnd();
}

/**
 * A file from the fake Hugging Face hub (its own process, on loopback) through the 302 to its CDN
 * path: (a) unthrottled, SnapshotDownloader (Range parts, SHA-256 check, rename, links) against
 * `curl -L` in the same run; (b) every connection paced to THROTTLE_MBPS, our parallel parts
 * against curl's one connection; (c) the downloader's peak memory for a file 1/8 the size and
 * for the full size. Our downloader uses DOWNLOAD_* from the environment or their defaults.
 */
export async function run(): Promise<void> {
  const storage = scratch();
  const settings = downloaderSettings(
    new AppConfig(
      parseEnv({
        ...Object.fromEntries(
          Object.entries(process.env).filter(([k]) => k.startsWith('DOWNLOAD_')),
        ),
        NODE_ENV: 'test',
        STORAGE_DIR: storage,
        JWT_SECRET: randomBytes(32).toString('hex'),
        ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      }),
    ),
  );
  rmSync(storage, { recursive: true, force: true });
  const files = [
    { path: FULL, size: SIZE_MB * MB },
    { path: SMALL, size: SMALL_MB * MB },
    ...(THROTTLED !== FULL ? [{ path: THROTTLED, size: THROTTLED_MB * MB }] : []),
  ];
  const t0 = performance.now();
  const hub = await FakeHubProcess.start(files);
  const startupMs = performance.now() - t0;
  try {
    const job = {
      maxConnections: settings.maxConnections,
      partMinBytes: settings.partMinBytes,
      maxParts: settings.maxParts,
      stallMs: settings.stallMs,
    };
    const parts = (bytes: number, j = job) =>
      planParts([[0, bytes]], j.maxParts, j.partMinBytes).length;
    console.log(
      `\n## ${SIZE_MB} MB file (MB = MiB) from the fake hub in its own process (generated bytes, ` +
        `hashed at its startup in ${f2(startupMs / 1000)} s), loopback, cores=${availableParallelism()}; ` +
        `ours: DOWNLOAD_MAX_PARTS=${job.maxParts}, DOWNLOAD_PART_MIN_BYTES=${job.partMinBytes / MB} MB, ` +
        `DOWNLOAD_MAX_CONNECTIONS=${job.maxConnections}; cores = CPU-s per s; machine load ` +
        `average ${f2(loadavg()[0])} at the start (other work shares these cores)`,
    );

    // (a) Unthrottled: curl and ours take turns, the median of RUNS each counts.
    await hub.throttle(0);
    const full = SIZE_MB * MB;
    const curls: Timed[] = [];
    const oursA: Timed[] = [];
    console.log(
      `\n(a) unthrottled, ${RUNS} runs each (ours in up to ${parts(full)} parts: one connection, ` +
        `cut into parts after a 1 s probe only if it is slow)`,
    );
    for (let i = 0; i < RUNS; i++) {
      const c = await curl(hub, FULL);
      curls.push(c);
      console.log(
        row(
          `curl run ${i + 1}`,
          full,
          c,
          `+ sha256sum ${f2(c.hashMs! / 1000)} s (Node hash ${f2(c.nodeHashMs! / 1000)} s)`,
        ),
      );
      const o = await ours(hub, FULL, job);
      oursA.push(o);
      console.log(
        row(
          `ours run ${i + 1}`,
          full,
          o,
          `(${f2(o.hashMs! / 1000)} s after the last byte; peak RSS ${Math.round(o.peakRssMb!)} MB)`,
        ),
      );
    }
    const curlMs = median(curls.map((c) => c.ms));
    const curlHashMs = median(curls.map((c) => c.ms + c.hashMs!));
    const curlNodeHashMs = median(curls.map((c) => c.ms + c.nodeHashMs!));
    const oursMs = median(oursA.map((o) => o.ms));
    const ratioA = curlMs / oursMs;
    const floor = await nodeFloor(hub, FULL);
    console.log(
      `median: curl ${Math.round(mbps(full, curlMs))} MB/s (no hash), curl + sha256sum ` +
        `${Math.round(mbps(full, curlHashMs))} MB/s, curl + Node hash ` +
        `${Math.round(mbps(full, curlNodeHashMs))} MB/s, ours ${Math.round(mbps(full, oursMs))} MB/s ` +
        `(SHA-256 check, rename and link included)`,
    );
    console.log(
      `ours / curl ${f2(ratioA)}, ours / (curl + sha256sum) ${f2(curlHashMs / oursMs)}, ` +
        `ours / (curl + Node hash) ${f2(curlNodeHashMs / oursMs)}`,
    );
    console.log(
      `Node's own limits here: undici receiving the file and dropping it (one connection, no ` +
        `write, no hash) ${Math.round(mbps(full, floor.receiveMs))} MB/s on ` +
        `${f2(floor.receiveCpuMs / 1000)} CPU-s (${f2(curlMs / floor.receiveMs)} of curl); ` +
        `SHA-256 over memory ${Math.round(floor.hashMbps)} MB/s on one core`,
    );

    // (b) Every connection paced: curl has one, we have our parts.
    const tb = THROTTLED_MB * MB;
    await hub.throttle(THROTTLE_MBPS * MB);
    console.log(
      `\n(b) each connection throttled to ${THROTTLE_MBPS} MB/s, ${THROTTLED_MB} MB file ` +
        `(ours in up to ${parts(tb)} parts), one run each`,
    );
    const cb = await curl(hub, THROTTLED);
    console.log(row('curl', tb, cb));
    const ob = await ours(hub, THROTTLED, job);
    console.log(row('ours', tb, ob, `(${f2(ob.hashMs! / 1000)} s after the last byte)`));
    await hub.throttle(0);
    const ratioB = cb.ms / ob.ms;
    console.log(`ours / curl ${f2(ratioB)}`);

    // (c) Peak memory: a file 1/8 the size, cut into as many parts as the full-size file (the
    // part minimum scaled down with it, so only the size differs), against the runs of (a).
    await hub.throttle(0);
    const smallJob = {
      ...job,
      partMinBytes: Math.max(1024, Math.floor((job.partMinBytes * SMALL_MB) / SIZE_MB)),
    };
    const smalls: Timed[] = [];
    for (let i = 0; i < RUNS; i++) smalls.push(await ours(hub, SMALL, smallJob));
    const peakSmall = Math.max(...smalls.map((o) => o.peakRssMb!));
    const peakFull = Math.max(...oursA.map((o) => o.peakRssMb!));
    const growth = peakFull - peakSmall;
    console.log(
      `\n(c) peak RSS of the downloader process (VmHWM, highest of ${RUNS} runs; ` +
        `~${Math.round(smalls[0].startRssMb!)} MB before the download: Node, ts-node, the modules): ` +
        `${SMALL_MB} MB file in up to ${parts(SMALL_MB * MB, smallJob)} parts ${Math.round(peakSmall)} MB, ` +
        `${SIZE_MB} MB file in up to ${parts(full, job)} parts ${Math.round(peakFull)} MB ` +
        `(${growth >= 0 ? '+' : ''}${Math.round(growth)} MB); throttled run ${Math.round(ob.peakRssMb!)} MB`,
    );

    console.log(
      `${pass(ratioA >= TARGET_UNTHROTTLED)} unthrottled: ours ${f2(ratioA)}x curl's throughput ` +
        `(target >= ${TARGET_UNTHROTTLED}; ours includes the SHA-256 check, curl does not)`,
    );
    console.log(
      `${pass(ratioB >= TARGET_THROTTLED)} throttled to ${THROTTLE_MBPS} MB/s per connection: ` +
        `ours ${f2(ratioB)}x curl (target >= ${TARGET_THROTTLED})`,
    );
    console.log(
      `${pass(growth <= TARGET_MEMORY_MB)} peak memory flat with file size: ` +
        `${growth >= 0 ? '+' : ''}${Math.round(growth)} MB ` +
        `from ${SMALL_MB} MB to ${SIZE_MB} MB (target <= ${TARGET_MEMORY_MB} MB)`,
    );
  } finally {
    await hub.close();
  }
}
