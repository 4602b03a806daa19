import { ApiEnvelope, ConsolePost, Public } from '@app/common';
import { Body, Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AGENT_STREAM_DESCRIPTION } from '../agent/agent-stream.doc';
import { ChatTurnService } from '../agent/chat-turn.service';
import {
  ListWebAppConversationsReqDto,
  WebAppChatReqDto,
  WebAppConversationDto,
  WebAppDto,
} from './web-app.dto';
import { WebAppService } from './web-app.service';

const WHO =
  ' No console login needed: a request with a console access token talks as that account’s end user of the app; otherwise the visitor is identified by an HttpOnly signed cookie (llmops_wa_<app id>) set on the first chat.';

/** The public web app of a published app (CONSOLE-SHAPES §4.10), by its link token. */
@ApiTags('web-apps')
@Public()
@Controller('web-apps')
export class WebAppController {
  constructor(
    private readonly webApps: WebAppService,
    private readonly turns: ChatTurnService,
  ) {}

  @Get(':token')
  @ApiOperation({
    operationId: 'getWebApp',
    summary:
      'The published app behind a web-app token: id, icon, name, description and the app_config the page needs (opening statement and questions, suggested_after_answer, text_to_speech, speech_to_text, the model’s features). not_found for an unknown token or an app that is not published.',
  })
  @ApiEnvelope(WebAppDto)
  info(@Param('token') token: string): Promise<WebAppDto> {
    return this.webApps.info(token);
  }

  @ConsolePost(':token/chat', 'Answered')
  @ApiProduces('text/event-stream')
  @ApiOperation({
    operationId: 'webAppChat',
    summary: `Chat with the app’s PUBLISHED config (SSE stream); conversation_id "" starts a new conversation, another must be this visitor’s on this web app (else forbidden). Runs on the owner’s model credentials and usage.${WHO}`,
    description: AGENT_STREAM_DESCRIPTION,
  })
  async chat(
    @Param('token') token: string,
    @Body() body: WebAppChatReqDto,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const turn = await this.webApps.prepare(token, body, req, res);
    await this.turns.stream(turn, req, res);
  }

  @ConsolePost(':token/chat/:task_id/stop', 'Stopped')
  @ApiOperation({
    operationId: 'stopWebAppChat',
    summary:
      'Stop a running web-app turn by its task_id; only the visitor who started it can (anyone else’s, finished or unknown tasks are a no-op). The partial answer is stored with status stop.',
  })
  @ApiEnvelope()
  async stop(
    @Param('token') token: string,
    @Param('task_id') taskId: string,
    @Req() req: Request,
  ): Promise<void> {
    await this.webApps.stop(token, taskId, req);
  }

  @Get(':token/conversations')
  @ApiOperation({
    operationId: 'listWebAppConversations',
    summary: `The visitor’s non-deleted conversations on this web app, newest first, as a plain array, filtered by is_pinned.${WHO}`,
  })
  @ApiEnvelope(WebAppConversationDto, { isArray: true })
  conversations(
    @Param('token') token: string,
    @Query() q: ListWebAppConversationsReqDto,
    @Req() req: Request,
  ): Promise<WebAppConversationDto[]> {
    return this.webApps.list(token, q, req);
  }
}
