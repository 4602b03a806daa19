import { createHash, randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Shared machinery of the fake LLM providers (`FakeOpenAI`, `FakeAnthropic`, `FakeOllama`):
 * a node:http server on 127.0.0.1:0, request recording, a per-request script of behaviours,
 * delays / disconnects, and the deterministic text, token and embedding helpers.
 *
 * Each provider only decides how a behaviour looks on its own wire (JSON shape, SSE or NDJSON
 * frames, error format).
 */

/** Token counts a behaviour may force; otherwise they are word counts of prompt and answer. */
export interface FakeUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** One tool call the fake model makes. `id` defaults to a provider-style generated id. */
export interface FakeToolCallSpec {
  name: string;
  arguments: Record<string, unknown>;
  id?: string;
}

/**
 * What the fake does with one request. Queue with `fake.enqueue(behaviour)`; when nothing matching
 * is queued the fake answers `Echo: <last user message>` (chat) or hash embeddings (embeddings).
 */
export type FakeBehaviour =
  /** Answer `text`; streamed as `chunks` (default: ~3-character pieces). `text` defaults to `chunks.join('')`. */
  | {
      type: 'text';
      text?: string;
      chunks?: string[];
      usage?: FakeUsage;
      /** `length` = cut by max tokens (OpenAI `length`, Anthropic `max_tokens`, Ollama `length`). */
      stop_reason?: 'stop' | 'length';
      /** Pause between streamed frames (default: the fake's `chunkDelayMs`, 0). */
      chunk_delay_ms?: number;
    }
  /** The model calls one tool (optionally after some `text`). */
  | ({ type: 'tool_call'; text?: string; usage?: FakeUsage } & FakeToolCallSpec)
  /** The model calls several tools in one turn (parallel tool calls). */
  | { type: 'tool_calls'; calls: FakeToolCallSpec[]; text?: string; usage?: FakeUsage }
  /** Embedding endpoints only: return these vectors (one per input) instead of the hash vectors. */
  | { type: 'embeddings'; vectors: number[][] }
  /**
   * HTTP error in the provider's own error format. `body` (object = JSON, string = raw) replaces
   * the generated body; `retry_after` (seconds) sets the `retry-after` header.
   */
  | {
      type: 'error';
      status: number;
      message?: string;
      /** Provider error type: OpenAI `error.type`, Anthropic `error.type` (e.g. `overloaded_error`). */
      error_type?: string;
      /** OpenAI `error.code` (e.g. `rate_limit_exceeded`). */
      code?: string | null;
      body?: unknown;
      headers?: Record<string, string>;
      retry_after?: number;
    }
  /** Send the response headers at once, then nothing for `ms`, then behave as `then` (default: the default answer). */
  | { type: 'delay_first_token'; ms: number; then?: FakeBehaviour }
  /** Send nothing at all for `ms` (client sees no headers), then behave as `then` (default: the default answer). */
  | { type: 'delay_headers'; ms: number; then?: FakeBehaviour }
  /**
   * Stream the opening frames and `after_chunks` content chunks (text pieces / tool argument
   * pieces) of `text` (default: a fixed sentence, 3-char chunks), then destroy the socket; the
   * closing frames never arrive. Non-streaming requests get half a JSON body, then the drop.
   */
  | { type: 'disconnect_mid_stream'; after_chunks: number; text?: string }
  /**
   * Stream `after_chunks` content chunks (as above), then an in-band error (OpenAI `data: {"error":...}`,
   * Anthropic `event: error`, Ollama `{"error":"..."}` line) and end the response.
   * Non-streaming requests get the same error as an HTTP 500 (or `status`).
   */
  | {
      type: 'stream_error';
      after_chunks: number;
      message: string;
      error_type?: string;
      status?: number;
      text?: string;
    }
  /** Destroy the connection without any response (the client sees a socket error). */
  | { type: 'disconnect' }
  /** Answer exactly this (for malformed-response tests). */
  | { type: 'raw'; status?: number; headers?: Record<string, string>; body: string };

/** Which requests a queued behaviour applies to. */
export interface FakeMatch {
  /**
   * Endpoint kind(s): `chat`, `embeddings`, `models`, ... (see each fake), or `*` for any.
   * Default: the fake's generation endpoints (chat; Ollama also `generate`).
   */
  endpoint?: string | string[];
  /** Only requests for this model. */
  model?: string | RegExp;
  /** Any other condition on the recorded request. */
  when?: (req: FakeRecordedRequest) => boolean;
}

export interface FakeRecordedRequest {
  method: string;
  /** Path without the query string, as sent (e.g. `/v1/chat/completions`). */
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body; the raw text when it is not JSON; `undefined` when empty. */
  body: any;
  /** Endpoint kind this request was routed to (`chat`, `embeddings`, ...), `unknown` for 404s. */
  endpoint: string;
  /** Whether the client asked for a streamed answer. */
  stream: boolean;
}

export interface FakeLlmOptions {
  /** When set, requests must carry this API key (provider's own header); 401 otherwise. */
  requireKey?: string;
  /** Models listed by the model-list endpoints. */
  models?: string[];
  /** When true, requests for a model not in `models` get the provider's 404 "model not found". */
  strictModels?: boolean;
  /** Default embedding size when the request does not ask for `dimensions` (default 8). */
  embeddingDimensions?: number;
  /** Characters per default stream chunk (default 3). */
  chunkSize?: number;
  /** Pause between streamed frames in ms (default 0). */
  chunkDelayMs?: number;
}

/** The normalised answer a provider renders: text and/or tool calls plus usage. */
export interface ChatPlan {
  text: string;
  textChunks: string[];
  calls: Array<{ id: string; name: string; args: string; argChunks: string[] }>;
  usage: FakeUsage;
  stop: 'stop' | 'length' | 'tool_calls';
  chunkDelayMs: number;
}

/** One streamed frame; `content` frames are what `after_chunks` counts. */
export interface StreamFrame {
  data: string;
  content?: boolean;
}

export interface FakeContext {
  req: IncomingMessage;
  res: ServerResponse;
  rec: FakeRecordedRequest;
  body: any;
}

export interface FakeRoute {
  method: string;
  path: string | RegExp;
  endpoint: string;
  handler: (ctx: FakeContext, behaviour: FakeBehaviour, firstTokenDelayMs: number) => Promise<void>;
  /** Routes that never consume queued behaviours (model lists, version). */
  unscripted?: boolean;
}

interface Queued {
  behaviour: FakeBehaviour;
  match: FakeMatch;
}

/** Marker for "no behaviour scripted": each endpoint's built-in answer (echo / hash embeddings). */
export const BUILTIN_DEFAULT: FakeBehaviour = Object.freeze({ type: 'text' });

/** A default sentence for disconnect / stream_error behaviours without `text`. */
export const PARTIAL_TEXT = 'This answer is going to be cut off before it is complete.';

export abstract class FakeLlmServer {
  /** Every request, in order (including 401/404 ones). */
  readonly requests: FakeRecordedRequest[] = [];
  /** Assignable: when set, requests must carry this key; 401 in the provider's format otherwise. */
  requireKey: string | undefined;
  /** Assignable: models listed (and, with `strictModels`, the only ones accepted). */
  models: string[];
  strictModels: boolean;
  embeddingDimensions: number;
  chunkSize: number;
  chunkDelayMs: number;
  /**
   * Assignable: the behaviour when nothing queued matches; return `undefined` for the built-in
   * default (echo text / hash embeddings).
   */
  fallback: ((req: FakeRecordedRequest) => FakeBehaviour | undefined) | undefined;

  protected abstract readonly defaultEndpoints: string[];
  private readonly queue: Queued[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: (ok: boolean) => void }>();
  private server: Server | undefined;
  private baseUrl = '';
  private seq = 0;

  constructor(opts: FakeLlmOptions = {}, defaultModels: string[]) {
    this.requireKey = opts.requireKey;
    this.models = opts.models ?? defaultModels;
    this.strictModels = opts.strictModels ?? false;
    this.embeddingDimensions = opts.embeddingDimensions ?? 8;
    this.chunkSize = opts.chunkSize ?? 3;
    this.chunkDelayMs = opts.chunkDelayMs ?? 0;
  }

  /** Starts listening on 127.0.0.1 with an ephemeral port. */
  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (res.destroyed) return;
        if (!res.headersSent) this.sendError(res, 500, { message: `fake crashed: ${String(err)}` });
        else res.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** `http://127.0.0.1:<port>` (no trailing slash, no `/v1`). Empty before `start()`. */
  get url(): string {
    return this.baseUrl;
  }

  /** Stops the server: cancels pending delays and destroys open (keep-alive) sockets. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.resolve(false);
    }
    this.timers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Queues one-shot behaviours, consumed in order by the next matching requests. */
  enqueue(behaviour: FakeBehaviour | FakeBehaviour[], match: FakeMatch = {}): this {
    for (const b of Array.isArray(behaviour) ? behaviour : [behaviour]) {
      this.queue.push({ behaviour: b, match });
    }
    return this;
  }

  /** How many queued behaviours have not been consumed yet. */
  get pending(): number {
    return this.queue.length;
  }

  /** Forgets queued behaviours and recorded requests (options and `fallback` stay). */
  reset(): void {
    this.queue.length = 0;
    this.requests.length = 0;
  }

  /** Recorded requests to one endpoint kind (`chat`, `embeddings`, ...). */
  requestsTo(endpoint: string): FakeRecordedRequest[] {
    return this.requests.filter((r) => r.endpoint === endpoint);
  }

  /** The most recent request to an endpoint kind (default: the generation endpoints). */
  lastRequest(endpoint?: string): FakeRecordedRequest | undefined {
    const kinds = endpoint ? [endpoint] : this.defaultEndpoints;
    return [...this.requests].reverse().find((r) => kinds.includes(r.endpoint));
  }

  // ---- provider hooks -------------------------------------------------------------------------

  protected abstract routes(): FakeRoute[];
  /** Normalises the request path before routing (e.g. strip `/v1`). */
  protected routePath(path: string): string {
    return path;
  }
  /** Writes an HTTP error in the provider's format. */
  protected abstract sendError(
    res: ServerResponse,
    status: number,
    spec: {
      message?: string;
      error_type?: string;
      code?: string | null;
      headers?: Record<string, string>;
    },
  ): void;
  /** Sends the provider's 404 for an unknown route. */
  protected abstract sendNotFound(res: ServerResponse, method: string, path: string): void;
  /** Whether the request carries `requireKey` in the provider's auth header. */
  protected abstract hasValidKey(req: IncomingMessage): boolean;
  /** Sends the provider's 401. */
  protected abstract sendUnauthorized(res: ServerResponse, req: IncomingMessage): void;
  /** Whether the parsed body asks for streaming (provider default differs: Ollama streams by default). */
  protected abstract wantsStream(endpoint: string, body: any): boolean;
  /** Header name carrying the request id (`x-request-id` / `request-id`), or none. */
  protected requestIdHeader: string | undefined;

  // ---- helpers for providers --------------------------------------------------------------------

  /** Monotonic counter for ids. */
  protected nextSeq(): number {
    return ++this.seq;
  }

  /** Resolves after `ms`, or early with `false` when the fake closes or the client goes away. */
  protected sleep(ms: number, res?: ServerResponse): Promise<boolean> {
    if (ms <= 0) return Promise.resolve(!res?.destroyed);
    return new Promise<boolean>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          res?.off('close', onClose);
          resolve(!res?.destroyed);
        }, ms),
        resolve,
      };
      const onClose = () => {
        clearTimeout(entry.timer);
        this.timers.delete(entry);
        resolve(false);
      };
      res?.once('close', onClose);
      this.timers.add(entry);
    });
  }

  /** Splits `text` into `chunkSize`-character pieces (at least one piece, possibly empty). */
  protected splitText(text: string, size = this.chunkSize): string[] {
    const out: string[] = [];
    const chars = Array.from(text);
    for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
    return out.length ? out : [''];
  }

  /** Builds the normalised answer for `text` / `tool_call(s)` behaviours. */
  protected plan(
    b: Extract<FakeBehaviour, { type: 'text' | 'tool_call' | 'tool_calls' }>,
    promptTokens: number,
    makeId: () => string,
  ): ChatPlan {
    const chunkDelayMs = (b.type === 'text' ? b.chunk_delay_ms : undefined) ?? this.chunkDelayMs;
    if (b.type === 'text') {
      const text = b.text ?? b.chunks?.join('') ?? '';
      const textChunks = b.chunks ?? (text ? this.splitText(text) : []);
      return {
        text,
        textChunks,
        calls: [],
        usage: b.usage ?? { prompt_tokens: promptTokens, completion_tokens: countTokens(text) },
        stop: b.stop_reason ?? 'stop',
        chunkDelayMs,
      };
    }
    const specs = b.type === 'tool_call' ? [b] : b.calls;
    const text = b.text ?? '';
    const calls = specs.map((c) => {
      const args = JSON.stringify(c.arguments ?? {});
      return { id: c.id ?? makeId(), name: c.name, args, argChunks: this.splitText(args, 8) };
    });
    const completion =
      countTokens(text) +
      calls.reduce((n, c) => n + countTokens(`${c.name} ${c.args.replace(/[,:{}]/g, ' ')}`), 0);
    return {
      text,
      textChunks: text ? this.splitText(text) : [],
      calls,
      usage: b.usage ?? { prompt_tokens: promptTokens, completion_tokens: completion },
      stop: 'tool_calls',
      chunkDelayMs,
    };
  }

  /** The built-in chat answer: `Echo: <last user text>`. */
  protected echoBehaviour(lastUserText: string): FakeBehaviour {
    return { type: 'text', text: `Echo: ${lastUserText}` };
  }

  /** A `{type:'text'}` plan of `text` (for disconnect / stream_error behaviours). */
  protected partialPlan(text: string | undefined, promptTokens: number): ChatPlan {
    return this.plan({ type: 'text', text: text ?? PARTIAL_TEXT }, promptTokens, () => '');
  }

  /** Sends a JSON response (with the request id header). */
  protected sendJson(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (res.destroyed) return;
    const text = JSON.stringify(body);
    if (!res.headersSent) {
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        ...this.idHeaders(),
        ...headers,
      });
    }
    res.end(text);
  }

  /** Response headers every answer carries (request id). */
  protected idHeaders(): Record<string, string> {
    return this.requestIdHeader
      ? { [this.requestIdHeader]: `req_${randomBytes(12).toString('hex')}` }
      : {};
  }

  /** Writes a non-streamed body after an optional "first token" delay (headers flushed first). */
  protected async sendBody(
    ctx: FakeContext,
    body: unknown,
    firstTokenDelayMs: number,
  ): Promise<void> {
    if (firstTokenDelayMs > 0) {
      ctx.res.writeHead(200, { 'content-type': 'application/json', ...this.idHeaders() });
      ctx.res.flushHeaders();
      if (!(await this.sleep(firstTokenDelayMs, ctx.res))) return;
    }
    this.sendJson(ctx.res, 200, body);
  }

  /**
   * Streams frames: headers at once, `firstTokenDelayMs` before the first frame, `chunkDelayMs`
   * between frames. With `cut`, stops after `cut.after` content frames and then either destroys
   * the socket or writes `cut.errorFrames` and ends.
   */
  protected async streamFrames(
    ctx: FakeContext,
    contentType: string,
    frames: StreamFrame[],
    opts: {
      firstTokenDelayMs: number;
      chunkDelayMs: number;
      cut?: { after: number; errorFrames?: string[] };
    },
  ): Promise<void> {
    const { res } = ctx;
    res.writeHead(200, {
      'content-type': contentType,
      'cache-control': 'no-cache',
      ...this.idHeaders(),
    });
    res.flushHeaders();
    if (opts.firstTokenDelayMs > 0 && !(await this.sleep(opts.firstTokenDelayMs, res))) return;
    let content = 0;
    let first = true;
    // A cut stream never reaches its closing frames (finish reason, usage, [DONE], message_stop).
    const lastContent = frames.findLastIndex((f) => f.content);
    for (const frame of opts.cut ? frames.slice(0, lastContent + 1) : frames) {
      if (opts.cut && frame.content && content >= opts.cut.after) break;
      if (!first && opts.chunkDelayMs > 0 && !(await this.sleep(opts.chunkDelayMs, res))) return;
      first = false;
      if (!(await this.write(res, frame.data))) return;
      if (frame.content) content++;
    }
    if (opts.cut && !opts.cut.errorFrames) {
      // Let the written frames reach the client before the connection drops.
      await this.sleep(20, res);
      res.destroy();
      return;
    }
    for (const data of opts.cut?.errorFrames ?? []) if (!(await this.write(res, data))) return;
    res.end();
  }

  /** Writes and waits until the data is handed to the kernel; `false` when the client is gone. */
  protected write(res: ServerResponse, data: string): Promise<boolean> {
    if (res.destroyed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) =>
      res.write(data, (err) => resolve(!err && !res.destroyed)),
    );
  }

  /** Sends half of a JSON body, then drops the connection (non-streamed `disconnect_mid_stream`). */
  protected async sendTruncated(ctx: FakeContext, body: unknown): Promise<void> {
    const text = JSON.stringify(body);
    ctx.res.writeHead(200, { 'content-type': 'application/json', ...this.idHeaders() });
    await this.write(ctx.res, text.slice(0, Math.floor(text.length / 2)));
    await this.sleep(20, ctx.res);
    ctx.res.destroy();
  }

  /**
   * Runs a behaviour on a chat-like endpoint: the provider supplies how a plan looks as one JSON
   * body and as stream frames, and how an in-band stream error looks.
   */
  protected async runChat(
    ctx: FakeContext,
    behaviour: FakeBehaviour,
    firstTokenDelayMs: number,
    wire: {
      stream: boolean;
      contentType: string;
      promptTokens: number;
      lastUserText: string;
      makeToolId: () => string;
      json: (plan: ChatPlan) => unknown;
      frames: (plan: ChatPlan) => StreamFrame[];
      errorFrames: (message: string, errorType: string | undefined) => string[];
    },
  ): Promise<void> {
    const b = behaviour === BUILTIN_DEFAULT ? this.echoBehaviour(wire.lastUserText) : behaviour;
    switch (b.type) {
      case 'text':
      case 'tool_call':
      case 'tool_calls': {
        const plan = this.plan(b, wire.promptTokens, wire.makeToolId);
        if (!wire.stream) return this.sendBody(ctx, wire.json(plan), firstTokenDelayMs);
        return this.streamFrames(ctx, wire.contentType, wire.frames(plan), {
          firstTokenDelayMs,
          chunkDelayMs: plan.chunkDelayMs,
        });
      }
      case 'disconnect_mid_stream': {
        const plan = this.partialPlan(b.text, wire.promptTokens);
        if (!wire.stream) return this.sendTruncated(ctx, wire.json(plan));
        return this.streamFrames(ctx, wire.contentType, wire.frames(plan), {
          firstTokenDelayMs,
          chunkDelayMs: plan.chunkDelayMs,
          cut: { after: b.after_chunks },
        });
      }
      case 'stream_error': {
        if (!wire.stream) {
          if (firstTokenDelayMs > 0 && !(await this.sleep(firstTokenDelayMs, ctx.res))) return;
          return this.sendError(ctx.res, b.status ?? 500, {
            message: b.message,
            error_type: b.error_type,
          });
        }
        const plan = this.partialPlan(b.text, wire.promptTokens);
        return this.streamFrames(ctx, wire.contentType, wire.frames(plan), {
          firstTokenDelayMs,
          chunkDelayMs: plan.chunkDelayMs,
          cut: { after: b.after_chunks, errorFrames: wire.errorFrames(b.message, b.error_type) },
        });
      }
      default:
        return this.sendError(ctx.res, 500, {
          message: `fake: behaviour '${b.type}' is not valid for ${ctx.rec.method} ${ctx.rec.path}`,
        });
    }
  }

  /** Vectors for an embeddings request: scripted `embeddings` vectors or the hash vectors. */
  protected embeddingVectors(
    ctx: FakeContext,
    behaviour: FakeBehaviour,
    inputs: string[],
    dims: number,
  ): number[][] | null {
    if (behaviour.type === 'embeddings') return behaviour.vectors;
    if (behaviour !== BUILTIN_DEFAULT) {
      this.sendError(ctx.res, 500, {
        message: `fake: behaviour '${behaviour.type}' is not valid for ${ctx.rec.method} ${ctx.rec.path}`,
      });
      return null;
    }
    return inputs.map((t) => fakeEmbedding(t, dims));
  }

  /** Whether the model is acceptable under `strictModels`. */
  protected modelKnown(model: unknown): boolean {
    if (!this.strictModels) return true;
    const m = String(model);
    return this.models.includes(m) || this.models.includes(`${m}:latest`);
  }

  // ---- request pipeline -------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const raw = await readBody(req);
    let body: any = undefined;
    let bodyIsJson = true;
    if (raw.length) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
        bodyIsJson = false;
      }
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const path = this.routePath(url.pathname);
    const route = this.routes().find(
      (r) =>
        (r.method === method || (r.method === 'GET' && method === 'HEAD')) &&
        (typeof r.path === 'string' ? r.path === path : r.path.test(path)),
    );
    const rec: FakeRecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
      endpoint: route?.endpoint ?? 'unknown',
      stream: route ? this.wantsStream(route.endpoint, body) : false,
    };
    this.requests.push(rec);

    if (this.requireKey !== undefined && !this.hasValidKey(req))
      return this.sendUnauthorized(res, req);
    if (!route) return this.sendNotFound(res, method, url.pathname);
    if (!bodyIsJson) {
      return this.sendError(res, 400, {
        message: 'Invalid JSON in request body',
        error_type: 'invalid_request_error',
      });
    }

    const ctx: FakeContext = { req, res, rec, body };
    const behaviour = route.unscripted ? BUILTIN_DEFAULT : this.take(rec);
    let inner = behaviour;
    let firstTokenDelayMs = 0;
    for (;;) {
      if (inner.type === 'delay_headers') {
        if (!(await this.sleep(inner.ms, res))) return;
        inner = inner.then ?? BUILTIN_DEFAULT;
      } else if (inner.type === 'delay_first_token') {
        firstTokenDelayMs += inner.ms;
        inner = inner.then ?? BUILTIN_DEFAULT;
      } else break;
    }
    switch (inner.type) {
      case 'error': {
        const headers = { ...(inner.headers ?? {}) };
        if (inner.retry_after !== undefined) headers['retry-after'] = String(inner.retry_after);
        if (firstTokenDelayMs > 0 && !(await this.sleep(firstTokenDelayMs, res))) return;
        if (inner.body !== undefined) {
          const text = typeof inner.body === 'string' ? inner.body : JSON.stringify(inner.body);
          res.writeHead(inner.status, {
            'content-type': typeof inner.body === 'string' ? 'text/plain' : 'application/json',
            ...this.idHeaders(),
            ...headers,
          });
          res.end(text);
          return;
        }
        return this.sendError(res, inner.status, { ...inner, headers });
      }
      case 'raw':
        if (firstTokenDelayMs > 0 && !(await this.sleep(firstTokenDelayMs, res))) return;
        res.writeHead(inner.status ?? 200, inner.headers ?? {});
        res.end(inner.body);
        return;
      case 'disconnect':
        req.socket.destroy();
        return;
      default:
        return route.handler(ctx, inner, firstTokenDelayMs);
    }
  }

  private take(rec: FakeRecordedRequest): FakeBehaviour {
    const idx = this.queue.findIndex(({ match }) => this.matches(match, rec));
    if (idx >= 0) return this.queue.splice(idx, 1)[0].behaviour;
    return this.fallback?.(rec) ?? BUILTIN_DEFAULT;
  }

  private matches(match: FakeMatch, rec: FakeRecordedRequest): boolean {
    const kinds = match.endpoint === undefined ? this.defaultEndpoints : [match.endpoint].flat();
    if (!kinds.includes('*') && !kinds.includes(rec.endpoint)) return false;
    if (match.model !== undefined) {
      const model = String(rec.body?.model ?? '');
      if (typeof match.model === 'string' ? match.model !== model : !match.model.test(model))
        return false;
    }
    return match.when ? match.when(rec) : true;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// ---- deterministic text helpers -----------------------------------------------------------------

/** "Tokens" = whitespace-separated words. */
export function countTokens(text: string): number {
  return (text.match(/\S+/g) ?? []).length;
}

/** Plain text of a message `content` in any provider shape (string, text parts, tool results). */
export function contentText(content: unknown): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map(contentText).filter(Boolean).join(' ');
  if (typeof content === 'object') {
    const part = content as Record<string, unknown>;
    if (typeof part.text === 'string') return part.text;
    if (part.type === 'tool_result') return contentText(part.content);
  }
  return '';
}

