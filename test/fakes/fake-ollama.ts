import { createHash } from 'node:crypto';
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
 * - `POST /api/pull` (`pull`, unscripted): NDJSON as Ollama streams it — `pulling manifest`, one
 *   `pulling <12 hex>` line per layer with `digest`, `total` and (once > 0) `completed` advancing
 *   in `pull.steps` steps, `verifying sha256 digest`, `writing manifest`, `success`; the model then
 *   shows in `/api/tags`. Failures as Ollama sends them: HTTP 200 and an `{"error"}` line
 *   (an unknown model after `pulling manifest`; `pull.errorAfter` mid-stream), or a dropped
 *   connection (`pull.dropAfter`). `pull.lineDelayMs` paces the lines; `pulls` records each
 *   stream and how it ended (`client_closed` when the client hung up first).
 * - `DELETE /api/delete` (`delete`, unscripted): `{model}` → 200 with no body, 404
 *   `{"error":"model '<name>' not found"}` when absent.
 * Errors are `{"error":"..."}` with the HTTP status; unknown routes get a plain `404 page not found`.
 * With `requireKey`, `Authorization: Bearer <key>` is required (as on ollama.com).
 */
export class FakeOllama extends FakeLlmServer {
  protected readonly defaultEndpoints = ['chat', 'generate'];
  protected requestIdHeader: string | undefined = undefined;
  /** Reported by `GET /api/version`. */
  version = '0.12.6';
  /** Assignable per test: how `POST /api/pull` behaves (`reset()` restores the defaults). */
  pull: FakePullSwitches = defaultPullSwitches();
  /** Every `/api/pull` stream, in order. */
  readonly pulls: FakePullRecord[] = [];

  constructor(opts: FakeLlmOptions = {}) {
    super(opts, [
      'llama3.2:latest',
      'qwen3:8b',
      'nomic-embed-text:latest',
      'mxbai-embed-large:latest',
    ]);
  }

  /** Forgets queued behaviours, recorded requests and pulls; pull switches back to defaults. */
  reset(): void {
    super.reset();
    this.pulls.length = 0;
    this.pull = defaultPullSwitches();
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
        method: 'POST',
        path: '/api/pull',
        endpoint: 'pull',
        unscripted: true,
        handler: (c) => this.pullModel(c),
      },
      {
        method: 'DELETE',
        path: '/api/delete',
        endpoint: 'delete',
        unscripted: true,
        handler: (c) => this.deleteModel(c),
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

  /** Ollama's `name:tag` as `/api/tags` lists it (`library/` dropped, `latest` added). */
  static displayName(model: string): string {
    const withTag = /:[^/]+$/.test(model) ? model : `${model}:latest`;
    return withTag.replace(/^library\//i, '');
  }

  private async pullModel(ctx: FakeContext): Promise<void> {
    const { res } = ctx;
    const asked = String(ctx.body?.model ?? ctx.body?.name ?? '');
    if (!asked) return this.sendError(res, 400, { message: 'invalid model name' });
    const name = FakeOllama.displayName(asked);
    const sw = this.pull;
    const record: FakePullRecord = { model: name, lines: 0, outcome: 'running', closed: null! };
    let settle!: () => void;
    record.closed = new Promise<void>((r) => (settle = r));
    this.pulls.push(record);
    const end = (outcome: FakePullRecord['outcome']) => {
      if (record.outcome === 'running') record.outcome = outcome;
      settle();
    };
    res.on('close', () => end(res.writableFinished ? 'success' : 'client_closed'));
    // As Ollama: 200 and NDJSON from the first line on; every failure after it is a line.
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.flushHeaders();
    const lines: string[] = [ndjson({ status: 'pulling manifest' })];
    const missing = sw.missing.map((m) => FakeOllama.displayName(m)).includes(name);
    if (!missing) {
      for (const [i, size] of sw.layers.entries()) {
        const hex = createHash('sha256').update(`${name}#${i}`).digest('hex');
        const status = `pulling ${hex.slice(0, 12)}`;
        for (let step = 0; step <= sw.steps; step++) {
          const completed = Math.floor((size * step) / sw.steps);
          // Go's omitempty: `completed` is absent while 0.
          lines.push(
            ndjson({
              status,
              digest: `sha256:${hex}`,
              total: size,
              ...(completed > 0 ? { completed } : {}),
            }),
          );
        }
      }
      lines.push(
        ndjson({ status: 'verifying sha256 digest' }),
        ndjson({ status: 'writing manifest' }),
        ndjson({ status: 'success' }),
      );
    }
    for (const [i, line] of lines.entries()) {
      if (sw.errorAfter && i === sw.errorAfter.lines) {
        await this.write(res, ndjson({ error: sw.errorAfter.message }));
        res.end();
        return end('error');
      }
      if (sw.dropAfter !== undefined && i === sw.dropAfter) {
        await this.sleep(20, res);
        res.destroy();
        return end('dropped');
      }
      if (i > 0 && sw.lineDelayMs > 0 && !(await this.sleep(sw.lineDelayMs, res))) {
        return end('client_closed');
      }
      if (!(await this.write(res, line))) return end('client_closed');
      record.lines++;
    }
    if (missing) {
      await this.write(res, ndjson({ error: 'pull model manifest: file does not exist' }));
      res.end();
      return end('error');
    }
    if (!this.models.includes(name)) this.models.push(name);
    res.end();
    end('success');
  }

  private async deleteModel(ctx: FakeContext): Promise<void> {
    const asked = String(ctx.body?.model ?? ctx.body?.name ?? '');
    const name = FakeOllama.displayName(asked);
    const i = this.models.indexOf(name);
    if (!asked || i < 0) {
      return this.sendError(ctx.res, 404, { message: `model '${asked}' not found` });
    }
    this.models.splice(i, 1);
    ctx.res.writeHead(200, { 'content-length': '0' });
    ctx.res.end();
  }

  private async versionInfo(ctx: FakeContext): Promise<void> {
    this.sendJson(ctx.res, 200, { version: this.version });
  }

  private async root(ctx: FakeContext): Promise<void> {
    ctx.res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    ctx.res.end('Ollama is running');
  }
}

/** Switches of the fake's `POST /api/pull`. */
export interface FakePullSwitches {
  /** Layer sizes in bytes, in pull order (as Ollama: the weights first, then small layers). */
  layers: number[];
  /** Progress lines per layer after its first (`completed` advances size/steps each). */
  steps: number;
  /** Pause before every line after the first, ms. */
  lineDelayMs: number;
  /** Names the registry does not have: `pulling manifest`, then the manifest error (HTTP 200). */
  missing: string[];
  /** Replace line number `lines` (0-based) with `{"error": message}` and end the stream. */
  errorAfter?: { lines: number; message: string };
  /** Drop the connection instead of sending line number `dropAfter` (0-based). */
  dropAfter?: number;
}

export interface FakePullRecord {
  /** The name as listed (`name:tag`). */
  model: string;
  /** Lines written. */
  lines: number;
  outcome: 'running' | 'success' | 'error' | 'dropped' | 'client_closed';
  /** Settles when the stream is over, whoever ended it. */
  closed: Promise<void>;
}

function defaultPullSwitches(): FakePullSwitches {
  return {
    layers: [3_000_000, 1_500, 400, 96],
    steps: 6,
    lineDelayMs: 0,
    missing: [],
  };
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
