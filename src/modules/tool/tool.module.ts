import { Module } from '@nestjs/common';
import { BuiltinCatalog } from './builtin/builtin-catalog.service';
import { BuiltinToolSource } from './builtin/builtin-tool.source';
import { BuiltinToolsController } from './builtin/builtin-tools.controller';
import { ToolRuntime } from './runtime/tool-runtime.service';

/**
 * Tools: builtin providers (data files), API tools imported from OpenAPI documents, MCP servers,
 * and the ToolRuntime through which agents and workflow nodes call every kind. Other modules use
 * ToolRuntime only; each kind registers itself with it as a ToolSource.
 */
@Module({
  controllers: [BuiltinToolsController],
  providers: [ToolRuntime, BuiltinCatalog, BuiltinToolSource],
  exports: [ToolRuntime, BuiltinCatalog],
})
export class ToolModule {}
