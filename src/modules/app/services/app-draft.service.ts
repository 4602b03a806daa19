import { toUnix } from '@app/common';
import { Injectable } from '@nestjs/common';
import { AppRepository } from '../app.repository';
import { pickConfig, type AppConfigFields } from '../config/app-config.types';
import { parseDraftUpdate } from '../config/draft-config.validator';
import type { DraftAppConfigDto } from '../dto/app-config.dto';
import { ConfigResolver } from './config-resolver.service';

/**
 * The draft config: read (every key, references expanded; what no longer exists is dropped and
 * the draft saved cleaned, as the original) and partial updates.
 */
@Injectable()
export class AppDraftService {
  constructor(
    private readonly repo: AppRepository,
    private readonly resolver: ConfigResolver,
  ) {}

  async get(accountId: string, appId: string, origin: string): Promise<DraftAppConfigDto> {
    const app = await this.repo.owned(accountId, appId);
    const draft = await this.repo.draftOf(app);
    const resolved = await this.resolver.resolve(accountId, pickConfig(draft), origin);
    if (resolved.changed.length) {
      const cleaned: Partial<AppConfigFields> = {};
      for (const key of resolved.changed) Object.assign(cleaned, { [key]: resolved.config[key] });
      await this.repo.saveCleaned(draft, cleaned);
    }
    const c = resolved.config;
    return {
      id: draft.id,
      model_config: c.model_config,
      dialog_round: c.dialog_round,
      preset_prompt: c.preset_prompt,
      tools: resolved.tools,
      workflows: resolved.workflows,
      datasets: resolved.datasets,
      retrieval_config: c.retrieval_config,
      long_term_memory: c.long_term_memory,
      opening_statement: c.opening_statement,
      opening_questions: c.opening_questions,
      speech_to_text: c.speech_to_text,
      text_to_speech: c.text_to_speech,
      suggested_after_answer: c.suggested_after_answer,
      review_config: c.review_config,
      updated_at: toUnix(draft.updated_at),
      created_at: toUnix(draft.created_at),
    };
  }

  /** Checks the given keys (shape, then references) and sets only them. */
  async update(accountId: string, appId: string, body: unknown): Promise<void> {
    const app = await this.repo.owned(accountId, appId);
    const update = await this.resolver.checkUpdate(accountId, parseDraftUpdate(body));
    const draft = await this.repo.draftOf(app);
    await this.repo.updateDraft(draft.id, update);
  }
}
