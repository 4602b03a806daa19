import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ChatPlan,
  FakeBehaviour,
  FakeContext,
  FakeLlmOptions,
  FakeLlmServer,
  FakeRoute,
  lastUserText,
  promptTokens,
  StreamFrame,
} from './fake-llm-common';

export * from './fake-llm-common';

/**
 * A fake Anthropic Messages API on 127.0.0.1:0 that the real `@anthropic-ai/sdk` and LangChain
 * `ChatAnthropic` (`anthropicApiUrl: fake.url`) talk to unchanged.
 *
 * Routes:
 * - `POST /v1/messages` (endpoint `chat`; also `?beta=true`): requires `anthropic-version`,
 *   `model`, `max_tokens`, `messages`. JSON `message`, or with `stream: true` SSE named events
 *   `message_start`, `content_block_start`, `ping`, `content_block_delta` (`text_delta` /
 *   `input_json_delta`), `content_block_stop`, `message_delta` (stop_reason, usage.output_tokens),
 *   `message_stop`; in-band failures as `event: error`.
 * - `POST /v1/messages/count_tokens` (`count_tokens`), `GET /v1/models` (`models`).
 * Errors use `{"type":"error","error":{"type","message"},"request_id"}`; answers carry `request-id`.
 * With `requireKey`, `x-api-key: <key>` (or `Authorization: Bearer <key>`) is required.
 *
 * Like the real API, `message_start` reports `output_tokens: 1`; the final count is in
 * `message_delta` (LangChain adds both when streaming, so streamed totals are one higher).
 */
export class FakeAnthropic extends FakeLlmServer {
  protected readonly defaultEndpoints = ['chat'];
  protected requestIdHeader: string | undefined = 'request-id';

  constructor(opts: FakeLlmOptions = {}) {
    super(opts, [
      'claude-sonnet-4-5-20250929',
      'claude-haiku-4-5-20251001',
      'claude-opus-4-1-20250805',
    ]);
  }

  /** Creates and starts a fake. */
  static async create(opts: FakeLlmOptions = {}): Promise<FakeAnthropic> {
    const fake = new FakeAnthropic(opts);
    await fake.start();
    return fake;
  }

  protected routes(): FakeRoute[] {
    return [
      {
        method: 'POST',
        path: '/v1/messages',
        endpoint: 'chat',
        handler: (c, b, d) => this.messages(c, b, d),
      },
      {
        method: 'POST',
        path: '/v1/messages/count_tokens',
        endpoint: 'count_tokens',
        unscripted: true,
        handler: (c) => this.countTokens(c),
      },
      {
        method: 'GET',
        path: '/v1/models',
        endpoint: 'models',
        unscripted: true,
        handler: (c) => this.listModels(c),
      },
    ];
  }

  protected wantsStream(endpoint: string, body: any): boolean {
    return endpoint === 'chat' && body?.stream === true;
  }

  protected hasValidKey(req: IncomingMessage): boolean {
    return (
      req.headers['x-api-key'] === this.requireKey ||
      req.headers.authorization === `Bearer ${this.requireKey}`
    );
  }

  protected sendUnauthorized(res: ServerResponse, _req: IncomingMessage): void {
    this.sendError(res, 401, { message: 'invalid x-api-key', error_type: 'authentication_error' });
  }

  protected sendNotFound(res: ServerResponse): void {
    this.sendError(res, 404, { message: 'Not Found', error_type: 'not_found_error' });
  }

  protected sendError(
    res: ServerResponse,
    status: number,
    spec: { message?: string; error_type?: string; headers?: Record<string, string> },
  ): void {
    const defaults = anthropicErrorDefaults(status);
    this.sendJson(
      res,
      status,
      {
        type: 'error',
        error: {
          type: spec.error_type ?? defaults.type,
          message: spec.message ?? defaults.message,
        },
        request_id: `req_fake${this.nextSeq()}`,
      },
      spec.headers,
    );
  }

  // ---- messages -------------------------------------------------------------------------------

  private validate(ctx: FakeContext, needMaxTokens: boolean): boolean {
    const body = ctx.body ?? {};
    const missing = !ctx.req.headers['anthropic-version']
      ? 'anthropic-version: header is required'
      : typeof body.model !== 'string' || !body.model
        ? 'model: Field required'
        : !Array.isArray(body.messages)
          ? 'messages: Field required'
          : needMaxTokens && typeof body.max_tokens !== 'number'
            ? 'max_tokens: Field required'
            : null;
    if (missing) {
      this.sendError(ctx.res, 400, { message: missing, error_type: 'invalid_request_error' });
      return false;
    }
    if (!this.modelKnown(body.model)) {
      this.sendError(ctx.res, 404, {
        message: `model: ${body.model}`,
        error_type: 'not_found_error',
      });
      return false;
    }
    return true;
  }

