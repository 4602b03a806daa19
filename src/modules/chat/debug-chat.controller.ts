import { ApiEnvelope, ConsolePost, CurrentAccount, Page } from '@app/common';
import { Body, Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AGENT_STREAM_DESCRIPTION } from './agent/agent-stream.doc';
import { ChatTurnService } from './agent/chat-turn.service';
import { DebugChatService } from './debug-chat.service';
import {
  AgentChatReqDto,
  ListMessagesReqDto,
  MessageItemDto,
  SummaryDto,
  UpdateSummaryReqDto,
} from './dto/conversation.dto';

/** The app editor's debug chat (CONSOLE-SHAPES §4.6) and its long-term memory. */
@ApiTags('apps')
@ApiBearerAuth('jwt')
@Controller('apps')
export class DebugChatController {
  constructor(
    private readonly debug: DebugChatService,
    private readonly turns: ChatTurnService,
  ) {}

  @ConsolePost(':app_id/conversations', 'Answered')
  @ApiProduces('text/event-stream')
  @ApiOperation({
    operationId: 'debugChat',
    summary: 'Chat with the app’s DRAFT config in its debug conversation (SSE stream)',
    description: AGENT_STREAM_DESCRIPTION,
  })
  async chat(
    @CurrentAccount() accountId: string,
    @Param('app_id') appId: string,
    @Body() body: AgentChatReqDto,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const turn = await this.debug.prepare(accountId, appId, body);
    await this.turns.stream(turn, req, res);
  }

  @ConsolePost(':app_id/conversations/tasks/:task_id/stop', 'Stopped')
  @ApiOperation({
    operationId: 'stopDebugChat',
    summary:
      'Stop a running debug turn by its task_id (from any API process); the partial answer is stored with status stop. A finished task is a no-op.',
  })
  @ApiEnvelope()
  async stop(
    @CurrentAccount() accountId: string,
    @Param('app_id') appId: string,
    @Param('task_id') taskId: string,
  ): Promise<void> {
    await this.debug.stop(accountId, appId, taskId);
  }

  @ConsolePost(':app_id/conversations/delete-debug-conversation', 'Debug conversation cleared')
  @ApiOperation({
    operationId: 'deleteDebugConversation',
    summary: 'Detach the debug conversation; the next debug turn starts a new one',
  })
  @ApiEnvelope()
  async deleteDebugConversation(
    @CurrentAccount() accountId: string,
    @Param('app_id') appId: string,
  ): Promise<void> {
    await this.debug.deleteDebugConversation(accountId, appId);
  }

  @Get(':app_id/conversations/messages')
  @ApiOperation({
    operationId: 'listDebugConversationMessages',
    summary:
      'Finished messages of the debug conversation (status normal or stop, non-empty answer), newest first, with their steps; created_at is a cursor (created_at <= it; 0 = none) combined with paging',
  })
  @ApiEnvelope(MessageItemDto, { paginated: true })
  messages(
    @CurrentAccount() accountId: string,
    @Param('app_id') appId: string,
    @Query() q: ListMessagesReqDto,
  ): Promise<Page<MessageItemDto>> {
    return this.debug.messages(accountId, appId, q);
  }

  @Get(':app_id/summary')
  @ApiOperation({
    operationId: 'getDebugSummary',
    summary:
      'The debug conversation’s long-term memory ("" if none); fail when the draft’s long-term memory is off',
  })
  @ApiEnvelope(SummaryDto)
  async summary(
    @CurrentAccount() accountId: string,
    @Param('app_id') appId: string,
  ): Promise<SummaryDto> {
    return { summary: await this.debug.summary(accountId, appId) };
  }

  @ConsolePost(':app_id/summary', 'Long-term memory updated')
  @ApiOperation({
    operationId: 'updateDebugSummary',
    summary:
      'Replace the debug conversation’s long-term memory; fail when the draft’s long-term memory is off',
  })
  @ApiEnvelope()
  async updateSummary(
    @CurrentAccount() accountId: string,
    @Param('app_id') appId: string,
    @Body() body: UpdateSummaryReqDto,
  ): Promise<void> {
    await this.debug.updateSummary(accountId, appId, body.summary ?? '');
  }
}