/** Word count of every message (and `extra` text, e.g. a system prompt); at least 1. */
export function promptTokens(messages: unknown, extra?: unknown): number {
  const list = Array.isArray(messages) ? (messages as Array<{ content?: unknown }>) : [];
  const n = list.reduce(
    (sum, m) => sum + countTokens(contentText(m?.content)),
    countTokens(contentText(extra)),
  );
  return Math.max(1, n);
}

/** Text of the last `user` message (empty when none). */
export function lastUserText(messages: unknown): string {
  const list = Array.isArray(messages)
    ? (messages as Array<{ role?: string; content?: unknown }>)
    : [];
  for (let i = list.length - 1; i >= 0; i--)
    if (list[i]?.role === 'user') return contentText(list[i].content);
  return '';
}

// ---- deterministic embeddings -------------------------------------------------------------------

/**
 * A deterministic unit vector for `text`: the normalised sum of hash-seeded random vectors of its
 * lower-cased words (bag of words), so equal texts embed equally and texts sharing words are more
 * similar. Components are float32-exact, so JSON floats and base64 float32 decode to the same numbers.
 */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  const dims = Math.max(1, Math.floor(dimensions));
  const v = new Array<number>(dims).fill(0);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [text];
  for (const word of words) {
    const rand = mulberry32(createHash('sha256').update(word).digest().readUInt32LE(0));
    for (let i = 0; i < dims; i++) v[i] += rand() * 2 - 1;
  }
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  if (!norm) return v.map((_, i) => (i === 0 ? 1 : 0));
  return v.map((x) => Math.fround(x / norm));
}

/** Little-endian float32 bytes, base64 (OpenAI `encoding_format: 'base64'`). */
export function float32Base64(vector: number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}

/** Cosine similarity (for tests over fake embeddings). */
export function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Unix seconds now. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
