import type { ToolNode } from 'src/modules/workflow/graph/graph.types';
import type { ToolInvokeOptions } from 'src/modules/tool/runtime/tool-runtime.service';
import type { ToolRef, ToolResult } from 'src/modules/tool/runtime/tool.types';
import type { NodeExecution, NodeExecutionContext, NodeExecutor } from '../engine.types';

/** What the tool node needs of ToolRuntime, so tests can pass a double. */
export interface ToolInvoker {
  invoke(
    accountId: string,
    ref: ToolRef,
    args: Record<string, unknown>,
    opts?: ToolInvokeOptions,
  ): Promise<ToolResult>;
}

/**
 * Calls the node's builtin, API or MCP tool with its inputs as arguments (and `params` as the
 * builtin tool's settings); `text` is what the tool returned (JSON for objects). A failed call
 * (bad arguments, tool error, timeout) fails the node, so its error strategy applies.
 */
export class ToolExecutor implements NodeExecutor<ToolNode> {
  constructor(private readonly tools: ToolInvoker) {}

  async run(
    node: ToolNode,
    inputs: Record<string, unknown>,
    ctx: NodeExecutionContext,
  ): Promise<NodeExecution> {
    if (!node.tool_type || !node.provider_id || !node.tool_id)
      throw new Error('the node has no tool');
    const ref: ToolRef = {
      type: node.tool_type,
      provider: node.provider_id,
      tool: node.tool_id,
      params: node.params ?? {},
    };
    const result = await this.tools.invoke(ctx.accountId, ref, inputs, {
      signal: ctx.signal,
      timeoutMs: ctx.timeoutMs,
    });
    if (!result.ok) throw new Error(`the tool failed: ${result.error}`);
    return { outputs: { text: result.output } };
  }
}
