import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { CatalogModel } from '../catalog/catalog.schema';
import { priceOf } from '../catalog/parameters';
import { ModelUsageEntity } from '../entities/model-usage.entity';

export interface UsageInput {
  accountId: string | null;
  model: CatalogModel;
  source: string;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  status: 'success' | 'error' | 'aborted';
  error?: string | null;
  estimated?: boolean;
}

export interface UsageRecord {
  id: string;
  provider: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  price: number;
  currency: string;
  latency_ms: number;
  status: string;
}

/** Writes one usage row per model call (tokens, price from the catalog, latency, outcome). */
@Injectable()
export class UsageService {
  private readonly logger = new Logger('ModelUsage');

  constructor(
    @InjectRepository(ModelUsageEntity) private readonly usages: Repository<ModelUsageEntity>,
  ) {}

  async record(input: UsageInput): Promise<UsageRecord | null> {
    const prompt = Math.max(0, Math.round(input.promptTokens || 0));
    const completion = Math.max(0, Math.round(input.completionTokens || 0));
    const price = priceOf(input.model.pricing, prompt, completion);
    try {
      const row = {
        account_id: input.accountId,
        provider: input.model.provider,
        model: input.model.model_name,
        model_type: input.model.model_type,
        source: input.source.slice(0, 64),
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        estimated: input.estimated ?? false,
        price: price.toFixed(8),
        currency: input.model.pricing.currency,
        latency_ms: Math.max(0, Math.round(input.latencyMs)),
        status: input.status,
        error: input.error?.slice(0, 2000) ?? null,
      };
      // One INSERT ... RETURNING id, not save(): save wraps it in BEGIN/COMMIT, three round trips
      // on every model call (the embedded PGlite pays each one in this process's CPU).
      const { identifiers } = await this.usages.insert(row);
      return {
        id: identifiers[0].id as string,
        provider: row.provider,
        model: row.model,
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        price,
        currency: row.currency,
        latency_ms: row.latency_ms,
        status: row.status,
      };
    } catch (err) {
      // Accounting must never break the call it accounts for.
      this.logger.error(`could not record usage: ${String(err)}`);
      return null;
    }
  }

  /** Usage rows of an account, newest first (for statistics and tests). */
  recent(accountId: string, limit = 20): Promise<ModelUsageEntity[]> {
    return this.usages.find({
      where: { account_id: accountId },
      order: { created_at: 'DESC' },
      take: limit,
    });
  }
}
