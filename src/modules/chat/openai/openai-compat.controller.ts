import { ApiKeyAuth, CurrentAccount, RawResponse } from '@app/common';
import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { EmbeddingsReqDto, EmbeddingsResDto, ModelListDto } from './openai-compat.dto';
import { OpenAiCompatService } from './openai-compat.service';

/** OpenAI-compatible routes for any OpenAI SDK, authorized by a service-API key. */
@ApiTags('service-api')
@ApiKeyAuth()
@RawResponse()
@Controller('v1')
export class OpenAiCompatController {
  constructor(private readonly service: OpenAiCompatService) {}

  @Get('models')
  @ApiOperation({
    operationId: 'v1ListModels',
    summary: 'The published apps of the key’s account, as OpenAI models (id = app id)',
  })
  @ApiOkResponse({ type: ModelListDto })
  models(@CurrentAccount() accountId: string): Promise<ModelListDto> {
    return this.service.models(accountId);
  }

  @Post('embeddings')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'v1CreateEmbeddings',
    summary:
      'Embeddings through the configured providers with the key account’s credentials (OpenAI’s request and answer; errors are OpenAI error objects)',
  })
  @ApiBody({ type: EmbeddingsReqDto })
  @ApiOkResponse({ type: EmbeddingsResDto })
  embeddings(
    @CurrentAccount() accountId: string,
    // Checked by the service: `input` is a string or a list, which a DTO class cannot express
    // (and the global pipe would prune undeclared keys).
    @Body() body: unknown,
  ): Promise<EmbeddingsResDto> {
    return this.service.embed(accountId, body);
  }
}
