import { Injectable, type OnModuleInit } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { ToolRuntime } from 'src/modules/tool/runtime/tool-runtime.service';
import {
  ToolCallError,
  type JsonSchema,
  type ResolvedTool,
  type ToolInputSchema,
  type ToolRef,
  type ToolSource,
} from 'src/modules/tool/runtime/tool.types';
import { WorkflowRunService } from '../runs/workflow-run.service';
import type { StartInput, StartNode, VariableType, WorkflowGraph } from '../graph/graph.types';
import { WorkflowService } from '../workflow.service';

const JSON_TYPES: Record<VariableType, string> = {
  string: 'string',
  int: 'integer',
  float: 'number',
  boolean: 'boolean',
  array: 'array',
  object: 'object',
};

/** A workflow calling workflows as tools, which call workflows...: this deep at most. */
export const MAX_WORKFLOW_TOOL_DEPTH = 3;

/** The tool's arguments: the start node's inputs, required as the start node says. */
export function startInputSchema(graph: WorkflowGraph): ToolInputSchema {
  const start = graph.nodes.find((n): n is StartNode => n.node_type === 'start');
  const inputs: StartInput[] = start?.inputs ?? [];
  const properties: Record<string, JsonSchema> = {};
  for (const i of inputs)
    properties[i.name] = {
      type: JSON_TYPES[i.type] ?? 'string',
      ...(i.description ? { description: i.description } : {}),
    };
  const required = inputs.filter((i) => i.required).map((i) => i.name);
  return { type: 'object', properties, ...(required.length ? { required } : {}) };
}

/**
 * Published workflows as tools (kind `workflow`): `ref.provider` is the workflow's id (`ref.tool`
 * is not read; apps store the id or the tool_call_name there). Only the account's published
 * workflows resolve, anything else is not_found. The tool's name is the workflow's
 * `tool_call_name`, its arguments the start node's inputs, and a call runs the published graph
 * with the engine in-process (not through the run queue: the caller, an agent or a node, already
 * waits on it) and returns the end node's outputs. A run that does not succeed fails the call.
 */
@Injectable()
export class WorkflowToolSource implements ToolSource, OnModuleInit {
  readonly kind = 'workflow' as const;
  // How deep the current call is in workflow-as-tool calls: a workflow using itself would
  // otherwise recurse until its time limits.
  private readonly depth = new AsyncLocalStorage<number>();

  constructor(
    private readonly workflows: WorkflowService,
    private readonly runs: WorkflowRunService,
    private readonly runtime: ToolRuntime,
  ) {}

  onModuleInit(): void {
    this.runtime.register(this);
  }

  async resolve(accountId: string, ref: ToolRef): Promise<ResolvedTool> {
    const { workflow, graph: stored } = await this.workflows.publishedGraph(
      accountId,
      ref.provider,
    );
    // Published graphs passed full validation when they were published.
    const graph = stored as unknown as WorkflowGraph;
    return {
      kind: this.kind,
      provider: workflow.id,
      name: workflow.tool_call_name,
      label: workflow.name,
      description: workflow.description || workflow.name,
      inputSchema: startInputSchema(graph),
      call: async (args, ctx) => {
        const depth = this.depth.getStore() ?? 0;
        if (depth >= MAX_WORKFLOW_TOOL_DEPTH)
          throw new ToolCallError(
            `workflows may call workflows at most ${MAX_WORKFLOW_TOOL_DEPTH} deep`,
          );
        // Recorded like any run (source `tool`), so it shows in the workflow's history.
        const result = await this.depth.run(depth + 1, () =>
          this.runs.runAndWait(ctx.accountId, workflow.id, args, 'tool', { signal: ctx.signal }),
        );
        if (result.status !== 'succeeded')
          throw new ToolCallError(
            `the workflow ${result.status}${result.error ? `: ${result.error}` : ''}`,
          );
        return result.outputs;
      },
    };
  }
}
