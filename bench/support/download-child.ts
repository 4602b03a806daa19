import { OutboundHttpClient } from '@app/http';
import {
  ConnectionLimiter,
  SnapshotDownloader,
  type SnapshotPlan,
} from 'src/modules/download/downloader';

/**
 * One SnapshotDownloader run in a process of its own (started with `fork`), so its peak memory
 * is its own and the bench's other runs leave nothing behind in it. It waits for
 * `{plan, modelsDir, settings}` over IPC, downloads, and answers `{ms, verifyMs, outcome,
 * peakRssMb, startRssMb, cpuMs}` (or `{error}`), then exits.
 */
export interface DownloadJob {
  plan: SnapshotPlan;
  modelsDir: string;
  settings: { maxConnections: number; partMinBytes: number; maxParts: number; stallMs: number };
}

export interface DownloadResult {
  /** From start() to its end: the transfer, the SHA-256 check, the rename and the links. */
  ms?: number;
  /** The part of `ms` after the last byte landed (verification, rename, links). */
  verifyMs?: number;
  outcome?: string;
  /** Highest resident set size of the process (VmHWM). */
  peakRssMb?: number;
  /** Resident set size just before the download started. */
  startRssMb?: number;
  /** CPU time of this process during the download (user + system). */
  cpuMs?: number;
  error?: string;
}

async function run(job: DownloadJob): Promise<DownloadResult> {
  const http = new OutboundHttpClient({
    allowHosts: ['127.0.0.1'],
    timeoutMs: 30_000,
    maxResponseBytes: 10 * 1024 * 1024,
    maxRetries: 0,
  });
  let lastByteAt: number | undefined;
  const downloader = new SnapshotDownloader(job.plan, {
    http,
    modelsDir: job.modelsDir,
    limiter: new ConnectionLimiter(job.settings.maxConnections),
    partMinBytes: job.settings.partMinBytes,
    maxParts: job.settings.maxParts,
    stallMs: job.settings.stallMs,
    onProgress: (p) => {
      if (lastByteAt === undefined && p.downloaded >= p.total) lastByteAt = performance.now();
    },
  });
  try {
    const startRssMb = process.memoryUsage().rss / 2 ** 20;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const outcome = await downloader.start();
    const end = performance.now();
    const cpu = process.cpuUsage(cpu0);
    return {
      ms: end - t0,
      verifyMs: end - (lastByteAt ?? end),
      outcome,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      startRssMb,
      cpuMs: (cpu.user + cpu.system) / 1000,
    };
  } finally {
    await http.close();
  }
}

process.once('message', (job: DownloadJob) => {
  run(job)
    .catch((e: unknown): DownloadResult => ({ error: e instanceof Error ? e.message : String(e) }))
    .then((result) => process.send?.(result, () => process.exit(0)))
    .catch(() => process.exit(1));
});
