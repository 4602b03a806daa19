import { AppConfig } from '@app/config';
import { JobContext, JobProcessor, Processor, UnrecoverableJobError } from '@app/queue';
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { In, Repository } from 'typeorm';
import { DownloadTaskEntity } from './download-task.entity';

/** Tasks whose partial files a resume still needs. */
const RESUMABLE = ['pending', 'downloading', 'paused', 'failed'] as const;

/**
 * Removes partial downloads nobody will resume: `<oid>.part` files (and their `.part.json`
 * sidecars) under `MODELS_DIR/models--*\/blobs` that no pending, running, paused or failed task
 * plans, and that have not been written for `older_than_hours` (a crash, or a task deleted while
 * its worker was gone). Finished blobs are never touched.
 */
@Injectable()
@Processor('download.clean-partials')
export class CleanPartialsProcessor implements JobProcessor<'download.clean-partials'> {
  private readonly logger = new Logger('CleanPartials');

  constructor(
    private readonly config: AppConfig,
    @InjectRepository(DownloadTaskEntity) private readonly tasks: Repository<DownloadTaskEntity>,
  ) {}

  async process(
    ctx: JobContext<'download.clean-partials'>,
  ): Promise<{ removed: number; kept: number }> {
    const hours = ctx.payload.older_than_hours;
    if (!(hours >= 0)) throw new UnrecoverableJobError('older_than_hours must be at least 0');
    const needed = new Set<string>();
    for (const task of await this.tasks.find({
      select: { id: true, plan: true },
      where: { status: In([...RESUMABLE]) },
    })) {
      for (const f of task.plan?.files ?? []) {
        const oid = (f.sha256 ?? f.gitSha1)?.toLowerCase();
        if (oid) needed.add(oid);
      }
    }
    const cutoff = Date.now() - hours * 3_600_000;
    let removed = 0;
    let kept = 0;
    for (const blobs of await this.blobDirs()) {
      ctx.signal.throwIfAborted();
      for (const name of await fsp.readdir(blobs).catch(() => [] as string[])) {
        const m = /^([0-9a-f]{40,64})\.part(\.json)?$/.exec(name);
        if (!m) continue;
        const file = path.join(blobs, name);
        const stat = await fsp.stat(file).catch(() => null);
        if (!stat) continue;
        if (needed.has(m[1]) || stat.mtimeMs > cutoff) {
          kept++;
          continue;
        }
        await fsp.rm(file, { force: true });
        removed++;
      }
    }
    await ctx.progress(100);
    if (removed) this.logger.log(`Removed ${removed} abandoned partial download file(s)`);
    return { removed, kept };
  }

  private async blobDirs(): Promise<string[]> {
    const root = this.config.modelsDir;
    const repos = await fsp.readdir(root).catch(() => [] as string[]);
    return repos.filter((r) => r.startsWith('models--')).map((r) => path.join(root, r, 'blobs'));
  }
}
