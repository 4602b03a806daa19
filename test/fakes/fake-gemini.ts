import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ChatPlan,
  contentText,
  countTokens,
  FakeBehaviour,
  FakeContext,
  FakeLlmOptions,
  FakeLlmServer,
  FakeMatch,
  FakeRecordedRequest,
  FakeRoute,
  lastUserText,
  promptTokens,
  StreamFrame,
} from './fake-llm-common';

export * from './fake-llm-common';

/**
 * A fake Google Generative Language API (Gemini, AI Studio) on 127.0.0.1:0 that the real
 * `@google/generative-ai` client and LangChain `ChatGoogleGenerativeAI` /
 * `GoogleGenerativeAIEmbeddings` (`baseUrl: fake.url`) talk to unchanged.
 *
 * Routes (under any API version prefix: `/v1beta` (the client's default), `/v1`, `/v1alpha`):
 * - `POST /v1beta/models/{model}:generateContent` (endpoint `chat`): one `GenerateContentResponse`
 *   `{candidates:[{content:{role:'model', parts:[{text}|{functionCall:{name,args}}]}, finishReason,
 *   index:0}], usageMetadata:{promptTokenCount, candidatesTokenCount, totalTokenCount}, modelVersion,
 *   responseId}`.
 * - `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` (`chat`, recorded with
 *   `stream: true`): SSE `data: {GenerateContentResponse}` frames, one per text piece / function
 *   call; the last one carries `finishReason` and `usageMetadata`. In-band failures are a
 *   `data: {"error":{...}}` frame.
 * - `POST /v1beta/models/{model}:embedContent` (`embeddings`) → `{embedding:{values}}`;
 *   `:batchEmbedContents` (`embeddings`) → `{embeddings:[{values}]}`; `outputDimensionality` honoured.
 * - `POST /v1beta/models/{model}:countTokens` (`count_tokens`) → `{totalTokens}`.
 * - `GET /v1beta/models`, `GET /v1beta/models/{model}` (`models`).
 * Errors use `{"error":{"code","message","status"}}` (`error_type` sets `status`, e.g.
 * `RESOURCE_EXHAUSTED`). With `requireKey`, the key must come in `x-goog-api-key` or `?key=`
 * (a wrong key is Google's 400 `API_KEY_INVALID`, none a 403 `PERMISSION_DENIED`).
 *
 * The request body carries no model: match queued behaviours by model with
 * `FakeGemini.forModel('gemini-2.0-flash')` (or `when: (r) => FakeGemini.modelOf(r) === ...`).
 *
 * ```ts
 * const gemini = await FakeGemini.create();
 * gemini.enqueue({ type: 'tool_call', name: 'search', arguments: { q: 'x' } });
 * new ChatGoogleGenerativeAI({ model: 'gemini-2.0-flash', apiKey: 'k', baseUrl: gemini.url });
 * ```
 */
export class FakeGemini extends FakeLlmServer {
  protected readonly defaultEndpoints = ['chat'];
  protected requestIdHeader: string | undefined = undefined;
  /**
   * Whether the path being routed is a `:streamGenerateContent` one. The base pipeline calls
   * `routePath` and then `wantsStream` synchronously for each request, so this cannot be mixed
   * up between concurrent requests.
   */
  private routingStream = false;

  constructor(opts: FakeLlmOptions = {}) {
    super(opts, ['gemini-2.0-flash', 'gemini-2.5-pro', 'text-embedding-004']);
  }

  /** Creates and starts a fake. */
  static async create(opts: FakeLlmOptions = {}): Promise<FakeGemini> {
    const fake = new FakeGemini(opts);
    await fake.start();
    return fake;
  }

  /** The model a recorded request addressed (from its path), e.g. `gemini-2.0-flash`. */
  static modelOf(req: FakeRecordedRequest): string {
    const m = /\/models\/([^/:]+)(?::\w+)?$/.exec(req.path);
    return m ? decodeURIComponent(m[1]) : '';
  }

  /** A `FakeMatch` for requests to one model (the body names none, so `match.model` never hits). */
  static forModel(model: string | RegExp, endpoint?: string | string[]): FakeMatch {
    return {
      endpoint,
      when: (r) => {
        const name = FakeGemini.modelOf(r);
        return typeof model === 'string' ? name === model : model.test(name);
      },
    };
  }

  protected routePath(path: string): string {
    this.routingStream = /:streamGenerateContent$/.test(path);
    return path.replace(/^\/v1(?:beta|alpha)?(?=\/)/, '');
  }

