import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ChatPlan,
  FakeBehaviour,
  FakeContext,
  FakeLlmOptions,
  FakeLlmServer,
  FakeRoute,
  float32Base64,
  lastUserText,
  nowSeconds,
  promptTokens,
  StreamFrame,
} from './fake-llm-common';

export * from './fake-llm-common';

/**
 * A fake OpenAI API (also any "OpenAI-compatible" server) on 127.0.0.1:0 that the real `openai`
 * SDK and LangChain `ChatOpenAI` / `OpenAIEmbeddings` talk to unchanged.
 *
 * Routes (mounted both with and without the `/v1` prefix, so `baseURL` may be `url` or `url/v1`):
 * - `POST /v1/chat/completions` (endpoint `chat`): JSON `chat.completion`, or with `stream: true`
 *   SSE `chat.completion.chunk`s: role chunk, content / tool-call argument deltas, finish chunk,
 *   a `choices: []` usage chunk when `stream_options.include_usage`, then `data: [DONE]`.
 * - `POST /v1/embeddings` (`embeddings`): `input` string, string[] or token arrays; float or
 *   `encoding_format: 'base64'` (little-endian float32, the SDK's default); `dimensions` honoured.
 * - `GET /v1/models`, `GET /v1/models/{id}` (`models`).
 * Errors use `{"error":{"message","type","param","code"}}`; every answer has `x-request-id`.
 * With `requireKey`, `Authorization: Bearer <key>` is required (401 `invalid_api_key`).
 *
 * ```ts
 * const openai = new FakeOpenAI();
 * await openai.start();
 * openai.enqueue({ type: 'tool_call', name: 'search', arguments: { q: 'x' } });
 * new OpenAI({ baseURL: `${openai.url}/v1`, apiKey: 'test' });
 * ```
 */
export class FakeOpenAI extends FakeLlmServer {
  protected readonly defaultEndpoints = ['chat'];
  protected requestIdHeader: string | undefined = 'x-request-id';

