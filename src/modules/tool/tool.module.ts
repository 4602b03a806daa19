import { SecretBox } from '@app/common';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiToolController } from './api-tool/api-tool.controller';
import { ApiToolService } from './api-tool/api-tool.service';
import { ApiToolSource } from './api-tool/api-tool.source';
import { ApiToolProviderEntity } from './api-tool/entities/api-tool-provider.entity';
import { ApiToolEntity } from './api-tool/entities/api-tool.entity';
import { ToolRuntime } from './runtime/tool-runtime.service';

/**
 * Tools: builtin providers (data files), API tools imported from OpenAPI documents, MCP servers,
 * and the ToolRuntime through which agents and workflow nodes call every kind. Other modules use
 * ToolRuntime only; each kind registers itself with it as a ToolSource.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ApiToolProviderEntity, ApiToolEntity])],
  controllers: [ApiToolController],
  providers: [ToolRuntime, SecretBox, ApiToolService, ApiToolSource],
  exports: [ToolRuntime],
})
export class ToolModule {}
