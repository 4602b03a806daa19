import { isUuid, NotFoundError, safeError, ValidateError } from '@app/common';
import { Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AgentTasks } from '../agent/agent-tasks.service';
import type { Round } from '../agent/chat-memory';
import { ServiceChatService, type ServiceTurn } from '../service-api/service-chat.service';

/** Bounds of a `/v1/chat/completions` body. */
export const CHAT_COMPLETION_LIMITS = {
  maxMessages: 200,
  /** The query (the last user message), as the other chat surfaces. */
  maxQueryChars: 10_000,
  /** Every message's text together. */
  maxTotalChars: 400_000,
  maxUserChars: 256,
  /** Images of the last user message (`image_url` parts), as the other chat surfaces take. */
  maxImages: 5,
  maxImageUrlChars: 2048,
};

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

export interface ChatCompletionRequest {
  model: string;
  query: string;
  history: Round[];
  stream: boolean;
  includeUsage: boolean;
  user?: string;
  /** http(s) URLs of the last user message's `image_url` parts. */
  imageUrls: string[];
}

/** An OpenAI error object (`{error: {...}}`) with its HTTP status. */
export class OpenAiErrorResponse extends Error {
  constructor(
    readonly status: number,
    readonly body: { message: string; type: string; param: string | null; code: string | null },
  ) {
    super(body.message);
  }
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/**
 * `/v1/chat/completions` on a published app (`model` = the app id): the app's own PUBLISHED
 * config answers (its prompt, model, tools, datasets, review); the request's model parameters are
 * not used. History: the earlier user/assistant pairs of `messages` are the turn's memory (cut to
 * the app's dialog_round and the model's context window, as stored rounds are); system/developer
 * and tool messages are not sent (the app's preset prompt is the system prompt). Each call is a
 * new `service_api` conversation of an end user: `user`, when it is the id of an end user of this
 * app (an `X-End-User-Id` header of an earlier answer), else a new end user. The end user,
 * conversation and message ids are answered in `X-End-User-Id`, `X-Conversation-Id` and
 * `X-Message-Id`.
 */
@Injectable()
export class OpenAiChatService {
  private readonly logger = new Logger('OpenAiChat');

  constructor(
    private readonly chats: ServiceChatService,
    private readonly tasks: AgentTasks,
  ) {}

  /** Checks the body (OpenAI's 400 with `param`); the app is checked by `prepare`. */
  check(body: unknown): ChatCompletionRequest {
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const fail = (field: string, message: string): never => {
      throw new ValidateError({ [field]: [message] }, message);
    };
    if (typeof b.model !== 'string' || !b.model.trim()) fail('model', 'model is required');
    if (!Array.isArray(b.messages)) fail('messages', 'messages must be an array');
    const messages = b.messages as unknown[];
    if (!messages.length) fail('messages', 'messages must not be empty');
    if (messages.length > CHAT_COMPLETION_LIMITS.maxMessages)
      fail('messages', `messages takes at most ${CHAT_COMPLETION_LIMITS.maxMessages} messages`);
    let total = 0;
    const parsed = messages.map((m, i) => {
      if (!m || typeof m !== 'object' || Array.isArray(m))
        fail('messages', `messages[${i}] must be an object`);
      const msg = m as Record<string, unknown>;
      if (typeof msg.role !== 'string' || !ROLES.has(msg.role))
        fail('messages', `messages[${i}].role must be one of ${[...ROLES].join(', ')}`);
      const { text, images } = contentOf(msg.content, msg.role as string, i, fail);
      total += text.length;
      return { role: msg.role as string, text, images };
    });
    if (total > CHAT_COMPLETION_LIMITS.maxTotalChars)
      fail(
        'messages',
        `messages hold more than ${CHAT_COMPLETION_LIMITS.maxTotalChars} characters`,
      );
    const last = parsed[parsed.length - 1];
    if (last.role !== 'user') fail('messages', 'the last message must be a user message');
    const query = last.text.trim();
    if (!query) fail('messages', 'the last user message must have text');
    if (last.images.length > CHAT_COMPLETION_LIMITS.maxImages)
      fail(
        'messages',
        `the last user message holds more than ${CHAT_COMPLETION_LIMITS.maxImages} images`,
      );
    if (query.length > CHAT_COMPLETION_LIMITS.maxQueryChars)
      fail(
        'messages',
        `the last user message is longer than ${CHAT_COMPLETION_LIMITS.maxQueryChars} characters`,
      );
    if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean')
      fail('stream', 'stream must be a boolean');
    const opts = b.stream_options;
    if (opts !== undefined && opts !== null && (typeof opts !== 'object' || Array.isArray(opts)))
      fail('stream_options', 'stream_options must be an object');
    const includeUsage = (opts as { include_usage?: unknown } | null | undefined)?.include_usage;
    if (includeUsage !== undefined && typeof includeUsage !== 'boolean')
      fail('stream_options', 'stream_options.include_usage must be a boolean');
    if (b.n !== undefined && b.n !== null && b.n !== 1) fail('n', 'n must be 1');
    // The app answers in its own way: a client that requires a tool call or a JSON shape would
    // get plain text and fail later; it is told now. `auto`/`none` and plain tools are ignored.
    const choice = b.tool_choice;
    if (choice === 'required' || (choice && typeof choice === 'object'))
      fail(
        'tool_choice',
        'tool_choice cannot require a tool: the app decides its own tool calls (use "auto" or leave it out)',
      );
    const format = (b.response_format as { type?: unknown } | null | undefined)?.type;
    if (format !== undefined && format !== null && format !== 'text')
      fail(
        'response_format',
        `response_format ${typeof format === 'string' ? format : JSON.stringify(format)} is not supported: the app answers in text (its prompt may ask for JSON)`,
      );
    if (b.user !== undefined && b.user !== null) {
      if (typeof b.user !== 'string') fail('user', 'user must be a string');
      if ((b.user as string).length > CHAT_COMPLETION_LIMITS.maxUserChars)
        fail('user', `user is longer than ${CHAT_COMPLETION_LIMITS.maxUserChars} characters`);
    }
    return {
      model: (b.model as string).trim(),
      query,
      history: rounds(parsed.slice(0, -1)),
      stream: b.stream === true,
      includeUsage: includeUsage === true,
      imageUrls: last.images,
      ...(typeof b.user === 'string' && b.user ? { user: b.user } : {}),
    };
  }