  protected routes(): FakeRoute[] {
    return [
      {
        method: 'POST',
        path: /^\/models\/[^/:]+:(?:generateContent|streamGenerateContent)$/,
        endpoint: 'chat',
        handler: (c, b, d) => this.generate(c, b, d),
      },
      {
        method: 'POST',
        path: /^\/models\/[^/:]+:(?:embedContent|batchEmbedContents)$/,
        endpoint: 'embeddings',
        handler: (c, b, d) => this.embed(c, b, d),
      },
      {
        method: 'POST',
        path: /^\/models\/[^/:]+:countTokens$/,
        endpoint: 'count_tokens',
        unscripted: true,
        handler: (c) => this.countTokens(c),
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
        path: /^\/models\/[^/:]+$/,
        endpoint: 'models',
        unscripted: true,
        handler: (c) => this.getModel(c),
      },
    ];
  }

  protected wantsStream(endpoint: string): boolean {
    return endpoint === 'chat' && this.routingStream;
  }

  protected hasValidKey(req: IncomingMessage): boolean {
    return apiKeyOf(req) === this.requireKey;
  }

  protected sendUnauthorized(res: ServerResponse, req: IncomingMessage): void {
    if (!apiKeyOf(req)) {
      this.sendError(res, 403, {
        message:
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        error_type: 'PERMISSION_DENIED',
      });
      return;
    }
    this.sendJson(res, 400, {
      error: {
        code: 400,
        message: 'API key not valid. Please pass a valid API key.',
        status: 'INVALID_ARGUMENT',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'API_KEY_INVALID',
            domain: 'googleapis.com',
            metadata: { service: 'generativelanguage.googleapis.com' },
          },
        ],
      },
    });
  }

  protected sendNotFound(res: ServerResponse, method: string, path: string): void {
    this.sendError(res, 404, {
      message: `Method not found: ${method} ${path}`,
      error_type: 'NOT_FOUND',
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
    this.sendJson(
      res,
      status,
      { error: googleError(status, spec.message, spec.error_type) },
      spec.headers,
    );
  }

  // ---- generateContent --------------------------------------------------------------------------

  private async generate(ctx: FakeContext, behaviour: FakeBehaviour, delay: number): Promise<void> {
    const body = ctx.body ?? {};
    const model = FakeGemini.modelOf(ctx.rec);
    if (!Array.isArray(body.contents) || body.contents.length === 0) {
      return this.sendError(ctx.res, 400, {
        message: '* GenerateContentRequest.contents: contents is not specified\n',
        error_type: 'INVALID_ARGUMENT',
      });
    }
    if (!this.modelKnown(model)) return this.sendModelNotFound(ctx.res, model, 'generateContent');
    // Gemini `contents` ({role:'user'|'model', parts}) as the common helpers' messages.
    const messages = (body.contents as Array<{ role?: string; parts?: unknown }>).map((c) => ({
      role: c?.role === 'model' ? 'assistant' : (c?.role ?? 'user'),
      content: c?.parts,
    }));
    const responseId = `fake-${String(this.nextSeq()).padStart(6, '0')}`;
    await this.runChat(ctx, behaviour, delay, {
      stream: ctx.rec.stream,
      contentType: 'text/event-stream',
      promptTokens: promptTokens(messages, body.systemInstruction?.parts),
      lastUserText: lastUserText(messages),
      // Gemini function calls carry no id; LangChain makes one up.
      makeToolId: () => '',
      json: (plan) => ({
        candidates: [
          {
            content: { role: 'model', parts: [...textParts(plan.text), ...callParts(plan)] },
            finishReason: finishReason(plan),
            index: 0,
          },
        ],
        usageMetadata: usageJson(plan),
        modelVersion: model,
        responseId,
      }),
      frames: (plan) => this.chunks(plan, model, responseId),
      errorFrames: (message, errorType) => [sse({ error: googleError(500, message, errorType) })],
    });
  }

  private chunks(plan: ChatPlan, model: string, responseId: string): StreamFrame[] {
    const parts: unknown[][] = [
      ...plan.textChunks.filter((t) => t).map((text) => [{ text }]),
      ...callParts(plan).map((p) => [p]),
    ];
    if (!parts.length) parts.push([{ text: '' }]);
    return parts.map((p, i) => {
      const last = i === parts.length - 1;
      return {
        data: sse({
          candidates: [
            {
              content: { role: 'model', parts: p },
              ...(last ? { finishReason: finishReason(plan) } : {}),
              index: 0,
            },
          ],
          // LangChain drops chunks without candidate content, so usage rides on the last one.
          ...(last ? { usageMetadata: usageJson(plan) } : {}),
          modelVersion: model,
          responseId,
        }),
        content: true,
      };
    });
  }

  // ---- embeddings -------------------------------------------------------------------------------

  private async embed(ctx: FakeContext, behaviour: FakeBehaviour, delay: number): Promise<void> {
    const body = ctx.body ?? {};
    const model = FakeGemini.modelOf(ctx.rec);
    const batch = ctx.rec.path.endsWith(':batchEmbedContents');
    const requests: Array<{ content?: { parts?: unknown }; outputDimensionality?: unknown }> = batch
      ? body.requests
      : [body];
    if (!Array.isArray(requests) || !requests.length || requests.some((r) => !r?.content)) {
      return this.sendError(ctx.res, 400, {
        message: batch
          ? '* BatchEmbedContentsRequest.requests: requests is not specified\n'
          : '* EmbedContentRequest.content: content is not specified\n',
        error_type: 'INVALID_ARGUMENT',
      });
    }
    if (!this.modelKnown(model)) return this.sendModelNotFound(ctx.res, model, 'embedContent');
    const dims = requests[0].outputDimensionality;
    const inputs = requests.map((r) => contentText(r.content?.parts));
    const vectors = this.embeddingVectors(
      ctx,
      behaviour,
      inputs,
      typeof dims === 'number' ? dims : this.embeddingDimensions,
    );
    if (!vectors) return;
    await this.sendBody(
      ctx,
      batch
        ? { embeddings: vectors.map((values) => ({ values })) }
        : { embedding: { values: vectors[0] } },
      delay,
    );
  }

  // ---- misc -------------------------------------------------------------------------------------

  private async countTokens(ctx: FakeContext): Promise<void> {
    const contents = ctx.body?.contents ?? ctx.body?.generateContentRequest?.contents ?? [];
    const n = (Array.isArray(contents) ? contents : []).reduce(
      (sum: number, c: { parts?: unknown }) => sum + countTokens(contentText(c?.parts)),
      0,
    );
    this.sendJson(ctx.res, 200, { totalTokens: n });
  }

  private async listModels(ctx: FakeContext): Promise<void> {
    this.sendJson(ctx.res, 200, { models: this.models.map(modelJson) });
  }

  private async getModel(ctx: FakeContext): Promise<void> {
    const id = FakeGemini.modelOf(ctx.rec);
    if (!this.models.includes(id)) return this.sendModelNotFound(ctx.res, id);
    this.sendJson(ctx.res, 200, modelJson(id));
  }

  private sendModelNotFound(res: ServerResponse, model: string, method?: string): void {
    this.sendError(res, 404, {
      message: method
        ? `models/${model} is not found for API version v1beta, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`
        : `Model is not found: models/${model} for api version v1beta`,
      error_type: 'NOT_FOUND',
    });
  }
}

/** The API key of a request: `x-goog-api-key` header or `key` query parameter. */
function apiKeyOf(req: IncomingMessage): string | undefined {
  const header = req.headers['x-goog-api-key'];
  if (typeof header === 'string' && header) return header;
  return new URL(req.url ?? '/', 'http://fake').searchParams.get('key') ?? undefined;
}

function sse(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

function textParts(text: string): Array<{ text: string }> {
  return text ? [{ text }] : [];
}

/** `functionCall` parts; an explicit spec `id` is sent too (newer Gemini models send ids). */
function callParts(plan: ChatPlan): Array<{ functionCall: Record<string, unknown> }> {
  return plan.calls.map((c) => ({
    functionCall: {
      ...(c.id ? { id: c.id } : {}),
      name: c.name,
      args: JSON.parse(c.args) as unknown,
    },
  }));
}

/** Gemini reports `STOP` for function calls too. */
function finishReason(plan: ChatPlan): string {
  return plan.stop === 'length' ? 'MAX_TOKENS' : 'STOP';
}

function usageJson(plan: ChatPlan) {
  const { prompt_tokens, completion_tokens } = plan.usage;
  return {
    promptTokenCount: prompt_tokens,
    candidatesTokenCount: completion_tokens,
    totalTokenCount: prompt_tokens + completion_tokens,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt_tokens }],
  };
}

