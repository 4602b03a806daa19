/**
 * The contract between the tool runtime and the kinds of tools behind it. Each kind (builtin
 * providers, API tools, MCP servers, and later published workflows) is a ToolSource that turns a
 * reference into a ResolvedTool; the runtime validates arguments, bounds time and output, and
 * hands the tool to agents (a LangChain tool) or to workflow nodes (a plain async call).
 */

export const TOOL_KINDS = ['builtin_tool', 'api_tool', 'mcp_tool', 'workflow'] as const;
export type ToolKind = (typeof TOOL_KINDS)[number];

/** A JSON Schema (draft-07 or 2020-12) object; tools take an object of named arguments. */
export type JsonSchema = Record<string, unknown>;

export interface ToolInputSchema extends JsonSchema {
  type: 'object';
  properties: Record<string, JsonSchema>;
  required?: string[];
}

/**
 * Which tool, as apps and workflow nodes store it (CONSOLE-SHAPES §4.3): builtin tools by
 * provider and tool name, API tools by provider uuid and operationId, MCP tools by provider uuid
 * and tool name, workflows by id. `params` are the builtin tool's settings (not LLM arguments).
 */
export interface ToolRef {
  type: ToolKind;
  provider: string;
  tool: string;
  params?: Record<string, unknown>;
}

export interface ToolCallContext {
  accountId: string;
  /** Aborted on timeout, on a stopped run, or when the caller goes away. */
  signal: AbortSignal;
}

/** A tool ready to call: what the model sees (name, description, schema) and the call itself. */
export interface ResolvedTool {
  kind: ToolKind;
  /** Provider name (builtin) or id (api, mcp, workflow). */
  provider: string;
  /** Tool name as its source knows it (builtin name, operationId, MCP name). */
  name: string;
  /** A label for people; the name when the source has none. */
  label: string;
  description: string;
  /** The arguments the LLM fills in. */
  inputSchema: ToolInputSchema;
  /**
   * Runs the tool with validated arguments. Returns a string or JSON-able value; throws on
   * failure with a message a user (and the model) can act on (use ToolCallError).
   */
  call(args: Record<string, unknown>, ctx: ToolCallContext): Promise<unknown>;
}

export interface ToolSource {
  readonly kind: ToolKind;
  /**
   * Looks the tool up for the account. Throws NotFoundError (from @app/common) when the provider
   * or tool does not exist or belongs to another account, ValidateError for bad `params`.
   */
  resolve(accountId: string, ref: ToolRef): Promise<ResolvedTool>;
}

/** What a call produced, for an agent, a workflow node or the console's test button. */
export interface ToolResult {
  ok: boolean;
  /** The text the model reads: the result (JSON for objects), or `Error: <reason>`. Capped. */
  output: string;
  /** The result as the tool returned it (null on error). */
  data: unknown;
  /** The reason when `ok` is false, else "". */
  error: string;
  /** Milliseconds, always a number. */
  latency: number;
}

/** A failure the tool reports with a message safe to show (no upstream bodies, no secrets). */
export class ToolCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolCallError';
  }
}
