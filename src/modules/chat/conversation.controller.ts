import { ApiEnvelope, ConsolePost, CurrentAccount, Page } from '@app/common';
import { Body, Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ConversationService } from './conversation.service';
import {
  ConversationNameDto,
  ListMessagesReqDto,
  MessageItemDto,
  UpdateConversationNameReqDto,
  UpdateConversationPinReqDto,
} from './dto/conversation.dto';

/** The console's routes on a conversation the account talks in (web-app page, assistant). */
@ApiTags('conversations')
@ApiBearerAuth('jwt')
@Controller('conversations')
export class ConversationController {
  constructor(private readonly conversations: ConversationService) {}

  @Get(':conversation_id/messages')
  @ApiOperation({
    operationId: 'listConversationMessages',
    summary:
      'Finished messages (status normal or stop, non-empty answer), newest first, with their steps; created_at is a cursor (created_at <= it; 0 = none) combined with paging',
  })
  @ApiEnvelope(MessageItemDto, { paginated: true })
  async messages(
    @CurrentAccount() accountId: string,
    @Param('conversation_id') id: string,
    @Query() q: ListMessagesReqDto,
  ): Promise<Page<MessageItemDto>> {
    const c = await this.conversations.own(accountId, id);
    return this.conversations.listMessages(c.id, q);
  }

  @Get(':conversation_id/name')
  @ApiOperation({ operationId: 'getConversationName', summary: 'The conversation’s name' })
  @ApiEnvelope(ConversationNameDto)
  async name(
    @CurrentAccount() accountId: string,
    @Param('conversation_id') id: string,
  ): Promise<ConversationNameDto> {
    return { name: (await this.conversations.own(accountId, id)).name };
  }

  @ConsolePost(':conversation_id/name', 'Conversation renamed')
  @ApiOperation({ operationId: 'renameConversation', summary: 'Rename (1-100 characters)' })
  @ApiEnvelope()
  async rename(
    @CurrentAccount() accountId: string,
    @Param('conversation_id') id: string,
    @Body() body: UpdateConversationNameReqDto,
  ): Promise<void> {
    await this.conversations.rename(accountId, id, body.name);
  }

  @ConsolePost(':conversation_id/is-pinned', 'Conversation pin updated')
  @ApiOperation({
    operationId: 'pinConversation',
    summary: 'Pin or unpin (is_pinned, default false)',
  })
  @ApiEnvelope()
  async pin(
    @CurrentAccount() accountId: string,
    @Param('conversation_id') id: string,
    @Body() body: UpdateConversationPinReqDto,
  ): Promise<void> {
    await this.conversations.pin(accountId, id, body.is_pinned ?? false);
  }

  @ConsolePost(':conversation_id/delete', 'Conversation deleted')
  @ApiOperation({
    operationId: 'deleteConversation',
    summary: 'Delete (soft: the messages stay for analysis)',
  })
  @ApiEnvelope()
  async remove(
    @CurrentAccount() accountId: string,
    @Param('conversation_id') id: string,
  ): Promise<void> {
    await this.conversations.remove(accountId, id);
  }

  @ConsolePost(':conversation_id/messages/:message_id/delete', 'Message deleted')
  @ApiOperation({ operationId: 'deleteConversationMessage', summary: 'Delete one message (soft)' })
  @ApiEnvelope()
  async removeMessage(
    @CurrentAccount() accountId: string,
    @Param('conversation_id') id: string,
    @Param('message_id') messageId: string,
  ): Promise<void> {
    await this.conversations.removeMessage(accountId, id, messageId);
  }
}
