import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AppService } from 'src/modules/app/services/app.service';
import { ConversationService } from 'src/modules/chat/conversation.service';
import { ANALYSIS_DAYS, analysisWindow, buildAnalysis, type AnalysisWindow } from './analysis.calc';
import type { AppAnalysisDto } from './dto/analysis.dto';
import { AppAnalysisEntity } from './entities/app-analysis.entity';

/**
 * App statistics (GET /analysis/:app_id): computed in SQL from the app's messages, cached per app
 * per day in `app_analyses`, and recomputed after midnight by the refresh job for the apps that
 * had traffic, so the console's first visit of the day reads a row.
 */
@Injectable()
export class AnalysisService {
  constructor(
    private readonly apps: AppService,
    private readonly conversations: ConversationService,
    @InjectRepository(AppAnalysisEntity) private readonly cache: Repository<AppAnalysisEntity>,
  ) {}

  /** The account's app's analysis (another account's app answers not_found). */
  async get(accountId: string, appId: string, now = new Date()): Promise<AppAnalysisDto> {
    await this.apps.assertOwned(accountId, appId);
    const window = analysisWindow(now);
    const cached = await this.cache.findOne({
      select: { id: true, data: true },
      where: { app_id: appId, day: window.day },
    });
    if (cached) return cached.data;
    const data = await this.compute(appId, window);
    await this.store(accountId, appId, window.day, data, false);
    return data;
  }

  /** The analysis of `window` from the messages, uncached. */
  async compute(appId: string, window: AnalysisWindow): Promise<AppAnalysisDto> {
    const stats = await this.conversations.appTrafficStats(appId, window.bounds, ANALYSIS_DAYS);
    return buildAnalysis(window, stats);
  }

  /**
   * Recomputes today's analysis of every app with traffic in the window (answers that finished
   * after a first read cached the day are included) and drops the rows of other days.
   */
  async refresh(
    now = new Date(),
    signal?: AbortSignal,
    progress?: (done: number, total: number) => Promise<void>,
  ): Promise<{ apps: number; removed: number }> {
    const window = analysisWindow(now);
    const { bounds } = window;
    const ids = await this.conversations.appsWithTraffic(bounds[0], bounds[bounds.length - 1]);
    const owners = await this.apps.ownersOf(ids);
    let done = 0;
    for (const [appId, accountId] of owners) {
      signal?.throwIfAborted();
      await this.store(accountId, appId, window.day, await this.compute(appId, window), true);
      done += 1;
      await progress?.(done, owners.size);
    }
    const removed = await this.cache
      .createQueryBuilder()
      .delete()
      .where('day <> :day', { day: window.day })
      .execute();
    return { apps: done, removed: removed.affected ?? 0 };
  }

  /** Upserts a day's row; a read never overwrites what another read or the job stored. */
  private async store(
    accountId: string,
    appId: string,
    day: string,
    data: AppAnalysisDto,
    replace: boolean,
  ): Promise<void> {
    const qb = this.cache
      .createQueryBuilder()
      .insert()
      .into(AppAnalysisEntity)
      .values({ account_id: accountId, app_id: appId, day, data });
    if (replace) qb.orUpdate(['data', 'updated_at'], ['app_id', 'day']);
    else qb.orIgnore();
    await qb.execute();
  }
}
