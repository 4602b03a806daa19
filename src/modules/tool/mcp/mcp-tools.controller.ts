import { ApiEnvelope, ConsolePost, CurrentAccount, type Page } from '@app/common';
import { Body, Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { InvokeToolDto, ToolResultDto } from '../dto/tool-invoke.dto';
import { ToolRuntime } from '../runtime/tool-runtime.service';
import {
  McpProviderDto,
  McpProvidersQueryDto,
  McpToolDetailDto,
  SaveMcpProviderDto,
} from './dto/mcp-provider.dto';
import { McpProviderService } from './mcp-provider.service';

/** Remote MCP servers as tool providers (ours; shaped like /api-tools). */
@ApiTags('mcp-tools')
@ApiBearerAuth('jwt')
@Controller('mcp-tools')
export class McpToolsController {
  constructor(
    private readonly providers: McpProviderService,
    private readonly runtime: ToolRuntime,
  ) {}

  @Get()
  @ApiOperation({ operationId: 'listMcpToolProviders', summary: 'Your MCP tool providers' })
  @ApiEnvelope(McpProviderDto, { paginated: true })
  list(
    @CurrentAccount() accountId: string,
    @Query() query: McpProvidersQueryDto,
  ): Promise<Page<McpProviderDto>> {
    return this.providers.list(accountId, query);
  }

  /** Connects to the server, lists its tools and stores both; nothing is stored on failure. */
  @ConsolePost(undefined, 'MCP tool provider created')
  @ApiOperation({ operationId: 'createMcpToolProvider', summary: 'Add an MCP server' })
  @ApiEnvelope(McpProviderDto)
  create(
    @CurrentAccount() accountId: string,
    @Body() body: SaveMcpProviderDto,
  ): Promise<McpProviderDto> {
    return this.providers.create(accountId, body);
  }

  @Get(':provider_id')
  @ApiOperation({ operationId: 'getMcpToolProvider', summary: 'One MCP tool provider' })
  @ApiEnvelope(McpProviderDto)
  get(
    @CurrentAccount() accountId: string,
    @Param('provider_id') id: string,
  ): Promise<McpProviderDto> {
    return this.providers.get(accountId, id);
  }

  /** Saves the settings, reconnects and relists the tools; nothing changes on failure. */
  @ConsolePost(':provider_id', 'MCP tool provider updated')
  @ApiOperation({ operationId: 'updateMcpToolProvider', summary: 'Update an MCP server' })
  @ApiEnvelope(McpProviderDto)
  update(
    @CurrentAccount() accountId: string,
    @Param('provider_id') id: string,
    @Body() body: SaveMcpProviderDto,
  ): Promise<McpProviderDto> {
    return this.providers.update(accountId, id, body);
  }

  @ConsolePost(':provider_id/refresh', 'MCP tools refreshed')
  @ApiOperation({ operationId: 'refreshMcpToolProvider', summary: "Relist the server's tools" })
  @ApiEnvelope(McpProviderDto)
  refresh(
    @CurrentAccount() accountId: string,
    @Param('provider_id') id: string,
  ): Promise<McpProviderDto> {
    return this.providers.refresh(accountId, id);
  }

  @ConsolePost(':provider_id/delete', 'MCP tool provider deleted')
  @ApiOperation({ operationId: 'deleteMcpToolProvider', summary: 'Delete an MCP server' })
  @ApiEnvelope()
  async delete(
    @CurrentAccount() accountId: string,
    @Param('provider_id') id: string,
  ): Promise<void> {
    await this.providers.delete(accountId, id);
  }

  @Get(':provider_id/tools/:tool_name')
  @ApiOperation({ operationId: 'getMcpTool', summary: 'One tool of an MCP server' })
  @ApiEnvelope(McpToolDetailDto)
  tool(
    @CurrentAccount() accountId: string,
    @Param('provider_id') id: string,
    @Param('tool_name') name: string,
  ): Promise<McpToolDetailDto> {
    return this.providers.tool(accountId, id, name);
  }

  /** Calls the tool on the server with arguments checked against its schema (the console's test). */
  @ConsolePost(':provider_id/tools/:tool_name/invoke', 'Tool invoked')
  @ApiOperation({ operationId: 'invokeMcpTool', summary: 'Test an MCP tool' })
  @ApiEnvelope(ToolResultDto)
  invoke(
    @CurrentAccount() accountId: string,
    @Param('provider_id') id: string,
    @Param('tool_name') name: string,
    @Body() body: InvokeToolDto,
  ): Promise<ToolResultDto> {
    return this.runtime.invoke(
      accountId,
      { type: 'mcp_tool', provider: id, tool: name },
      body.arguments ?? {},
      { throwOnInvalidArgs: true },
    );
  }
}
