import { JobContext, JobProcessor, JobQueue, Processor } from '@app/queue';
import { Injectable, Logger } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { analysisWindow } from './analysis.calc';
import { AnalysisService } from './analysis.service';

/** Recomputes today's analysis of the apps with traffic; drops other days' rows. */
@Injectable()
@Processor('maintenance.refresh-analysis')
export class RefreshAnalysisProcessor implements JobProcessor<'maintenance.refresh-analysis'> {
  constructor(private readonly analysis: AnalysisService) {}

  process(ctx: JobContext<'maintenance.refresh-analysis'>): Promise<{
    apps: number;
    removed: number;
  }> {
    return this.analysis.refresh(new Date(), ctx.signal, (done, total) =>
      ctx.progress((done / total) * 100),
    );
  }
}

/**
 * Daily, a few minutes after local midnight (api role): the window moved, so every app's cached
 * analysis is stale. The key makes one day's tick idempotent across api replicas.
 */
@Injectable()
export class AnalysisScheduler {
  private readonly logger = new Logger('Analysis');
  constructor(private readonly jobs: JobQueue) {}

  @Cron('5 0 * * *', { name: 'refresh-analysis' })
  async schedule(): Promise<void> {
    const { day } = analysisWindow(new Date());
    const job = await this.jobs.enqueue(
      'maintenance.refresh-analysis',
      {},
      { key: `refresh-analysis:${day}`, attempts: 3 },
    );
    this.logger.log(`refresh-analysis scheduled (${job.id})`);
  }
}
