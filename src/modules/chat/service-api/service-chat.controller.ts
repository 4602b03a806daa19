import { ApiEnvelope, ApiKeyAuth, CurrentAccount, FailException, ok } from '@app/common';
import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AGENT_STREAM_DESCRIPTION } from '../agent/agent-stream.doc';
import { ServiceChatReqDto, ServiceChatResDto } from './service-chat.dto';
import { ServiceChatService } from './service-chat.service';

/** `/openapi/chat`: a published app run with a service-API key (CONSOLE-SHAPES §4.12). */
@ApiTags('service-api')
@ApiKeyAuth()
@Controller('openapi')
export class ServiceChatController {
  constructor(private readonly service: ServiceChatService) {}

  @Post('chat')
  @HttpCode(200)
  @ApiProduces('text/event-stream', 'application/json')
  @ApiOperation({
    operationId: 'openapiChat',
    summary:
      'Run a PUBLISHED app of the key’s account (invoke_from service_api): SSE agent frames with end_user_id on every frame (stream true, the default), or one envelope with the whole answer (stream false)',
    description:
      'An end user and a conversation are created when not given (their ids are on every frame and in the blocking answer: send both back to continue the conversation with its memory). ' +
      'Errors before the answer are envelopes with real statuses: 401 without a valid key, 404 for an app that is not a published app of the key’s account, an end user of another app or a conversation of another end user, 422 for a bad body, 429, 500. ' +
      'Blocking: a failed or timed-out run answers 500 `fail` (the message stays stored with its status). ' +
      AGENT_STREAM_DESCRIPTION,
  })
  @ApiEnvelope(ServiceChatResDto)
  async chat(
    @CurrentAccount() accountId: string,
    @Body() body: ServiceChatReqDto,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const t = await this.service.prepare(accountId, {
      appId: body.app_id,
      endUserId: body.end_user_id,
      conversationId: body.conversation_id,
      query: body.query,
      usageSource: 'app.service_api',
    });
    if (body.stream !== false) {
      await this.service.stream(t, req, res);
      return;
    }
    const collected = await this.service.collect(t);
    const { status } = collected.result;
    if (status === 'error' || status === 'timeout') {
      const closing = collected.frames.at(-1)?.data;
      throw new FailException(
        status === 'timeout'
          ? 'The agent run timed out'
          : closing?.observation || 'The agent run failed',
        {
          id: t.turn.message.id,
          end_user_id: t.endUserId,
          conversation_id: t.turn.spec.conversation.id,
        },
        500,
      );
    }
    res.status(200).json(ok(this.service.blockingAnswer(t, collected)));
  }
}
