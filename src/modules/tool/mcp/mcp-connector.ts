import { lazyRequire, safeError } from '@app/common';
import { AppConfig } from '@app/config';
import {
  createGuardedAgent,
  createPolicyFetch,
  findOutboundError,
  OutboundRequestError,
  sanitizeReason,
  SsrfPolicy,
} from '@app/http';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Agent } from 'undici';
import { capBody, watchAnswer } from './mcp-fetch';

// The MCP SDK (and zod schemas under it) loads with the first MCP operation, not at boot.
const mcpClient = lazyRequire<typeof import('@modelcontextprotocol/sdk/client/index.js')>(
  '@modelcontextprotocol/sdk/client/index.js',
);
const mcpSse = lazyRequire<typeof import('@modelcontextprotocol/sdk/client/sse.js')>(
  '@modelcontextprotocol/sdk/client/sse.js',
);
const mcpHttp = lazyRequire<typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js')>(
  '@modelcontextprotocol/sdk/client/streamableHttp.js',
);
const mcpTypes = lazyRequire<typeof import('@modelcontextprotocol/sdk/types.js')>(
  '@modelcontextprotocol/sdk/types.js',
);

export const MCP_TRANSPORTS = ['streamable_http', 'sse'] as const;
export type McpTransportKind = (typeof MCP_TRANSPORTS)[number];

/** Where and how to reach one server. */
export interface McpEndpoint {
  url: string;
  /** Undefined: try Streamable HTTP, fall back to SSE (create, update, refresh). */
  transport?: McpTransportKind;
  headers: Record<string, string>;
}

export interface McpListedTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  annotations: Record<string, unknown>;
}

export interface McpListing {
  transport: McpTransportKind;
  tools: McpListedTool[];
  /** The server's `instructions`, or its name: the provider's default description. */
  about: string;
}

/** A failure worded for a user: no upstream bodies, no secrets. */
export class McpConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'McpConnectionError';
  }
}

/** More than this many tools is refused rather than cut silently. */
export const MAX_MCP_TOOLS = 200;
/**
 * Pages of tools/list followed before giving up on a cursor that never ends: a page with a tool
 * in it meets the tool cap first, so only a server sending empty pages meets this one.
 */
const MAX_LIST_PAGES = MAX_MCP_TOOLS + 1;
const FALLBACK_STATUSES = new Set([400, 404, 405]);
const CLIENT_INFO = { name: 'llmops', version: '1.0.0' };

interface Session {
  client: Client;
  transport: McpTransportKind;
  /** Rejects when the transport reports a broken stream, so a dropped server fails at once. */
  broken: Promise<never>;
  close(): Promise<void>;
}

/**
 * Talks to remote MCP servers with the SDK's Client. One connection per operation: connect,
 * list or call, close. A pool would save one initialize round trip per call, but per-operation
 * sessions hold no sockets or server sessions between requests (or across api/worker
 * processes), check the SSRF guard at every connection, and need no liveness tracking: a server
 * that dropped or restarted (losing its sessions) just works on the next call.
 * Every request, stream and redirect hop goes through `createPolicyFetch` with the SSRF guard;
 * bodies are capped at OUTBOUND_MAX_RESPONSE_BYTES and nothing is retried (tool calls are not
 * idempotent).
 */
@Injectable()
export class McpConnector implements OnApplicationShutdown {
  private readonly logger = new Logger('McpConnector');
  private readonly policy: SsrfPolicy;
  private readonly agent: Agent;

  constructor(private readonly config: AppConfig) {
    this.policy = new SsrfPolicy(config.env.OUTBOUND_ALLOW_HOSTS);
    this.agent = createGuardedAgent(this.policy);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }

  private get timeoutMs(): number {
    return this.config.env.TOOL_TIMEOUT_MS;
  }

  /** Null when the URL may be used (http(s), no credentials, host allowed); else why not. */
  urlProblem(value: string): string | null {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return 'url must be a valid URL';
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'url must be an http(s) URL';
    if (url.username || url.password) return 'url must not contain credentials; use headers';
    try {
      this.policy.assertHostAllowed(url.hostname);
    } catch (err) {
      return (err as Error).message;
    }
    return null;
  }

