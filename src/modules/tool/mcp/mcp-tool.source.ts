import { sanitizeReason } from '@app/http';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { ToolRuntime } from '../runtime/tool-runtime.service';
import {
  ToolCallError,
  type ResolvedTool,
  type ToolInputSchema,
  type ToolRef,
  type ToolSource,
} from '../runtime/tool.types';
import { McpConnectionError, McpConnector } from './mcp-connector';
import { McpProviderService } from './mcp-provider.service';

const MAX_ERROR_TEXT = 500;

type Content = CallToolResult['content'][number];

/** One content part as text: text as is, everything else named briefly. */
function describePart(part: Content): string {
  switch (part.type) {
    case 'text':
      return part.text;
    case 'image':
    case 'audio':
      return `[${part.type} ${part.mimeType}, ${Math.floor((part.data.length * 3) / 4)} bytes]`;
    case 'resource':
      return `[resource ${part.resource.uri}${part.resource.mimeType ? ` (${part.resource.mimeType})` : ''}]`;
    case 'resource_link':
      return `[resource link ${part.name}: ${part.uri}]`;
    default:
      return `[${(part as { type?: string }).type ?? 'unknown'} content]`;
  }
}

/** What a call gives the runtime: structuredContent when present, else the parts as text. */
export function renderMcpResult(result: CallToolResult): unknown {
  const text = (result.content ?? []).map(describePart).join('\n');
  if (result.isError) {
    const reason = sanitizeReason(text, MAX_ERROR_TEXT);
    throw new ToolCallError(reason ? `the MCP tool failed: ${reason}` : 'the MCP tool failed');
  }
  return result.structuredContent ?? text;
}

/** The schema with its properties back in the server's order (what the model reads). */
function inOrder(
  schema: Record<string, unknown>,
  inputs: Array<{ name: string }>,
): ToolInputSchema {
  const props = (schema.properties ?? {}) as Record<string, unknown>;
  const ordered: Record<string, unknown> = {};
  for (const { name } of inputs) if (name in props) ordered[name] = props[name];
  return { ...schema, properties: { ...ordered, ...props } } as ToolInputSchema;
}

/**
 * `mcp_tool` references (`provider` = provider uuid, `tool` = the tool's name on the server):
 * resolved from the stored listing, called on the server through McpConnector.
 */
@Injectable()
export class McpToolSource implements ToolSource, OnModuleInit {
  readonly kind = 'mcp_tool' as const;

  constructor(
    private readonly runtime: ToolRuntime,
    private readonly providers: McpProviderService,
    private readonly connector: McpConnector,
  ) {}

  onModuleInit(): void {
    this.runtime.register(this);
  }

  async resolve(accountId: string, ref: ToolRef): Promise<ResolvedTool> {
    const { provider, tool } = await this.providers.resolve(accountId, ref.provider, ref.tool);
    const endpoint = this.providers.endpoint(provider);
    return {
      kind: this.kind,
      provider: provider.id,
      name: tool.name,
      label: tool.name,
      description: tool.description,
      inputSchema: inOrder(tool.input_schema, tool.inputs),
      call: async (args, ctx) => {
        let result: CallToolResult;
        try {
          result = await this.connector.call(endpoint, tool.name, args, ctx.signal);
        } catch (err) {
          if (!(err instanceof McpConnectionError)) throw err;
          // A stopped run or the runtime's timeout says nothing about the server's health.
          if (!ctx.signal.aborted) await this.providers.recordConnection(provider, err.message);
          throw new ToolCallError(err.message);
        }
        await this.providers.recordConnection(provider, null);
        return renderMcpResult(result);
      },
    };
  }
}
