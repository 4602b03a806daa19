import { lazyRequire, NotFoundError, raceAbort, safeError, ValidateError } from '@app/common';
import { AppConfig } from '@app/config';
import { Injectable, Logger } from '@nestjs/common';
import type { DynamicStructuredTool } from '@langchain/core/tools';
import { ToolArgsValidator, withoutPatterns } from './tool-args.validator';
import {
  ToolCallError,
  type ResolvedTool,
  type ToolKind,
  type ToolRef,
  type ToolResult,
  type ToolSource,
} from './tool.types';

// @langchain/core loads when an agent first needs a tool, not at boot.
const langchainTools = lazyRequire<typeof import('@langchain/core/tools')>('@langchain/core/tools');

export interface ToolInvokeOptions {
  /** Stops the call (a stopped run, a closed connection); the runtime adds its own timeout. */
  signal?: AbortSignal;
  /** Overrides TOOL_TIMEOUT_MS for this call. */
  timeoutMs?: number;
  /**
   * Invalid arguments throw ValidateError (the console's test button) instead of becoming an
   * error result (agents and workflow nodes, which must read the reason and go on).
   */
  throwOnInvalidArgs?: boolean;
}

/** OpenAI-compatible function names: letters, digits, `_` and `-`, at most 64. */
export function toFunctionName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_-]+/g, '_').replace(/^_+|_+$/g, '');
  return (cleaned || 'tool').slice(0, 64);
}

/**
 * The one way to call a tool, whatever its kind: agents get LangChain tools from `toLangChain`,
 * workflow nodes and the console's test routes call `invoke`. Arguments are checked against the
 * tool's schema, every call is bounded in time and output, and a failing tool yields an error
 * result instead of an exception, so a run goes on.
 */
@Injectable()
export class ToolRuntime {
  private readonly logger = new Logger('ToolRuntime');
  private readonly sources = new Map<ToolKind, ToolSource>();
  private readonly validator = new ToolArgsValidator();

  constructor(private readonly config: AppConfig) {}

  /** Called by each kind's service at module init (the workflow module adds `workflow`). */
  register(source: ToolSource): void {
    if (this.sources.has(source.kind))
      throw new Error(`Tool source ${source.kind} registered twice`);
    this.sources.set(source.kind, source);
  }

  /** Null when the schema is usable for argument checks; else the reason. */
  schemaProblem(schema: Record<string, unknown>): string | null {
    return this.validator.schemaProblem(schema);
  }

  /** The tool for the account; NotFoundError when it (or its kind) does not exist. */
  async resolve(accountId: string, ref: ToolRef): Promise<ResolvedTool> {
    const source = this.sources.get(ref.type);
    if (!source) throw new NotFoundError(`Tools of type "${ref.type}" are not available`);
    return source.resolve(accountId, ref);
  }

  /** Resolves and calls in one step (workflow nodes, the console's test button). */
  async invoke(
    accountId: string,
    ref: ToolRef,
    args: Record<string, unknown>,
    opts: ToolInvokeOptions = {},
  ): Promise<ToolResult> {
    const tool = await this.resolve(accountId, ref);
    return this.call(accountId, tool, args, opts);
  }

  /** Calls a resolved tool. Never throws, except ValidateError with `throwOnInvalidArgs`. */
  async call(
    accountId: string,
    tool: ResolvedTool,
    args: Record<string, unknown>,
    opts: ToolInvokeOptions = {},
  ): Promise<ToolResult> {
    const started = performance.now();
    const latency = () => Math.round((performance.now() - started) * 100) / 100;
    const input = args ?? {};
    const check = this.validator.check(tool.inputSchema, input);
    if (!check.ok) {
      if (opts.throwOnInvalidArgs) throw new ValidateError(check.errors);
      const reason = `invalid arguments: ${Object.values(check.errors).flat().join('; ')}`;
      return this.failure(reason, latency());
    }
    const timeoutMs = opts.timeoutMs ?? this.config.env.TOOL_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      const data = await raceAbort(tool.call(input, { accountId, signal }), signal);
      return {
        ok: true,
        output: this.render(data),
        data: data ?? null,
        error: '',
        latency: latency(),
      };
    } catch (err) {
      let reason: string;
      if (timeout.aborted) reason = `the tool did not answer within ${timeoutMs} ms`;
      else if (opts.signal?.aborted) reason = 'the call was stopped';
      else if (err instanceof ToolCallError) reason = err.message;
      else {
        // Anything else is our bug or a library's: log it, tell the model only that it failed.
        this.logger.warn(
          { err: safeError(err), tool: `${tool.kind}/${tool.provider}/${tool.name}` },
          'Tool call failed',
        );
        reason = 'the tool failed unexpectedly';
      }
      return this.failure(reason, latency());
    }
  }

  /**
   * A LangChain tool for an agent. Its function never throws: errors reach the model as
   * `Error: <reason>` so it can retry or answer without the tool.
   */
  toLangChain(
    accountId: string,
    tool: ResolvedTool,
    opts: { name?: string; signal?: AbortSignal; onResult?: (r: ToolResult) => void } = {},
  ): DynamicStructuredTool {
    const { DynamicStructuredTool } = langchainTools();
    return new DynamicStructuredTool({
      name: toFunctionName(opts.name ?? tool.name),
      description: (tool.description || tool.label).slice(0, 1024),
      // `call` checks the whole schema (patterns on RE2); LangChain's own check would not.
      schema: withoutPatterns(tool.inputSchema),
      func: async (input: Record<string, unknown>) => {
        const result = await this.call(accountId, tool, input, { signal: opts.signal });
        opts.onResult?.(result);
        return result.output;
      },
    });
  }

  private failure(reason: string, latency: number): ToolResult {
    return { ok: false, output: `Error: ${reason}`, data: null, error: reason, latency };
  }

  /** The model's view of a result: text as is, anything else as JSON; capped. */
  private render(data: unknown): string {
    let text: string;
    if (typeof data === 'string') text = data;
    else if (data === undefined || data === null) text = '';
    else {
      try {
        text = JSON.stringify(data) ?? '';
      } catch {
        // BigInt or a cycle: tools return JSON from the wire, so this is a source's bug.
        text = '[a result that is not JSON]';
      }
    }
    const max = this.config.env.TOOL_OUTPUT_MAX_CHARS;
    return text.length > max
      ? `${text.slice(0, max)}\n[output truncated at ${max} characters]`
      : text;
  }
}
