import {
  findOutboundError,
  OutboundHttpClient,
  sanitizeErrorBody,
  sanitizeReason,
  type OutboundResponse,
} from '@app/http';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { ToolRuntime } from 'src/modules/tool/runtime/tool-runtime.service';
import {
  ToolCallError,
  type ResolvedTool,
  type ToolInputSchema,
  type ToolRef,
  type ToolSource,
} from 'src/modules/tool/runtime/tool.types';
import type { HeaderPair } from './api-tool-headers';
import { buildApiRequest, type ApiToolCallSpec } from './api-tool-request';
import { ApiToolService } from './api-tool.service';

const JSON_TYPE = /[/+]json\b/i;
const MAX_CACHED_SCHEMAS = 1000;

/** `HTTP 404 Not Found: pet 7 is gone`: the status and, at most, the message of a JSON error. */
function httpFailure(status: number, body: string, contentType: string): string {
  const head = `HTTP ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''}`;
  const clean = sanitizeErrorBody(body, contentType);
  if (!clean) return head;
  const parsed = JSON.parse(clean) as {
    error?: string | { message?: string };
    message?: string;
  };
  const detail =
    (typeof parsed.error === 'string' ? parsed.error : parsed.error?.message) ?? parsed.message;
  return detail ? `${head}: ${detail}` : head;
}

/**
 * The `api_tool` kind of the tool runtime: `ref.provider` is the provider's id, `ref.tool` the
 * operationId. Calls go through the outbound client (SSRF guard on every hop, timeout, size cap).
 */
@Injectable()
export class ApiToolSource implements ToolSource, OnModuleInit {
  readonly kind = 'api_tool' as const;
  /**
   * One schema object per tool row (rows are immutable: an update inserts new ones). The
   * runtime's validator caches compiled schemas by object, so a fresh object per call would
   * compile (and be kept) again every time.
   */
  private readonly schemas = new Map<string, ToolInputSchema>();

  constructor(
    private readonly runtime: ToolRuntime,
    private readonly service: ApiToolService,
    private readonly http: OutboundHttpClient,
  ) {}

  onModuleInit(): void {
    this.runtime.register(this);
  }

  async resolve(accountId: string, ref: ToolRef): Promise<ResolvedTool> {
    const { provider, tool, headers } = await this.service.load(accountId, ref.provider, ref.tool);
    return {
      kind: 'api_tool',
      provider: provider.id,
      name: tool.name,
      label: tool.name,
      description: tool.description || `${tool.method} ${tool.path}`,
      inputSchema: this.schemaOf(tool.id, tool.input_schema),
      call: (args, ctx) => this.call(tool, headers, args, ctx.signal),
    };
  }

  private schemaOf(toolId: string, fresh: ToolInputSchema): ToolInputSchema {
    const known = this.schemas.get(toolId);
    if (known) return known;
    this.schemas.set(toolId, fresh);
    if (this.schemas.size > MAX_CACHED_SCHEMAS) {
      const oldest = this.schemas.keys().next().value;
      if (oldest !== undefined) this.schemas.delete(oldest);
    }
    return fresh;
  }

  /** One HTTP request; parsed JSON or text back, a ToolCallError for anything else. */
  async call(
    spec: ApiToolCallSpec,
    headers: HeaderPair[],
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<unknown> {
    const req = buildApiRequest(spec, args, headers);
    let res: OutboundResponse<string>;
    try {
      res = await this.http.request(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal,
        responseType: 'text',
        // A tool call may have effects: one attempt; the model decides whether to try again.
        retries: 0,
        // The provider's headers are credentials: never forwarded to another origin.
        authHeaders: headers.map((h) => h.key.toLowerCase()),
      });
    } catch (e) {
      const err = findOutboundError(e);
      if (err) throw new ToolCallError(sanitizeReason(err.message, 300));
      throw e;
    }
    const contentType = [res.headers['content-type']].flat()[0] ?? '';
    if (res.status < 200 || res.status >= 300)
      throw new ToolCallError(httpFailure(res.status, res.body, contentType));
    if (JSON_TYPE.test(contentType) && res.body.trim()) {
      try {
        return JSON.parse(res.body) as unknown;
      } catch {
        return res.body; // labelled JSON but is not: the text is still the answer
      }
    }
    return res.body;
  }
}