  constructor(opts: FakeLlmOptions = {}) {
    super(opts, ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small', 'text-embedding-3-large']);
  }

  /** Creates and starts a fake. */
  static async create(opts: FakeLlmOptions = {}): Promise<FakeOpenAI> {
    const fake = new FakeOpenAI(opts);
    await fake.start();
    return fake;
  }

  /** Base URL including `/v1`, what the SDK's `baseURL` usually holds. */
  get baseURL(): string {
    return `${this.url}/v1`;
  }

  protected routePath(path: string): string {
    return path.startsWith('/v1/') ? path.slice(3) : path;
  }

  protected routes(): FakeRoute[] {
    return [
      {
        method: 'POST',
        path: '/chat/completions',
        endpoint: 'chat',
        handler: (c, b, d) => this.chat(c, b, d),
      },
      {
        method: 'POST',
        path: '/embeddings',
        endpoint: 'embeddings',
        handler: (c, b, d) => this.embeddings(c, b, d),
      },
      {
        method: 'GET',
        path: '/models',
        endpoint: 'models',
        unscripted: true,
        handler: (c) => this.listModels(c),
      },
      {
        method: 'GET',
        path: /^\/models\/[^/]+$/,
        endpoint: 'models',
        unscripted: true,
        handler: (c) => this.getModel(c),
      },
    ];
  }

  protected wantsStream(endpoint: string, body: any): boolean {
    return endpoint === 'chat' && body?.stream === true;
  }

  protected hasValidKey(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.requireKey}`;
  }

  protected sendUnauthorized(res: ServerResponse, req: IncomingMessage): void {
    const auth = req.headers.authorization;
    if (!auth) {
      this.sendError(res, 401, {
        message:
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        error_type: 'invalid_request_error',
        code: null,
      });
      return;
    }
    const key = auth.replace(/^Bearer\s+/i, '');
    this.sendError(res, 401, {
      message: `Incorrect API key provided: ${key.slice(0, 3)}***${key.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      error_type: 'invalid_request_error',
      code: 'invalid_api_key',
    });
  }

  protected sendNotFound(res: ServerResponse, method: string, path: string): void {
    this.sendError(res, 404, {
      message: `Invalid URL (${method} ${path})`,
      error_type: 'invalid_request_error',
    });
  }

  protected sendError(
    res: ServerResponse,
    status: number,
    spec: {
      message?: string;
      error_type?: string;
      code?: string | null;
      headers?: Record<string, string>;
    },
  ): void {
    const defaults = openAiErrorDefaults(status);
    this.sendJson(
      res,
      status,
      {
        error: {
          message: spec.message ?? defaults.message,
          type: spec.error_type ?? defaults.type,
          param: null,
          code: spec.code !== undefined ? spec.code : defaults.code,
        },
      },
      spec.headers,
    );
  }

  // ---- chat -----------------------------------------------------------------------------------

  private async chat(ctx: FakeContext, behaviour: FakeBehaviour, delay: number): Promise<void> {
    const body = ctx.body ?? {};
    if (typeof body.model !== 'string' || !body.model) {
      return this.sendError(ctx.res, 400, {
        message: 'you must provide a model parameter',
        error_type: 'invalid_request_error',
      });
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return this.sendError(ctx.res, 400, {
        message: "Missing required parameter: 'messages'.",
        error_type: 'invalid_request_error',
        code: 'missing_required_parameter',
      });
    }
    if (!this.modelKnown(body.model)) return this.sendModelNotFound(ctx.res, body.model);
    const model: string = body.model;
    const id = `chatcmpl-fake${String(this.nextSeq()).padStart(6, '0')}`;
    const created = nowSeconds();
    const includeUsage = body.stream_options?.include_usage === true;
    await this.runChat(ctx, behaviour, delay, {
      stream: ctx.rec.stream,
      contentType: 'text/event-stream; charset=utf-8',
      promptTokens: promptTokens(body.messages),
      lastUserText: lastUserText(body.messages),
      makeToolId: () => `call_fake${String(this.nextSeq()).padStart(6, '0')}`,
      json: (plan) => ({
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: plan.calls.length && !plan.text ? null : plan.text,
              refusal: null,
              annotations: [],
              ...(plan.calls.length
                ? {
                    tool_calls: plan.calls.map((c) => ({
                      id: c.id,
                      type: 'function',
                      function: { name: c.name, arguments: c.args },
                    })),
                  }
                : {}),
            },
            logprobs: null,
            finish_reason: plan.stop,
          },
        ],
        usage: usageJson(plan),
        service_tier: 'default',
        system_fingerprint: 'fp_fake',
      }),
      frames: (plan) => this.chunks(plan, { id, created, model, includeUsage }),
      errorFrames: (message, errorType) => [
        sse({ error: { message, type: errorType ?? 'server_error', param: null, code: null } }),
      ],
    });
  }

  private chunks(
    plan: ChatPlan,
    meta: { id: string; created: number; model: string; includeUsage: boolean },
  ): StreamFrame[] {
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      sse({
        id: meta.id,
        object: 'chat.completion.chunk',
        created: meta.created,
        model: meta.model,
        service_tier: 'default',
        system_fingerprint: 'fp_fake',
        choices,
        ...(meta.includeUsage ? { usage: null } : {}),
        ...extra,
      });
    const delta = (d: Record<string, unknown>, finish: string | null = null) => [
      { index: 0, delta: d, logprobs: null, finish_reason: finish },
    ];
    const frames: StreamFrame[] = [
      {
        data: chunk(
          delta({
            role: 'assistant',
            content: plan.calls.length && !plan.text ? null : '',
            refusal: null,
          }),
        ),
      },
    ];
    for (const piece of plan.textChunks)
      frames.push({ data: chunk(delta({ content: piece })), content: true });
    plan.calls.forEach((call, index) => {
      frames.push({
        data: chunk(
          delta({
            tool_calls: [
              {
                index,
                id: call.id,
                type: 'function',
                function: { name: call.name, arguments: '' },
              },
            ],
          }),
        ),
      });
      for (const piece of call.argChunks) {
        frames.push({
          data: chunk(delta({ tool_calls: [{ index, function: { arguments: piece } }] })),
          content: true,
        });
      }
    });
    frames.push({ data: chunk(delta({}, plan.stop)) });
    if (meta.includeUsage) frames.push({ data: chunk([], { usage: usageJson(plan) }) });
    frames.push({ data: 'data: [DONE]\n\n' });
    return frames;
  }

  // ---- embeddings -----------------------------------------------------------------------------

  private async embeddings(
    ctx: FakeContext,
    behaviour: FakeBehaviour,
    delay: number,
  ): Promise<void> {
    const body = ctx.body ?? {};
    if (typeof body.model !== 'string' || !body.model) {
      return this.sendError(ctx.res, 400, {
        message: 'you must provide a model parameter',
        error_type: 'invalid_request_error',
      });
    }
    const inputs = embeddingInputs(body.input);
    if (!inputs) {
      return this.sendError(ctx.res, 400, {
        message:
          "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        error_type: 'invalid_request_error',
      });
    }
    if (!this.modelKnown(body.model)) return this.sendModelNotFound(ctx.res, body.model);
    const dims = typeof body.dimensions === 'number' ? body.dimensions : this.embeddingDimensions;
    const vectors = this.embeddingVectors(ctx, behaviour, inputs, dims);
    if (!vectors) return;
    const base64 = body.encoding_format === 'base64';
    const tokens = Math.max(
      1,
      inputs.reduce((n, t) => n + (t.match(/\S+/g) ?? []).length, 0),
    );
    await this.sendBody(
      ctx,
      {
        object: 'list',
        data: vectors.map((v, index) => ({
          object: 'embedding',
          index,
          embedding: base64 ? float32Base64(v) : v,
        })),
        model: body.model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      },
      delay,
    );
  }

  // ---- models ---------------------------------------------------------------------------------

  private async listModels(ctx: FakeContext): Promise<void> {
    this.sendJson(ctx.res, 200, { object: 'list', data: this.models.map(modelJson) });
  }

  private async getModel(ctx: FakeContext): Promise<void> {
    const id = decodeURIComponent(ctx.rec.path.split('/').pop() ?? '');
    if (!this.models.includes(id)) return this.sendModelNotFound(ctx.res, id);
    this.sendJson(ctx.res, 200, modelJson(id));
  }

  private sendModelNotFound(res: ServerResponse, model: string): void {
    this.sendError(res, 404, {
      message: `The model \`${model}\` does not exist or you do not have access to it.`,
      error_type: 'invalid_request_error',
      code: 'model_not_found',
    });
  }
}

