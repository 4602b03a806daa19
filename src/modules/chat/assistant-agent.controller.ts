import { ApiEnvelope, ConsolePost, CurrentAccount, Page } from '@app/common';
import { Body, Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AGENT_STREAM_DESCRIPTION } from './agent/agent-stream.doc';
import { ChatTurnService } from './agent/chat-turn.service';
import { AssistantAgentService } from './assistant-agent.service';
import { ConversationService } from './conversation.service';
import { AgentChatReqDto, ListMessagesReqDto, MessageItemDto } from './dto/conversation.dto';

/** The assistant agent's conversation on the console's home page. */
@ApiTags('assistant-agent')
@ApiBearerAuth('jwt')
@Controller('assistant-agent')
export class AssistantAgentController {
  constructor(
    private readonly conversations: ConversationService,
    private readonly assistant: AssistantAgentService,
    private readonly turns: ChatTurnService,
  ) {}

  @ConsolePost('chat', 'Answered')
  @ApiProduces('text/event-stream')
  @ApiOperation({
    operationId: 'assistantAgentChat',
    summary:
      'Chat with the assistant agent (SSE stream); it can create an app for you (a queued job)',
    description: AGENT_STREAM_DESCRIPTION,
  })
  async chat(
    @CurrentAccount() accountId: string,
    @Body() body: AgentChatReqDto,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const origin = `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    const turn = await this.assistant.prepare(accountId, body, origin);
    await this.turns.stream(turn, req, res);
  }

  @ConsolePost('chat/:task_id/stop', 'Stopped')
  @ApiOperation({
    operationId: 'stopAssistantAgentChat',
    summary:
      'Stop your running assistant turn by its task_id (from any API process); the partial answer is stored with status stop',
  })
  @ApiEnvelope()
  async stop(@CurrentAccount() accountId: string, @Param('task_id') taskId: string): Promise<void> {
    await this.assistant.stop(accountId, taskId);
  }

  @Get('messages')
  @ApiOperation({
    operationId: 'listAssistantAgentMessages',
    summary:
      'Your conversation with the assistant agent: finished messages, newest first, with their steps (an empty page before the first chat); created_at is a cursor as on conversation messages',
  })
  @ApiEnvelope(MessageItemDto, { paginated: true })
  messages(
    @CurrentAccount() accountId: string,
    @Query() q: ListMessagesReqDto,
  ): Promise<Page<MessageItemDto>> {
    return this.conversations.listAssistantMessages(accountId, q);
  }

  @ConsolePost('delete-conversation', 'Assistant conversation cleared')
  @ApiOperation({
    operationId: 'deleteAssistantAgentConversation',
    summary: 'Start over: the current conversation is detached; the next chat begins a new one',
  })
  @ApiEnvelope()
  async remove(@CurrentAccount() accountId: string): Promise<void> {
    await this.conversations.removeAssistantConversation(accountId);
  }
}