function modelJson(id: string) {
  const embedding = id.includes('embedding');
  return {
    name: `models/${id}`,
    version: '001',
    displayName: id,
    description: `Fake ${id}`,
    inputTokenLimit: embedding ? 2048 : 1048576,
    outputTokenLimit: embedding ? 1 : 8192,
    supportedGenerationMethods: embedding
      ? ['embedContent', 'countTextTokens', 'countTokens']
      : ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
  };
}

/** Google's error status name for an HTTP status. */
function googleStatus(status: number): string {
  switch (status) {
    case 400:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'ABORTED';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    case 499:
      return 'CANCELLED';
    case 501:
      return 'UNIMPLEMENTED';
    case 503:
      return 'UNAVAILABLE';
    case 504:
      return 'DEADLINE_EXCEEDED';
    default:
      return status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION';
  }
}

function googleError(status: number, message: string | undefined, errorType: string | undefined) {
  const defaults: Record<number, string> = {
    400: 'Request contains an invalid argument.',
    429: 'Resource has been exhausted (e.g. check quota).',
    500: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
    503: 'The model is overloaded. Please try again later.',
  };
  return {
    code: status,
    message: message ?? defaults[status] ?? `Request failed with status ${status}.`,
    status: errorType ?? googleStatus(status),
  };
}