  private async messages(ctx: FakeContext, behaviour: FakeBehaviour, delay: number): Promise<void> {
    if (!this.validate(ctx, true)) return;
    const body = ctx.body;
    const model: string = body.model;
    const id = `msg_fake${String(this.nextSeq()).padStart(18, '0')}`;
    const input = promptTokens(body.messages, body.system);
    await this.runChat(ctx, behaviour, delay, {
      stream: ctx.rec.stream,
      contentType: 'text/event-stream; charset=utf-8',
      promptTokens: input,
      lastUserText: lastUserText(body.messages),
      makeToolId: () => `toolu_fake${String(this.nextSeq()).padStart(14, '0')}`,
      json: (plan) => ({
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: contentBlocks(plan),
        stop_reason: stopReason(plan),
        stop_sequence: null,
        usage: usageJson(plan.usage.prompt_tokens, plan.usage.completion_tokens),
      }),
      frames: (plan) => streamEvents(plan, id, model),
      errorFrames: (message, errorType) => [
        event('error', {
          type: 'error',
          error: { type: errorType ?? 'overloaded_error', message },
        }),
      ],
    });
  }

  private async countTokens(ctx: FakeContext): Promise<void> {
    if (!this.validate(ctx, false)) return;
    this.sendJson(ctx.res, 200, { input_tokens: promptTokens(ctx.body.messages, ctx.body.system) });
  }

  private async listModels(ctx: FakeContext): Promise<void> {
    const data = this.models.map((id) => ({
      type: 'model',
      id,
      display_name: id,
      created_at: '2025-01-01T00:00:00Z',
    }));
    this.sendJson(ctx.res, 200, {
      data,
      has_more: false,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
    });
  }
}

function contentBlocks(plan: ChatPlan): unknown[] {
  const blocks: unknown[] = [];
  if (plan.text || !plan.calls.length) blocks.push({ type: 'text', text: plan.text });
  for (const c of plan.calls)
    blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: JSON.parse(c.args) });
  return blocks;
}

function stopReason(plan: ChatPlan): string {
  return plan.stop === 'tool_calls'
    ? 'tool_use'
    : plan.stop === 'length'
      ? 'max_tokens'
      : 'end_turn';
}

function usageJson(input: number, output: number) {
  return {
    input_tokens: input,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: output,
    service_tier: 'standard',
  };
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

function streamEvents(plan: ChatPlan, id: string, model: string): StreamFrame[] {
  const frames: StreamFrame[] = [
    {
      data: event('message_start', {
        type: 'message_start',
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: usageJson(plan.usage.prompt_tokens, 1),
        },
      }),
    },
  ];
  let index = 0;
  if (plan.text || !plan.calls.length) {
    frames.push({
      data: event('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      }),
    });
    frames.push({ data: event('ping', { type: 'ping' }) });
    for (const text of plan.textChunks) {
      frames.push({
        data: event('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'text_delta', text },
        }),
        content: true,
      });
    }
    frames.push({ data: event('content_block_stop', { type: 'content_block_stop', index }) });
    index++;
  }
  for (const call of plan.calls) {
    frames.push({
      data: event('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} },
      }),
    });
    if (index === 0) frames.push({ data: event('ping', { type: 'ping' }) });
    frames.push({
      data: event('content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: '' },
      }),
    });
    for (const partial_json of call.argChunks) {
      frames.push({
        data: event('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json },
        }),
        content: true,
      });
    }
    frames.push({ data: event('content_block_stop', { type: 'content_block_stop', index }) });
    index++;
  }
  frames.push({
    data: event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason(plan), stop_sequence: null },
      usage: { output_tokens: plan.usage.completion_tokens },
    }),
  });
  frames.push({ data: event('message_stop', { type: 'message_stop' }) });
  return frames;
}

function anthropicErrorDefaults(status: number): { type: string; message: string } {
  switch (status) {
    case 400:
      return { type: 'invalid_request_error', message: 'Invalid request.' };
    case 401:
      return { type: 'authentication_error', message: 'invalid x-api-key' };
    case 403:
      return {
        type: 'permission_error',
        message: 'Your API key does not have permission to use the specified resource.',
      };
    case 404:
      return { type: 'not_found_error', message: 'The requested resource could not be found.' };
    case 413:
      return {
        type: 'request_too_large',
        message: 'Request exceeds the maximum allowed number of bytes.',
      };
    case 429:
      return {
        type: 'rate_limit_error',
        message: 'Number of requests has exceeded your rate limit.',
      };
    case 529:
      return { type: 'overloaded_error', message: 'Overloaded' };
    default:
      return status >= 500
        ? { type: 'api_error', message: 'Internal server error' }
        : { type: 'invalid_request_error', message: `Request failed with status ${status}.` };
  }
}
