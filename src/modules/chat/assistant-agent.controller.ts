import { ApiEnvelope, ConsolePost, CurrentAccount, Page } from '@app/common';
import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ConversationService } from './conversation.service';
import { ListMessagesReqDto, MessageItemDto } from './dto/conversation.dto';

/** The assistant agent's conversation on the console's home page. */
@ApiTags('assistant-agent')
@ApiBearerAuth('jwt')
@Controller('assistant-agent')
export class AssistantAgentController {
  constructor(private readonly conversations: ConversationService) {}

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
