import { ApiEnvelope, ConsolePost, Page, Public } from '@app/common';
import { Body, Controller, Get, Param, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ConversationService } from './conversation.service';
import {
  ConversationNameDto,
  ListMessagesReqDto,
  MessageItemDto,
  UpdateConversationNameReqDto,
  UpdateConversationPinReqDto,
} from './dto/conversation.dto';
import { ConversationAccess } from './web-app/conversation-access.service';

/**
 * The console's routes on a conversation (the web-app page, the assistant): for a signed-in
 * account on the conversations it talks in, and for a web-app visitor (the account's end user or
 * the anonymous visitor's signed cookie) on their own web-app conversations while the app is
 * published. Public to the global guard: ConversationAccess checks the token or the cookie itself.
 */
@ApiTags('conversations')
@ApiBearerAuth('jwt')
@Public()
@Controller('conversations')
export class ConversationController {
  constructor(
    private readonly conversations: ConversationService,
    private readonly access: ConversationAccess,
  ) {}

  @Get(':conversation_id/messages')
  @ApiOperation({
    operationId: 'listConversationMessages',
    summary:
      'Finished messages (status normal or stop, non-empty answer), newest first, with their steps; created_at is a cursor (created_at <= it; 0 = none) combined with paging',
  })
  @ApiEnvelope(MessageItemDto, { paginated: true })
  async messages(
    @Req() req: Request,
    @Param('conversation_id') id: string,
    @Query() q: ListMessagesReqDto,
  ): Promise<Page<MessageItemDto>> {
    const c = await this.access.resolve(req, id);
    return this.conversations.listMessages(c.id, q);
  }

  @Get(':conversation_id/name')
  @ApiOperation({ operationId: 'getConversationName', summary: 'The conversation’s name' })
  @ApiEnvelope(ConversationNameDto)
  async name(
    @Req() req: Request,
    @Param('conversation_id') id: string,
  ): Promise<ConversationNameDto> {
    return { name: (await this.access.resolve(req, id)).name };
  }

  @ConsolePost(':conversation_id/name', 'Conversation renamed')
  @ApiOperation({ operationId: 'renameConversation', summary: 'Rename (1-100 characters)' })
  @ApiEnvelope()
  async rename(
    @Req() req: Request,
    @Param('conversation_id') id: string,
    @Body() body: UpdateConversationNameReqDto,
  ): Promise<void> {
    await this.conversations.rename(await this.access.resolve(req, id), body.name);
  }

  @ConsolePost(':conversation_id/is-pinned', 'Conversation pin updated')
  @ApiOperation({
    operationId: 'pinConversation',
    summary: 'Pin or unpin (is_pinned, default false)',
  })
  @ApiEnvelope()
  async pin(
    @Req() req: Request,
    @Param('conversation_id') id: string,
    @Body() body: UpdateConversationPinReqDto,
  ): Promise<void> {
    await this.conversations.pin(await this.access.resolve(req, id), body.is_pinned ?? false);
  }

  @ConsolePost(':conversation_id/delete', 'Conversation deleted')
  @ApiOperation({
    operationId: 'deleteConversation',
    summary: 'Delete (soft: the messages stay for analysis)',
  })
  @ApiEnvelope()
  async remove(@Req() req: Request, @Param('conversation_id') id: string): Promise<void> {
    await this.conversations.softDelete(await this.access.resolve(req, id));
  }

  @ConsolePost(':conversation_id/messages/:message_id/delete', 'Message deleted')
  @ApiOperation({ operationId: 'deleteConversationMessage', summary: 'Delete one message (soft)' })
  @ApiEnvelope()
  async removeMessage(
    @Req() req: Request,
    @Param('conversation_id') id: string,
    @Param('message_id') messageId: string,
  ): Promise<void> {
    await this.conversations.removeMessage(await this.access.resolve(req, id), messageId);
  }
}
