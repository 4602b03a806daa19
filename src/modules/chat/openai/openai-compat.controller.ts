import { ApiKeyAuth, CurrentAccount, RawResponse } from '@app/common';
import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { OpenAiChatService, OpenAiErrorResponse } from './openai-chat.service';
import {
  ChatCompletionReqDto,
  ChatCompletionResDto,
  EmbeddingsReqDto,
  EmbeddingsResDto,
  ModelItemDto,
  ModelListDto,
} from './openai-compat.dto';
import { OpenAiCompatService } from './openai-compat.service';

/** OpenAI-compatible routes for any OpenAI SDK, authorized by a service-API key. */
@ApiTags('service-api')
@ApiKeyAuth()
@RawResponse()
@Controller('v1')
export class OpenAiCompatController {
  constructor(
    private readonly service: OpenAiCompatService,
    private readonly chat: OpenAiChatService,
  ) {}

  @Post('chat/completions')
  @HttpCode(200)
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOperation({
    operationId: 'v1CreateChatCompletion',
    summary:
      'OpenAI-compatible chat on a published app (model = the app id): its PUBLISHED config answers (prompt, model, tools, datasets, review), invoke_from service_api',
    description:
      'Non-streaming: a `chat.completion` with `usage` (the tokens of every model call of the turn). ' +
      '`stream: true`: `chat.completion.chunk` SSE frames (`data: {...}`): the role chunk first, one content delta per answer delta (tool and dataset steps are not content), a chunk with finish_reason `stop`, a usage chunk (`choices: []`) with `stream_options.include_usage`, then `data: [DONE]`; a run that fails or times out after the stream opened ends with `data: {"error": {...}}` (the SDKs raise it) and no [DONE]. ' +
      'History: the earlier user/assistant messages are the turn’s memory; system/developer/tool messages are not sent. Each call is a new service_api conversation of an end user (`user` = an end user id of this app to reuse one, else a new end user); the ids are answered in the X-End-User-Id, X-Conversation-Id and X-Message-Id headers. ' +
      'Errors are OpenAI error objects with real statuses: 400 (param named) for a bad body, 401 without a valid key, 404 `model_not_found` for an app that is not a published app of the key’s account, 429, 500 (504 on timeout) with `x-should-retry: false` (a turn is not run twice). A client that disconnects stops the turn (stored with status `stop`).',
  })
  @ApiBody({ type: ChatCompletionReqDto })
  @ApiOkResponse({ type: ChatCompletionResDto })
  async chatCompletions(
    @CurrentAccount() accountId: string,
    // Checked by OpenAiChatService: `content` is a string or a list of parts, and the global pipe
    // would prune undeclared keys.
    @Body() body: unknown,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    try {
      const r = this.chat.check(body);
      const turn = await this.chat.prepare(accountId, r);
      if (r.stream) await this.chat.stream(turn, r, req, res);
      else await this.chat.complete(turn, r, res);
    } catch (err) {
      if (!(err instanceof OpenAiErrorResponse) || res.headersSent) throw err;
      res.status(err.status).json({ error: err.body });
    }
  }

  @Get('models')
  @ApiOperation({
    operationId: 'v1ListModels',
    summary: 'The published apps of the key’s account, as OpenAI models (id = app id)',
  })
  @ApiOkResponse({ type: ModelListDto })
  models(@CurrentAccount() accountId: string): Promise<ModelListDto> {
    return this.service.models(accountId);
  }

  @Get('models/:model')
  @ApiOperation({
    operationId: 'v1RetrieveModel',
    summary: 'One published app of the key’s account as an OpenAI model; 404 otherwise',
  })
  @ApiOkResponse({ type: ModelItemDto })
  model(@CurrentAccount() accountId: string, @Param('model') model: string): Promise<ModelItemDto> {
    return this.service.model(accountId, model);
  }

  @Post('embeddings')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'v1CreateEmbeddings',
    summary:
      'Embeddings through the configured providers with the key account’s credentials (OpenAI’s request and answer: texts or cl100k_base token arrays, float or base64; errors are OpenAI error objects, a provider’s refusal 502 or 429)',
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