  /** The app, end user and conversation; an unknown or unpublished app is `model_not_found`. */
  async prepare(accountId: string, r: ChatCompletionRequest): Promise<ServiceTurn> {
    if (!isUuid(r.model)) throw modelNotFound(r.model);
    try {
      return await this.chats.prepare(accountId, {
        appId: r.model,
        // `user` is an end user of this app when it is one; any other value starts a new one.
        endUserId: r.user && isUuid(r.user) ? r.user : undefined,
        newEndUserIfUnknown: true,
        query: r.query,
        history: r.history,
        imageUrls: r.imageUrls,
        usageSource: 'app.service_api',
      });
    } catch (err) {
      if (err instanceof NotFoundError) throw modelNotFound(r.model);
      throw err;
    }
  }

  /** The whole answer as a `chat.completion`. */
  async complete(t: ServiceTurn, r: ChatCompletionRequest, res: Response): Promise<void> {
    setIdHeaders(res, t);
    const stopWatching = this.stopOnDisconnect(t, res);
    const c = await this.chats.collect(t).finally(stopWatching);
    const closing = c.frames.at(-1)?.data;
    if (c.result.status === 'error' || c.result.status === 'timeout') {
      // A turn is not idempotent (tools ran, tokens were spent): the SDKs must not run it again,
      // as they otherwise do for any 5xx.
      res.setHeader('x-should-retry', 'false');
      throw upstreamError(c.result.status, closing?.observation);
    }
    res.status(200).json({
      id: completionId(t),
      object: 'chat.completion',
      created: nowSeconds(),
      model: r.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: c.result.answer, refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: usageOf(closing),
    });
  }

