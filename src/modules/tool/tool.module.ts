import { SecretBox } from '@app/common';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
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
 * ToolRuntime only; each kind registers itself with it as a ToolSource.
 */
@Module({
  imports: [TypeOrmModule.forFeature([McpProviderEntity, McpToolEntity])],
  controllers: [McpToolsController],
  providers: [
    ToolRuntime,
    SecretBox,
    McpConnector,
    McpProviderRepository,
    McpProviderService,
    McpToolSource,
  ],
  exports: [ToolRuntime],
})
export class ToolModule {}
