import { ApiEnvelope, ConsolePost, CurrentAccount, Public, RawResponse } from '@app/common';
import { Body, Controller, Get, Header, Param, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { InvokeToolDto, ToolResultDto } from 'src/modules/tool/dto/tool-invoke.dto';
import { ToolRuntime } from 'src/modules/tool/runtime/tool-runtime.service';
import { BuiltinCatalog } from './builtin-catalog.service';
import {
  BuiltinCategoryDto,
  BuiltinProviderDto,
  BuiltinToolDetailDto,
} from './dto/builtin-tool.dto';

const envelope = (dataJson: string) => `{"code":"success","message":"","data":${dataJson}}`;

/**
 * The builtin tool providers (CONSOLE-SHAPES §1.1-1.4) and the console's test route. The lists
 * are static, so their JSON was built once by the catalog and is sent as is.
 */
@ApiTags('builtin-tools')
@ApiBearerAuth('jwt')
@Controller('builtin-tools')
export class BuiltinToolsController {
  constructor(
    private readonly catalog: BuiltinCatalog,
    private readonly runtime: ToolRuntime,
  ) {}

  @Get()
  @RawResponse()
  @Header('Content-Type', 'application/json; charset=utf-8')
  @ApiOperation({
    operationId: 'listBuiltinTools',
    summary: 'Builtin tool providers and their tools',
  })
  @ApiEnvelope(BuiltinProviderDto, { isArray: true })
  list(): string {
    return envelope(this.catalog.listJson);
  }

  @Get('categories')
  @RawResponse()
  @Header('Content-Type', 'application/json; charset=utf-8')
  @ApiOperation({
    operationId: 'listBuiltinToolCategories',
    summary: 'Categories of builtin tools',
  })
  @ApiEnvelope(BuiltinCategoryDto, { isArray: true })
  categories(): string {
    return envelope(this.catalog.categoriesJson);
  }

  /** The provider's icon (loaded by <img>, so no token). */
  @Public()
  @RawResponse()
  @Get(':provider_name/icon')
  @Header('Cache-Control', 'public, max-age=86400')
  @ApiProduces('image/svg+xml', 'image/png')
  @ApiOperation({ operationId: 'builtinToolProviderIcon', summary: 'Provider icon (image bytes)' })
  icon(@Param('provider_name') name: string): StreamableFile {
    const p = this.catalog.provider(name);
    return new StreamableFile(p.iconBytes, { type: p.iconType, length: p.iconBytes.length });
  }

  @Get(':provider_name/tools/:tool_name')
  @RawResponse()
  @Header('Content-Type', 'application/json; charset=utf-8')
  @ApiOperation({ operationId: 'getBuiltinTool', summary: 'One builtin tool with its provider' })
  @ApiEnvelope(BuiltinToolDetailDto)
  tool(@Param('provider_name') provider: string, @Param('tool_name') tool: string): string {
    return envelope(this.catalog.detailJsonOf(provider, tool));
  }

  /** Ours: the console's test button; `params` are the settings, `arguments` the LLM's part. */
  @ConsolePost(':provider_name/tools/:tool_name/invoke', 'Tool invoked')
  @ApiOperation({ operationId: 'invokeBuiltinTool', summary: 'Run a builtin tool once (test)' })
  @ApiEnvelope(ToolResultDto)
  invoke(
    @CurrentAccount() accountId: string,
    @Param('provider_name') provider: string,
    @Param('tool_name') tool: string,
    @Body() body: InvokeToolDto,
  ): Promise<ToolResultDto> {
    return this.runtime.invoke(
      accountId,
      { type: 'builtin_tool', provider, tool, params: body.params ?? {} },
      body.arguments ?? {},
      { throwOnInvalidArgs: true },
    );
  }
}