  /** Connects (detecting the transport unless given), lists every tool, disconnects. */
  async list(endpoint: McpEndpoint, signal?: AbortSignal): Promise<McpListing> {
    const deadline = AbortSignal.timeout(this.timeoutMs * 2);
    const all = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const session = await this.open(endpoint, all);
    try {
      const tools: McpListedTool[] = [];
      let cursor: string | undefined;
      for (let page = 0; ; page++) {
        if (page >= MAX_LIST_PAGES)
          throw new McpConnectionError(
            `The MCP server's tool list did not end after ${MAX_LIST_PAGES} pages`,
          );
        const res = await Promise.race([
          session.client.listTools(cursor ? { cursor } : {}, {
            timeout: this.timeoutMs,
            signal: all,
          }),
          session.broken,
        ]);
        for (const t of res.tools) {
          tools.push({
            name: t.name,
            description: t.description ?? t.title ?? '',
            inputSchema: t.inputSchema,
            annotations: t.annotations ?? {},
          });
        }
        if (tools.length > MAX_MCP_TOOLS)
          throw new McpConnectionError(
            `The MCP server offers more than ${MAX_MCP_TOOLS} tools; at most ${MAX_MCP_TOOLS} are supported`,
          );
        cursor = res.nextCursor;
        if (!cursor) break;
      }
      const info = session.client.getServerVersion();
      const about = session.client.getInstructions() ?? info?.title ?? info?.name ?? '';
      return { transport: session.transport, tools, about: sanitizeReason(about, 500) };
    } catch (err) {
      throw this.describe(err, endpoint.url, deadline.aborted);
    } finally {
      await session.close();
    }
  }

