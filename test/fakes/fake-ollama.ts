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
 * A fake Ollama server on 127.0.0.1:0 that the real `ollama` client and LangChain `ChatOllama` /
 * `OllamaEmbeddings` (`baseUrl: fake.url`) talk to unchanged.
 *
 * Routes:
 * - `POST /api/chat` (endpoint `chat`): streams by default (`stream` absent = true) as NDJSON
 *   (`application/x-ndjson`) lines `{model, created_at, message:{role:'assistant', content}, done:false}`,
 *   tool calls as one line with `message.tool_calls[{id, function:{index, name, arguments: object}}]`,
 *   then `{done:true, done_reason, total_duration, load_duration, prompt_eval_count,
 *   prompt_eval_duration, eval_count, eval_duration}`; `stream:false` = one JSON object.
 *   In-band failures are a `{"error":"..."}` line.
 * - `POST /api/generate` (`generate`): the same with `response` instead of `message` (no tools).
 * - `POST /api/embed` (`embeddings`): `{model, input: string|string[], dimensions?}` →
 *   `{model, embeddings, total_duration, load_duration, prompt_eval_count}`;
 *   legacy `POST /api/embeddings` (`{model, prompt}` → `{embedding}`).
 * - `GET /api/tags`, `POST /api/show`, `GET /api/version`, `GET /` ("Ollama is running").
 * Errors are `{"error":"..."}` with the HTTP status; unknown routes get a plain `404 page not found`.
 * With `requireKey`, `Authorization: Bearer <key>` is required (as on ollama.com).
 */
export class FakeOllama extends FakeLlmServer {
  protected readonly defaultEndpoints = ['chat', 'generate'];
  protected requestIdHeader: string | undefined = undefined;
  /** Reported by `GET /api/version`. */
  version = '0.12.6';

  constructor(opts: FakeLlmOptions = {}) {
    super(opts, [
      'llama3.2:latest',
      'qwen3:8b',
      'nomic-embed-text:latest',
      'mxbai-embed-large:latest',
    ]);
  }

  /** Creates and starts a fake. */
  static async create(opts: FakeLlmOptions = {}): Promise<FakeOllama> {
    const fake = new FakeOllama(opts);
    await fake.start();
    return fake;
  }

  protected routes(): FakeRoute[] {
    return [
      {
        method: 'POST',
        path: '/api/chat',
        endpoint: 'chat',
        handler: (c, b, d) => this.chat(c, b, d),
      },
      {
        method: 'POST',
        path: '/api/generate',
        endpoint: 'generate',
        handler: (c, b, d) => this.generate(c, b, d),
      },
      {
        method: 'POST',
        path: '/api/embed',
        endpoint: 'embeddings',
        handler: (c, b, d) => this.embed(c, b, d),
      },
      {
        method: 'POST',
        path: '/api/embeddings',
        endpoint: 'embeddings',
        handler: (c, b, d) => this.legacyEmbed(c, b, d),
      },
      {
        method: 'GET',
        path: '/api/tags',
        endpoint: 'models',
        unscripted: true,
        handler: (c) => this.tags(c),
      },
      {
        method: 'POST',
        path: '/api/show',
        endpoint: 'show',
        unscripted: true,
        handler: (c) => this.show(c),
      },
      {
        method: 'GET',
        path: '/api/version',
        endpoint: 'version',
        unscripted: true,
        handler: (c) => this.versionInfo(c),
      },
      {
        method: 'GET',
        path: '/',
        endpoint: 'root',
        unscripted: true,
        handler: (c) => this.root(c),
      },
    ];
  }

  protected wantsStream(endpoint: string, body: any): boolean {
    return (endpoint === 'chat' || endpoint === 'generate') && body?.stream !== false;
  }