  /**
   * `chat.completion.chunk`s as SSE: the role chunk first, a content delta per answer delta
   * (tool steps are not content), a finish chunk (`stop`), with `stream_options.include_usage`
   * a usage chunk (`choices: []`), then `data: [DONE]`. A run that fails or times out after the
   * stream opened ends with `data: {"error": {...}}` (the SDKs throw it) and no [DONE].
   */
  async stream(
    t: ServiceTurn,
    r: ChatCompletionRequest,
    req: Request,
    res: Response,
  ): Promise<void> {
    setIdHeaders(res, t);
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    req.socket?.setNoDelay?.(true);
    const id = completionId(t);
    const created = nowSeconds();
    const write = (data: unknown) => {
      if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(data)}\n\n`);
    };
    const chunk = (delta: Record<string, unknown>, finish: string | null, extra = {}) =>
      write({
        id,
        object: 'chat.completion.chunk',
        created,
        model: r.model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...(r.includeUsage ? { usage: null } : {}),
        ...extra,
      });
    // A comment line keeps idle proxies from closing a long tool step (OpenAI SDKs ignore it).
    const keepAlive = setInterval(() => {
      if (!res.writableEnded) res.write(': ping\n\n');
    }, 10_000);
    keepAlive.unref();
    chunk({ role: 'assistant', content: '' }, null);
    const stopWatching = this.stopOnDisconnect(t, res);
    try {
      const c = await this.chats.collect(t, (event, data) => {
        if (event === 'agent_message' && data.thought) chunk({ content: data.thought }, null);
      });
      const closing = c.frames.at(-1)?.data;
      if (c.result.status === 'error' || c.result.status === 'timeout') {
        const e = upstreamError(c.result.status, closing?.observation);
        write({ error: e.body });
      } else {
        chunk({}, 'stop');
        if (r.includeUsage)
          write({
            id,
            object: 'chat.completion.chunk',
            created,
            model: r.model,
            choices: [],
            usage: usageOf(closing),
          });
        res.write('data: [DONE]\n\n');
      }
    } catch (err) {
      this.logger.warn(
        { err: safeError(err), task: t.turn.taskId },
        'Chat completion stream failed',
      );
      write({
        error: { message: 'The answer failed', type: 'server_error', param: null, code: null },
      });
    } finally {
      stopWatching();
      clearInterval(keepAlive);
      if (!res.writableEnded) res.end();
    }
  }

  /**
   * A client that goes away (a `break` out of the stream, an SDK timeout before its retry) stops
   * the turn, as leaving an OpenAI stream does: nobody reads the rest, and a retry would run
   * beside it. What was answered is stored with status `stop`. Returns the unwatch function.
   */
  private stopOnDisconnect(t: ServiceTurn, res: Response): () => void {
    const onClose = () => {
      if (res.writableFinished) return;
      void this.tasks
        .stop(t.turn.spec.taskOwner ?? t.turn.spec.accountId, t.turn.taskId)
        .catch((err: unknown) => this.logger.warn({ err: safeError(err) }, 'Stop failed'));
    };
    res.on('close', onClose);
    return () => res.off('close', onClose);
  }
}

/**
 * The text of a message's content (a string, or text parts; assistant content may be null), and
 * the http(s) URLs of a user message's `image_url` parts (only the last message's are used: the
 * turn's memory is text).
 */
function contentOf(
  content: unknown,
  role: string,
  i: number,
  fail: (field: string, message: string) => never,
): { text: string; images: string[] } {
  if (typeof content === 'string') return { text: content, images: [] };
  if ((content === null || content === undefined) && role === 'assistant')
    return { text: '', images: [] };
  if (!Array.isArray(content))
    return fail('messages', `messages[${i}].content must be a string or an array of parts`);
  const texts: string[] = [];
  const images: string[] = [];
  content.forEach((p: unknown, j) => {
    const part = p as { type?: unknown; text?: unknown; image_url?: unknown } | null;
    if (part?.type === 'text' && typeof part.text === 'string') return void texts.push(part.text);
    if (part?.type === 'image_url' && role === 'user') {
      const url = (part.image_url as { url?: unknown } | null)?.url;
      if (typeof url !== 'string' || !isHttpUrl(url))
        fail(
          'messages',
          `messages[${i}].content[${j}].image_url.url must be an http(s) URL of at most ${CHAT_COMPLETION_LIMITS.maxImageUrlChars} characters (data: URLs are not accepted)`,
        );
      return void images.push(url);
    }
    fail(
      'messages',
      `messages[${i}].content[${j}] must be a text part ({type: "text", text})${role === 'user' ? ' or an image_url part' : ''}`,
    );
  });
  return { text: texts.join(''), images };
}

function isHttpUrl(v: string): boolean {
  if (v.length > CHAT_COMPLETION_LIMITS.maxImageUrlChars || !URL.canParse(v)) return false;
  const { protocol } = new URL(v);
  return protocol === 'http:' || protocol === 'https:';
}

/** Earlier user/assistant messages as rounds (a user message and the assistant's answer to it). */
function rounds(messages: Array<{ role: string; text: string }>): Round[] {
  const out: Round[] = [];
  let query: string | null = null;
  for (const m of messages) {
    if (m.role === 'user') query = query === null ? m.text : `${query}\n${m.text}`;
    else if (m.role === 'assistant' && query !== null && m.text) {
      out.push({ query, answer: m.text });
      query = null;
    }
  }
  return out;
}

function modelNotFound(model: string): OpenAiErrorResponse {
  return new OpenAiErrorResponse(404, {
    message: `The model \`${model}\` does not exist or you do not have access to it (model = the id of a published app of this key's account, see GET /v1/models).`,
    type: 'invalid_request_error',
    param: 'model',
    code: 'model_not_found',
  });
}

function upstreamError(status: string, observation: string | undefined): OpenAiErrorResponse {
  return status === 'timeout'
    ? new OpenAiErrorResponse(504, {
        message: 'The agent run timed out',
        type: 'server_error',
        param: null,
        code: 'timeout',
      })
    : new OpenAiErrorResponse(500, {
        message: observation || 'The agent run failed',
        type: 'server_error',
        param: null,
        code: null,
      });
}

function usageOf(
  closing: { message_token_count?: number; answer_token_count?: number } | undefined,
): Usage {
  const prompt = closing?.message_token_count ?? 0;
  const completion = closing?.answer_token_count ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
}

function completionId(t: ServiceTurn): string {
  return `chatcmpl-${t.turn.message.id}`;
}

function setIdHeaders(res: Response, t: ServiceTurn): void {
  res.setHeader('X-End-User-Id', t.endUserId);
  res.setHeader('X-Conversation-Id', t.turn.spec.conversation.id);
  res.setHeader('X-Message-Id', t.turn.message.id);
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
