import { FailException, NotFoundError, SseStream } from '@app/common';
import { AppConfig } from '@app/config';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { modelErrorMessage } from '../runtime/model-error';
import { ModelRuntime } from '../runtime/model-runtime.service';
import { messagesPackage } from '../runtime/provider-packages';
import {
  AUTO_GENERATE_PROMPT_SYSTEM,
  OPTIMIZE_PROMPT_SYSTEM,
  SUGGESTED_QUESTIONS_SYSTEM,
} from './ai.prompts';
import { MESSAGE_LOOKUP } from './message-lookup';
import type { MessageLookup } from './message-lookup';

function text(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((c) => (typeof c === 'string' ? c : ((c as { text?: string }).text ?? '')))
      .join('');
  }
  return '';
}

/** Extracts up to three questions from a model answer that should be a JSON array (tolerates prose). */
export function parseQuestions(answer: string): string[] {
  const match = /\[[\s\S]*\]/.exec(answer);
  if (match) {
    try {
      const parsed = JSON.parse(match[0]) as unknown;
      if (Array.isArray(parsed)) {
        return parsed
          .filter((q): q is string => typeof q === 'string' && !!q.trim())
          .map((q) => q.trim())
          .slice(0, 3);
      }
    } catch {
      /* fall back to lines */
    }
  }
  const item = /^(?:[-*•]\s+|\d+[.)]\s*)/;
  const lines = answer
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  // In a list with a preface ("Here are three questions:\n1. ..."), only the items are questions.
  const items = lines.some((l) => item.test(l)) ? lines.filter((l) => item.test(l)) : lines;
  return items
    .map((l) =>
      l
        .replace(item, '')
        .replace(/^"|",?$/g, '')
        .trim(),
    )
    .filter((l) => l.length > 0 && l.length <= 200 && !/^[[\]]$/.test(l))
    .slice(0, 3);
}

/** The console's AI helpers, on the model named by AI_HELPER_MODEL with the caller's credentials. */
@Injectable()
export class AiService {
  private readonly logger = new Logger('AiHelpers');
  private readonly provider: string;
  private readonly model: string;

  constructor(
    config: AppConfig,
    private readonly runtime: ModelRuntime,
    @Optional() @Inject(MESSAGE_LOOKUP) private readonly messages?: MessageLookup,
  ) {
    const [provider, ...rest] = config.env.AI_HELPER_MODEL.split('/');
    this.provider = provider;
    this.model = rest.join('/');
  }

  /** Streams the improved prompt as `optimize_prompt` frames; the stream ends when it is done. */
  async optimizePrompt(accountId: string, prompt: string, sse: SseStream): Promise<void> {
    // Build the model first: configuration errors answer as a JSON envelope, before the stream.
    const { model } = await this.runtime.chat(
      { provider: this.provider, model: this.model, parameters: this.params(0.5) },
      { accountId, source: 'ai.optimize-prompt', parameterMode: 'lenient' },
    );
    sse.open();
    const { HumanMessage, SystemMessage } = messagesPackage();
    try {
      const stream = await model.stream(
        [new SystemMessage(OPTIMIZE_PROMPT_SYSTEM), new HumanMessage(prompt)],
        {
          signal: sse.signal,
        },
      );
      for await (const chunk of stream) {
        const delta = text(chunk.content);
        if (delta) sse.send('optimize_prompt', { optimize_prompt: delta });
      }
      sse.close();
    } catch (err) {
      if (sse.signal.aborted) return; // the client left; nothing to tell
      this.logger.warn(`optimize-prompt failed: ${String(err)}`);
      sse.fail(`The model call failed: ${modelErrorMessage(err)}`);
    }
  }

  async autoGeneratePrompt(accountId: string, description: string): Promise<string> {
    const { model } = await this.runtime.chat(
      { provider: this.provider, model: this.model, parameters: this.params(0.7) },
      { accountId, source: 'ai.auto-generate-prompt', parameterMode: 'lenient' },
    );
    const { HumanMessage, SystemMessage } = messagesPackage();
    const res = await this.call(() =>
      model.invoke([new SystemMessage(AUTO_GENERATE_PROMPT_SYSTEM), new HumanMessage(description)]),
    );
    const prompt = text(res.content).trim();
    if (!prompt) throw new FailException('The model returned an empty prompt; please try again');
    return prompt;
  }

  async suggestedQuestions(
    accountId: string,
    input: { message_id?: string; query?: string; answer?: string },
  ): Promise<string[]> {
    let exchange: { query: string; answer: string } | null = null;
    if (input.query !== undefined) exchange = { query: input.query, answer: input.answer ?? '' };
    else if (input.message_id) {
      exchange = this.messages ? await this.messages.exchange(accountId, input.message_id) : null;
      if (!exchange) throw new NotFoundError('The message does not exist');
    }
    if (!exchange?.query.trim()) throw new FailException('There is no question to follow up on');
    const { model } = await this.runtime.chat(
      { provider: this.provider, model: this.model, parameters: this.params(0) },
      { accountId, source: 'ai.suggested-questions', parameterMode: 'lenient' },
    );
    const { HumanMessage, SystemMessage } = messagesPackage();
    const res = await this.call(() =>
      model.invoke([
        new SystemMessage(SUGGESTED_QUESTIONS_SYSTEM),
        new HumanMessage(`User: ${exchange.query}\nAssistant: ${exchange.answer}`),
      ]),
    );
    return parseQuestions(text(res.content));
  }

  /** A provider failure becomes a `fail` that says what went wrong, not a generic 500. */
  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      this.logger.warn(`AI helper model call failed: ${String(err)}`);
      throw new FailException(`The model call failed: ${modelErrorMessage(err)}`);
    }
  }

  private params(temperature: number): Record<string, unknown> {
    return { temperature };
  }
}