  protected hasValidKey(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.requireKey}`;
  }

  protected sendUnauthorized(res: ServerResponse): void {
    this.sendError(res, 401, { message: 'unauthorized' });
  }

  protected sendNotFound(res: ServerResponse): void {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404 page not found');
  }

  protected sendError(
    res: ServerResponse,
    status: number,
    spec: { message?: string; headers?: Record<string, string> },
  ): void {
    this.sendJson(
      res,
      status,
      { error: spec.message ?? defaultMessage(status) },
      {
        'content-type': 'application/json; charset=utf-8',
        ...spec.headers,
      },
    );
  }

  // ---- chat / generate ------------------------------------------------------------------------

  private checkModel(ctx: FakeContext): string | null {
    const model = ctx.body?.model;
    if (typeof model !== 'string' || !model) {
      this.sendError(ctx.res, 400, { message: 'model is required' });
      return null;
    }
    if (!this.modelKnown(model)) {
      this.sendError(ctx.res, 404, { message: `model "${model}" not found, try pulling it first` });
      return null;
    }
    return model;
  }

  private async chat(ctx: FakeContext, behaviour: FakeBehaviour, delay: number): Promise<void> {
    const model = this.checkModel(ctx);
    if (!model) return;
    const messages = ctx.body.messages ?? [];
    await this.runChat(ctx, behaviour, delay, {
      stream: ctx.rec.stream,
      contentType: 'application/x-ndjson',
      promptTokens: promptTokens(messages),
      lastUserText: lastUserText(messages),
      makeToolId: () => `call_${String(this.nextSeq()).padStart(8, '0')}`,
      json: (plan) => ({
        model,
        created_at: new Date().toISOString(),
        message: { role: 'assistant', content: plan.text, ...toolCalls(plan) },
        ...doneFields(plan),
      }),
      frames: (plan) => {
        const line = (message: Record<string, unknown>) =>
          ndjson({
            model,
            created_at: new Date().toISOString(),
            message: { role: 'assistant', ...message },
            done: false,
          });
        const frames: StreamFrame[] = plan.textChunks.map((content) => ({
          data: line({ content }),
          content: true,
        }));
        if (plan.calls.length)
          frames.push({ data: line({ content: '', ...toolCalls(plan) }), content: true });
        frames.push({
          data: ndjson({
            model,
            created_at: new Date().toISOString(),
            message: { role: 'assistant', content: '' },
            ...doneFields(plan),
          }),
        });
        return frames;
      },
      errorFrames: (message) => [ndjson({ error: message })],
    });
  }

  private async generate(ctx: FakeContext, behaviour: FakeBehaviour, delay: number): Promise<void> {
    const model = this.checkModel(ctx);
    if (!model) return;
    const prompt = typeof ctx.body.prompt === 'string' ? ctx.body.prompt : '';
    await this.runChat(ctx, behaviour, delay, {
      stream: ctx.rec.stream,
      contentType: 'application/x-ndjson',
      promptTokens: promptTokens([{ content: prompt }], ctx.body.system),
      lastUserText: prompt,
      makeToolId: () => '',
      json: (plan) => ({
        model,
        created_at: new Date().toISOString(),
        response: plan.text,
        ...doneFields(plan),
        context: [],
      }),
      frames: (plan) => [
        ...plan.textChunks.map((response) => ({
          data: ndjson({ model, created_at: new Date().toISOString(), response, done: false }),
          content: true,
        })),
        {
          data: ndjson({
            model,
            created_at: new Date().toISOString(),
            response: '',
            ...doneFields(plan),
            context: [],
          }),
        },
      ],
      errorFrames: (message) => [ndjson({ error: message })],
    });
  }

  // ---- embeddings -----------------------------------------------------------------------------

  private async embed(ctx: FakeContext, behaviour: FakeBehaviour, delay: number): Promise<void> {
    const model = this.checkModel(ctx);
    if (!model) return;
    const input: unknown = ctx.body.input;
    const inputs =
      typeof input === 'string'
        ? [input]
        : Array.isArray(input) && input.every((x) => typeof x === 'string')
          ? input
          : null;
    if (!inputs) return this.sendError(ctx.res, 400, { message: 'invalid input type' });
    const dims =
      typeof ctx.body.dimensions === 'number' ? ctx.body.dimensions : this.embeddingDimensions;
    const embeddings = this.embeddingVectors(ctx, behaviour, inputs, dims);
    if (!embeddings) return;
    const tokens = inputs.reduce((n, t) => n + (t.match(/\S+/g) ?? []).length, 0);
    await this.sendBody(
      ctx,
      {
        model,
        embeddings,
        total_duration: 14_000_000,
        load_duration: 1_000_000,
        prompt_eval_count: tokens,
      },
      delay,
    );
  }

  private async legacyEmbed(
    ctx: FakeContext,
    behaviour: FakeBehaviour,
    delay: number,
  ): Promise<void> {
    const model = this.checkModel(ctx);
    if (!model) return;
    const prompt = typeof ctx.body.prompt === 'string' ? ctx.body.prompt : '';
    const vectors = this.embeddingVectors(ctx, behaviour, [prompt], this.embeddingDimensions);
    if (!vectors) return;
    await this.sendBody(ctx, { embedding: vectors[0] }, delay);
  }

  // ---- model management -----------------------------------------------------------------------

  private async tags(ctx: FakeContext): Promise<void> {
    this.sendJson(ctx.res, 200, {
      models: this.models.map((name) => ({
        name,
        model: name,
        modified_at: '2025-01-01T00:00:00Z',
        size: 2_019_393_189,
        digest: fakeDigest(name),
        details: modelDetails(name),
      })),
    });
  }

  private async show(ctx: FakeContext): Promise<void> {
    const model = String(ctx.body?.model ?? ctx.body?.name ?? '');
    if (!this.models.includes(model) && !this.models.includes(`${model}:latest`)) {
      return this.sendError(ctx.res, 404, { message: `model '${model}' not found` });
    }
    const embed = /embed/.test(model);
    this.sendJson(ctx.res, 200, {
      modelfile: `FROM ${model}`,
      parameters: '',
      template: '{{ .Prompt }}',
      details: modelDetails(model),
      // As a real /api/show: architecture-prefixed keys (the model hub reads these two).
      model_info: {
        'general.architecture': modelDetails(model).family,
        'general.parameter_count': 3_212_749_888,
        [`${modelDetails(model).family}.context_length`]: 131_072,
      },
      capabilities: embed ? ['embedding'] : ['completion', 'tools'],
      modified_at: '2025-01-01T00:00:00Z',
    });
  }

  private async versionInfo(ctx: FakeContext): Promise<void> {
    this.sendJson(ctx.res, 200, { version: this.version });
  }

  private async root(ctx: FakeContext): Promise<void> {
    ctx.res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    ctx.res.end('Ollama is running');
  }
}

function ndjson(data: unknown): string {
  return `${JSON.stringify(data)}\n`;
}

function toolCalls(plan: ChatPlan): Record<string, unknown> {
  if (!plan.calls.length) return {};
  return {
    tool_calls: plan.calls.map((c, index) => ({
      id: c.id,
      function: { index, name: c.name, arguments: JSON.parse(c.args) as Record<string, unknown> },
    })),
  };
}

function doneFields(plan: ChatPlan) {
  return {
    done: true,
    done_reason: plan.stop === 'length' ? 'length' : 'stop',
    total_duration: 120_000_000,
    load_duration: 10_000_000,
    prompt_eval_count: plan.usage.prompt_tokens,
    prompt_eval_duration: 20_000_000,
    eval_count: plan.usage.completion_tokens,
    eval_duration: 90_000_000,
  };
}

function modelDetails(name: string) {
  return {
    parent_model: '',
    format: 'gguf',
    family: name.split(/[:.\d-]/)[0] || 'llama',
    families: [name.split(/[:.\d-]/)[0] || 'llama'],
    parameter_size: '3.2B',
    quantization_level: 'Q4_K_M',
  };
}

function fakeDigest(name: string): string {
  let h = 0;
  for (const ch of name) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  return h.toString(16).padStart(8, '0').repeat(8);
}

function defaultMessage(status: number): string {
  if (status === 429) return 'too many requests';
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not found';
  if (status === 503) return 'server busy, please try again.  maximum pending requests exceeded';
  return status >= 500 ? 'an error was encountered while running the model' : 'bad request';
}