function sse(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

function usageJson(plan: ChatPlan) {
  const { prompt_tokens, completion_tokens } = plan.usage;
  return {
    prompt_tokens,
    completion_tokens,
    total_tokens: prompt_tokens + completion_tokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function modelJson(id: string) {
  return { id, object: 'model', created: 1700000000, owned_by: 'system' };
}

/** `input` as texts: a string, strings, a token array or token arrays (tokens joined by spaces). */
function embeddingInputs(input: unknown): string[] | null {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every((x) => typeof x === 'number')) return [input.join(' ')];
  if (input.every((x) => typeof x === 'string')) return input;
  if (input.every((x) => Array.isArray(x) && x.every((n) => typeof n === 'number'))) {
    return input.map((t) => t.join(' '));
  }
  return null;
}

function openAiErrorDefaults(status: number): {
  message: string;
  type: string;
  code: string | null;
} {
  switch (status) {
    case 400:
      return { message: 'Invalid request.', type: 'invalid_request_error', code: null };
    case 401:
      return {
        message: 'Incorrect API key provided.',
        type: 'invalid_request_error',
        code: 'invalid_api_key',
      };
    case 403:
      return {
        message: 'You are not allowed to sample from this model',
        type: 'invalid_request_error',
        code: null,
      };
    case 404:
      return {
        message: 'The requested resource was not found.',
        type: 'invalid_request_error',
        code: null,
      };
    case 429:
      return {
        message: 'Rate limit reached for requests. Please try again in 1s.',
        type: 'requests',
        code: 'rate_limit_exceeded',
      };
    case 503:
      return {
        message: 'The engine is currently overloaded, please try again later.',
        type: 'server_error',
        code: null,
      };
    default:
      return status >= 500
        ? {
            message: 'The server had an error while processing your request. Sorry about that!',
            type: 'server_error',
            code: null,
          }
        : {
            message: `Request failed with status ${status}.`,
            type: 'invalid_request_error',
            code: null,
          };
  }
}
