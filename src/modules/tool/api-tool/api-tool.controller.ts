import { ApiEnvelope, ConsolePost, CurrentAccount, Page } from '@app/common';
import { Body, Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { InvokeToolDto, ToolResultDto } from 'src/modules/tool/dto/tool-invoke.dto';
import { ToolRuntime } from 'src/modules/tool/runtime/tool-runtime.service';
import type { ToolResult } from 'src/modules/tool/runtime/tool.types';
import { ApiToolService } from './api-tool.service';
import {
  ApiToolDetailDto,
  ApiToolProviderDto,
  ApiToolProviderListItemDto,
  CreatedApiToolProviderDto,
  ListApiToolProvidersDto,
  OpenApiSchemaDto,
  SaveApiToolProviderDto,
  ValidateOpenApiSchemaResultDto,
} from './dto/api-tool.dto';

/** Your API tools: providers imported from OpenAPI documents, one tool per operationId. */
@ApiTags('api-tools')
@ApiBearerAuth('jwt')
@Controller('api-tools')
export class ApiToolController {
  constructor(
    private readonly service: ApiToolService,
    private readonly runtime: ToolRuntime,
  ) {}

  @Get()
  @ApiOperation({
    operationId: 'listApiToolProviders',
    summary: 'API tool providers with their tools, newest first (search_word matches the name)',
  })
  @ApiEnvelope(ApiToolProviderListItemDto, { paginated: true })
  list(
    @CurrentAccount() accountId: string,
    @Query() q: ListApiToolProvidersDto,
  ): Promise<Page<ApiToolProviderListItemDto>> {
    return this.service.list(accountId, q);
  }

  @ConsolePost(undefined, 'API tool provider created')
  @ApiOperation({
    operationId: 'createApiToolProvider',
    summary: 'Import an OpenAPI 3.0/3.1, Swagger 2.0 or LLMOps-format document as tools',
  })
  @ApiEnvelope(CreatedApiToolProviderDto)
  create(
    @CurrentAccount() accountId: string,
    @Body() body: SaveApiToolProviderDto,
  ): Promise<CreatedApiToolProviderDto> {
    return this.service.create(accountId, body);
  }

  // Declared before `:provider_id` so the literal path wins.
  @ConsolePost('validate-openapi-schema', 'The OpenAPI schema is valid')
  @ApiOperation({
    operationId: 'validateOpenApiSchema',
    summary: 'Check a document without saving it (validate_error names what is wrong)',
  })
  @ApiEnvelope(ValidateOpenApiSchemaResultDto)
  validate(@Body() body: OpenApiSchemaDto): Promise<ValidateOpenApiSchemaResultDto> {
    return this.service.validate(body.openapi_schema);
  }

  @Get(':provider_id')
  @ApiOperation({
    operationId: 'getApiToolProvider',
    summary: 'One provider with its document (headers masked)',
  })
  @ApiEnvelope(ApiToolProviderDto)
  get(
    @CurrentAccount() accountId: string,
    @Param('provider_id') id: string,
  ): Promise<ApiToolProviderDto> {
    return this.service.get(accountId, id);
  }

  @ConsolePost(':provider_id', 'API tool provider updated')
  @ApiOperation({
    operationId: 'updateApiToolProvider',
    summary: 'Replace the document (and so the tools); a masked header value keeps the stored one',
  })
  @ApiEnvelope()
  async update(
    @CurrentAccount() accountId: string,
    @Param('provider_id') id: string,
    @Body() body: SaveApiToolProviderDto,
  ): Promise<void> {
    await this.service.update(accountId, id, body);
  }

  @ConsolePost(':provider_id/delete', 'API tool provider deleted')
  @ApiOperation({
    operationId: 'deleteApiToolProvider',
    summary: 'Delete a provider and its tools',
  })
  @ApiEnvelope()
  async delete(
    @CurrentAccount() accountId: string,
    @Param('provider_id') id: string,
  ): Promise<void> {
    await this.service.delete(accountId, id);
  }

  @Get(':provider_id/tools/:tool_name')
  @ApiOperation({
    operationId: 'getApiTool',
    summary: 'One tool (by operationId) with its inputs and provider',
  })
  @ApiEnvelope(ApiToolDetailDto)
  getTool(
    @CurrentAccount() accountId: string,
    @Param('provider_id') id: string,
    @Param('tool_name') toolName: string,
  ): Promise<ApiToolDetailDto> {
    return this.service.getTool(accountId, id, toolName);
  }

  /** Ours: calls the tool as an agent would, with arguments checked against its schema. */
  @ConsolePost(':provider_id/tools/:tool_name/invoke', 'Tool invoked')
  @ApiOperation({
    operationId: 'invokeApiTool',
    summary: 'Test a tool: call it with arguments and answer the result and the latency',
  })
  @ApiEnvelope(ToolResultDto)
  invoke(
    @CurrentAccount() accountId: string,
    @Param('provider_id') id: string,
    @Param('tool_name') toolName: string,
    @Body() body: InvokeToolDto,
  ): Promise<ToolResult> {
    return this.runtime.invoke(
      accountId,
      { type: 'api_tool', provider: id, tool: toolName },
      body.arguments ?? {},
      { throwOnInvalidArgs: true },
    );
  }
}
