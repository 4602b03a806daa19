import { JobContext, JobProcessor, Processor } from '@app/queue';
import { Injectable } from '@nestjs/common';
import { DownloadTaskService } from './download-task.service';

/**
 * Runs (or resumes, from the sidecars of the partial files) one download task; an Ollama task's
 * run is a pull, which Ollama resumes from its own partial blobs.
 */
@Injectable()
@Processor('download.snapshot')
export class DownloadSnapshotProcessor implements JobProcessor<'download.snapshot'> {
  constructor(private readonly downloads: DownloadTaskService) {}

  process(ctx: JobContext<'download.snapshot'>): Promise<{ status: string }> {
    return this.downloads.run(ctx.payload.task_id, ctx.signal);
  }
}
