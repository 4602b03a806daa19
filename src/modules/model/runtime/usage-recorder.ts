import type { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { LLMResult } from '@langchain/core/outputs';
import type { CatalogModel } from '../catalog/catalog.schema';
import { callbacksBasePackage } from './provider-packages';
import { UsageRecord, UsageService } from './usage.service';

interface TokenUsage {
  promptTokens?: number;
  completionTokens?: number;
}

/**
 * LangChain callback that turns every chat-model run into a usage row. Attached to each model
 * the runtime builds; handlers are awaited so `last` is set when the call returns (the row itself
 * is written with the next batch, see UsageService).
 */
export interface UsageRecorder extends BaseCallbackHandler {
  /** The last recorded call, for callers that report usage (agent_end frames). */
  last: UsageRecord | null;
}

type UsageRecorderClass = new (
  usage: UsageService,
  model: CatalogModel,
  accountId: string | null,
  source: string,
) => UsageRecorder;

let recorderClass: UsageRecorderClass | undefined;

export function createUsageRecorder(
  usage: UsageService,
  model: CatalogModel,
  accountId: string | null,
  source: string,
): UsageRecorder {
  recorderClass ??= defineUsageRecorder();
  return new recorderClass(usage, model, accountId, source);
}

/** Defined on first use: its base class is @langchain/core's, which is not loaded at boot. */
function defineUsageRecorder(): UsageRecorderClass {
  return class extends callbacksBasePackage().BaseCallbackHandler implements UsageRecorder {
    name = 'llmops_usage_recorder';
    awaitHandlers = true;
    last: UsageRecord | null = null;
    private readonly started = new Map<string, number>();

    constructor(
      private readonly usage: UsageService,
      private readonly model: CatalogModel,
      private readonly accountId: string | null,
      private readonly source: string,
    ) {
      super();
    }

    handleChatModelStart(_llm: unknown, _messages: unknown, runId: string): void {
      this.started.set(runId, performance.now());
    }

    handleLLMStart(_llm: unknown, _prompts: unknown, runId: string): void {
      this.started.set(runId, performance.now());
    }

    async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
      const { prompt, completion } = extractUsage(output);
      this.last = await this.usage.record({
        accountId: this.accountId,
        model: this.model,
        source: this.source,
        promptTokens: prompt,
        completionTokens: completion,
        latencyMs: this.elapsed(runId),
        status: 'success',
      });
    }

    async handleLLMError(err: unknown, runId: string): Promise<void> {
      const aborted =
        err instanceof Error && (err.name === 'AbortError' || /abort/i.test(err.message));
      this.last = await this.usage.record({
        accountId: this.accountId,
        model: this.model,
        source: this.source,
        promptTokens: 0,
        completionTokens: 0,
        latencyMs: this.elapsed(runId),
        status: aborted ? 'aborted' : 'error',
        error: err instanceof Error ? err.message : String(err),
      });
    }

    private elapsed(runId: string): number {
      const start = this.started.get(runId);
      this.started.delete(runId);
      return start === undefined ? 0 : performance.now() - start;
    }
  };
}

/** Token counts from whichever place the provider integration put them. */
export function extractUsage(output: LLMResult): { prompt: number; completion: number } {
  const generation = output.generations?.[0]?.[0] as
    | { message?: { usage_metadata?: { input_tokens?: number; output_tokens?: number } } }
    | undefined;
  const meta = generation?.message?.usage_metadata;
  if (meta && (meta.input_tokens || meta.output_tokens)) {
    return { prompt: meta.input_tokens ?? 0, completion: meta.output_tokens ?? 0 };
  }
  const llm = (output.llmOutput ?? {}) as {
    tokenUsage?: TokenUsage;
    estimatedTokenUsage?: TokenUsage;
    usage?: { input_tokens?: number; output_tokens?: number };
  };
  const usage = llm.tokenUsage ?? llm.estimatedTokenUsage;
  if (usage) return { prompt: usage.promptTokens ?? 0, completion: usage.completionTokens ?? 0 };
  if (llm.usage)
    return { prompt: llm.usage.input_tokens ?? 0, completion: llm.usage.output_tokens ?? 0 };
  return { prompt: 0, completion: 0 };
}
