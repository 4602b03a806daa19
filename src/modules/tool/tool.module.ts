import { SecretBox } from '@app/common';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiToolController } from './api-tool/api-tool.controller';
import { ApiToolService } from './api-tool/api-tool.service';
import { ApiToolSource } from './api-tool/api-tool.source';
import { ApiToolProviderEntity } from './api-tool/entities/api-tool-provider.entity';
import { ApiToolEntity } from './api-tool/entities/api-tool.entity';
import { BuiltinCatalog } from './builtin/builtin-catalog.service';
import { BuiltinToolSource } from './builtin/builtin-tool.source';
import { BuiltinToolsController } from './builtin/builtin-tools.controller';
import { McpProviderEntity } from './mcp/entities/mcp-provider.entity';
import { McpToolEntity } from './mcp/entities/mcp-tool.entity';
import { McpConnector } from './mcp/mcp-connector';
import { McpProviderRepository } from './mcp/mcp-provider.repository';
import { McpProviderService } from './mcp/mcp-provider.service';
import { McpToolSource } from './mcp/mcp-tool.source';
import { McpToolsController } from './mcp/mcp-tools.controller';
import { ToolRuntime } from './runtime/tool-runtime.service';

/**
 * Tools: builtin providers (data files), API tools imported from OpenAPI documents, MCP servers,
 * and the ToolRuntime through which agents and workflow nodes call every kind. Other modules use
 * ToolRuntime (and BuiltinCatalog and ApiToolService.describeTools for labels and icons); each
 * kind registers itself with the runtime as a ToolSource.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([
      ApiToolProviderEntity,
      ApiToolEntity,
      McpProviderEntity,
      McpToolEntity,
    ]),
  ],
  controllers: [BuiltinToolsController, ApiToolController, McpToolsController],
  providers: [
    ToolRuntime,
    SecretBox,
    BuiltinCatalog,
    BuiltinToolSource,
    ApiToolService,
    ApiToolSource,
    McpConnector,
    McpProviderRepository,
    McpProviderService,
    McpToolSource,
  ],
  exports: [ToolRuntime, BuiltinCatalog, ApiToolService],
})
export class ToolModule {}
