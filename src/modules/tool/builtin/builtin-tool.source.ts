import { ValidateError } from '@app/common';
import { AppConfig } from '@app/config';
import { OutboundHttpClient } from '@app/http';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ToolRuntime } from 'src/modules/tool/runtime/tool-runtime.service';
import type { ResolvedTool, ToolRef, ToolSource } from 'src/modules/tool/runtime/tool.types';
import { BuiltinCatalog } from './builtin-catalog.service';
import { checkParams } from './builtin-params';

/**
 * The builtin tools as a ToolSource: `{provider, tool, params}` -> a callable tool. They are the
 * same for every account; their settings (`params`) are checked here, their arguments by the
 * runtime, and their upstream calls go through the outbound client.
 */
@Injectable()
export class BuiltinToolSource implements ToolSource, OnModuleInit {
  readonly kind = 'builtin_tool' as const;

  constructor(
    private readonly catalog: BuiltinCatalog,
    private readonly runtime: ToolRuntime,
    private readonly http: OutboundHttpClient,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.runtime.register(this);
  }

  // async: a bad reference rejects, never throws synchronously at the caller.
  async resolve(_accountId: string, ref: ToolRef): Promise<ResolvedTool> {
    const tool = this.catalog.tool(ref.provider, ref.tool);
    const checked = checkParams(tool.params, ref.params);
    if (!checked.ok) throw new ValidateError(checked.errors);
    const { params } = checked;
    const extra = tool.impl.checkParams?.(params);
    if (extra) throw new ValidateError(extra);
    const { http, config } = this;
    return {
      kind: this.kind,
      provider: tool.provider,
      name: tool.name,
      label: tool.label,
      description: tool.description,
      inputSchema: this.catalog.inputSchema(tool),
      call: (args, ctx) =>
        tool.impl.run({ args, params, signal: ctx.signal, http, env: config.env }),
    };
  }
}
