import { Module } from '@nestjs/common';
import { ToolRuntime } from './runtime/tool-runtime.service';

/**
 * Tools: builtin providers (data files), API tools imported from OpenAPI documents, MCP servers,
 * and the ToolRuntime through which agents and workflow nodes call every kind. Other modules use
 * ToolRuntime only; each kind registers itself with it as a ToolSource.
 */
@Module({
  controllers: [],
  providers: [ToolRuntime],
  exports: [ToolRuntime],
})
export class ToolModule {}