  /** Connects with the stored transport, calls one tool, disconnects. */
  async call(
    endpoint: McpEndpoint,
    name: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<CallToolResult> {
    const session = await this.open(endpoint, signal);
    try {
      const result = await Promise.race([
        session.client.callTool({ name, arguments: args }, undefined, {
          timeout: this.timeoutMs,
          signal,
        }),
        session.broken,
      ]);
      return result as CallToolResult;
    } catch (err) {
      throw this.describe(err, endpoint.url, false);
    } finally {
      await session.close();
    }
  }

  private async open(endpoint: McpEndpoint, signal: AbortSignal): Promise<Session> {
    const url = new URL(endpoint.url);
    if (endpoint.transport !== 'sse') {
      try {
        return await this.connect(url, 'streamable_http', endpoint.headers, signal);
      } catch (err) {
        // The spec's backwards compatibility: a 4xx to the initialize POST means an old server.
        const status = err instanceof mcpHttp().StreamableHTTPError ? err.code : undefined;
        if (endpoint.transport || status === undefined || !FALLBACK_STATUSES.has(status))
          throw this.describe(err, endpoint.url, false);
      }
    }
    try {
      return await this.connect(url, 'sse', endpoint.headers, signal);
    } catch (err) {
      throw this.describe(err, endpoint.url, false);
    }
  }

  private async connect(
    url: URL,
    kind: McpTransportKind,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<Session> {
    let fail: (err: Error) => void = () => undefined;
    const broken = new Promise<never>((_, reject) => (fail = reject));
    broken.catch(() => undefined);
    const closed = () =>
      fail(new (mcpTypes().McpError)(mcpTypes().ErrorCode.ConnectionClosed, 'Connection closed'));
    // EventSource keeps only the text of a fetch error (and not even its cause under some
    // runtimes): the error itself is kept here so a refused connection can say so.
    let fetchError: unknown;
    // A body over the cap reaches the SDK's stream reader, which reports only its text.
    let tooLarge: OutboundRequestError | undefined;
    const explain = (err: unknown): unknown =>
      tooLarge ??
      (err instanceof mcpSse().SseError && err.code === undefined && fetchError ? fetchError : err);
    const guarded = this.fetchFor(Object.keys(headers), closed, (err) => {
      tooLarge = err;
      fail(err);
    });
    const fetch: typeof guarded = (input, init) =>
      guarded(input, init).catch((err: unknown) => {
        fetchError = err;
        throw err;
      });
    const options = { fetch, requestInit: { headers }, redirectPolicy: 'follow' as const };
    const transport: Transport =
      kind === 'sse'
        ? new (mcpSse().SSEClientTransport)(url, { ...options, eventSourceInit: { fetch } })
        : new (mcpHttp().StreamableHTTPClientTransport)(url, {
            ...options,
            // Our sessions last one call: a dropped stream is an error, not something to resume.
            reconnectionOptions: {
              maxRetries: 0,
              initialReconnectionDelay: 1000,
              maxReconnectionDelay: 1000,
              reconnectionDelayGrowFactor: 1,
            },
          });
    const client = new (mcpClient().Client)(CLIENT_INFO, { capabilities: {} });
    let connected = false;
    client.onerror = (err) => {
      // Before connect resolves, connect itself rejects; after, a stream that drops (SSE's
      // event stream, or Streamable HTTP's response stream) would leave the request waiting.
      if (!connected) return;
      if (kind === 'sse' || /stream disconnected/i.test(err.message)) fail(err);
    };
    try {
      // Raced with `broken`: a server that drops while answering initialize fails at once.
      await Promise.race([client.connect(transport, { timeout: this.timeoutMs, signal }), broken]);
    } catch (err) {
      await client.close().catch(() => undefined);
      throw explain(err);
    }
    connected = true;
    // Not before: a failed connect closes the client, and that failure must win the race.
    client.onclose = closed;
    const close = async (): Promise<void> => {
      client.onclose = undefined;
      client.onerror = undefined;
      if (transport instanceof mcpHttp().StreamableHTTPClientTransport && transport.sessionId) {
        // Ends the server's session (a DELETE); bounded, best effort: servers may answer 405.
        await Promise.race([
          transport.terminateSession().catch(() => undefined),
          new Promise((r) => setTimeout(r, 1000).unref()),
        ]);
      }
      await client.close().catch(() => undefined);
    };
    const explained = broken.catch((e: unknown) => Promise.reject(explain(e) as Error));
    explained.catch(() => undefined);
    return { client, transport: kind, broken: explained, close };
  }

  /** Our fetch: the SSRF guard on every hop, no retries, a time backstop and a size cap. */
  private fetchFor(
    headerNames: string[],
    onUnanswered: () => void,
    onTooLarge: (err: OutboundRequestError) => void,
  ): typeof fetch {
    const inner = createPolicyFetch({
      guard: { policy: this.policy, dispatcher: this.agent },
      maxRetries: 0,
      // A backstop only: the session's streams live through connect and the call, each of
      // which has its own TOOL_TIMEOUT_MS.
      timeoutMs: this.timeoutMs * 3,
      authHeaders: headerNames,
    });
    const max = this.config.env.OUTBOUND_MAX_RESPONSE_BYTES;
    return async (input, init) =>
      watchAnswer(capBody(await inner(input, init), max, onTooLarge), init, onUnanswered);
  }

  /** Any failure as an McpConnectionError with a message a user can act on. */
  describe(err: unknown, url: string, timedOut: boolean): Error {
    if (err instanceof McpConnectionError) return err;
    const host = safeHost(url);
    const outbound = findOutboundError(err);
    if (outbound) {
      if (outbound.code === 'timeout')
        return new McpConnectionError(`The MCP server at ${host} did not answer in time`);
      return new McpConnectionError(outbound.message);
    }
    if (timedOut)
      return new McpConnectionError(
        `The MCP server at ${host} did not answer within ${this.timeoutMs * 2} ms`,
      );
    if (err instanceof mcpTypes().McpError) {
      if (err.code === Number(mcpTypes().ErrorCode.RequestTimeout))
        return new McpConnectionError(
          `The MCP server at ${host} did not answer within ${this.timeoutMs} ms`,
        );
      if (err.code === Number(mcpTypes().ErrorCode.ConnectionClosed))
        return new McpConnectionError(`The MCP server at ${host} closed the connection`);
      const text = sanitizeReason(err.message.replace(/^MCP error -?\d+:\s*/, ''), 300);
      return new McpConnectionError(`The MCP server at ${host} answered an error: ${text}`);
    }
    const status =
      err instanceof mcpHttp().StreamableHTTPError || err instanceof mcpSse().SseError
        ? err.code
        : undefined;
    if (status === 401 || status === 403)
      return new McpConnectionError(
        `The MCP server at ${host} refused the request (HTTP ${status}): check the headers`,
      );
    if (status === 404 || status === 405)
      return new McpConnectionError(
        `No MCP server answers at ${url.split('?')[0]} (HTTP ${status}) with Streamable HTTP or SSE`,
      );
    if (status !== undefined && status > 0)
      return new McpConnectionError(`The MCP server at ${host} answered HTTP ${status}`);
    const code = networkCode(err);
    if (code) return new McpConnectionError(`Could not reach the MCP server at ${host} (${code})`);
    if (err instanceof mcpSse().SseError || /stream disconnected|terminated/i.test(String(err)))
      return new McpConnectionError(`The MCP server at ${host} closed the connection`);
    if ((err as Error)?.name === 'AbortError')
      return new McpConnectionError('The call to the MCP server was stopped');
    this.logger.warn({ err: safeError(err), host }, 'MCP request failed');
    return new McpConnectionError(
      `The MCP server at ${host} could not be used: its answer is not valid MCP`,
    );
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the given URL';
  }
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection lost',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
};

function networkCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES[code]) return NETWORK_CODES[code];
    // EventSource (the SSE transport) keeps only the text of the fetch error.
    const named = /\b(E[A-Z_]+|UND_ERR_[A-Z_]+)\b/.exec(String((e as Error).message ?? ''));
    if (named && NETWORK_CODES[named[1]]) return NETWORK_CODES[named[1]];
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
