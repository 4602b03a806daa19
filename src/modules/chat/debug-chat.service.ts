import { FailException, toPage, type Page } from '@app/common';
import { Injectable } from '@nestjs/common';
import { AppService } from 'src/modules/app/services/app.service';
import { AgentTasks } from './agent/agent-tasks.service';
import { AgentToolFactory } from './agent/agent-tools.service';
import { ChatTurnService, type PreparedTurn } from './agent/chat-turn.service';
import { ConversationService } from './conversation.service';
import type { AgentChatReqDto, ListMessagesReqDto, MessageItemDto } from './dto/conversation.dto';
import type { ConversationEntity } from './entities/conversation.entity';

const LONG_TERM_MEMORY_OFF = 'Long-term memory is not enabled for this app';

/**
 * The app editor's debug chat: turns on the DRAFT config in the app's debug conversation
 * (created on the first turn, kept in apps.debug_conversation_id, detached by "clear"), its
 * messages, stop, and the conversation's long-term memory.
 */
@Injectable()
export class DebugChatService {
  constructor(
    private readonly apps: AppService,
    private readonly conversations: ConversationService,
    private readonly toolFactory: AgentToolFactory,
    private readonly turns: ChatTurnService,
    private readonly tasks: AgentTasks,
  ) {}

  /** Everything before the stream opens: not_found, credentials and model errors answer as JSON. */
  async prepare(accountId: string, appId: string, body: AgentChatReqDto): Promise<PreparedTurn> {
    const app = await this.apps.draftForRun(accountId, appId);
    const { config } = app;
    const conversation = await this.debugConversation(
      accountId,
      app.appId,
      app.debugConversationId,
    );
    const tools = await this.toolFactory.forApp(accountId, app.appId, config);
    return this.turns.prepare({
      accountId,
      conversation,
      query: body.query,
      imageUrls: body.image_urls ?? [],
      model: config.model_config,
      usageSource: 'app.debugger',
      presetPrompt: config.preset_prompt,
      tools,
      dialogRound: config.dialog_round,
      longTermMemory: config.long_term_memory.enable,
      review: config.review_config,
    });
  }

  async stop(accountId: string, appId: string, taskId: string): Promise<void> {
    await this.apps.get(accountId, appId);
    await this.tasks.stop(accountId, taskId);
  }

  async messages(
    accountId: string,
    appId: string,
    q: ListMessagesReqDto,
  ): Promise<Page<MessageItemDto>> {
    const app = await this.apps.get(accountId, appId);
    return app.debug_conversation_id
      ? this.conversations.listMessages(app.debug_conversation_id, q)
      : toPage([], 0, q);
  }

  async deleteDebugConversation(accountId: string, appId: string): Promise<void> {
    await this.apps.detachDebugConversation(accountId, appId);
  }

  async summary(accountId: string, appId: string): Promise<string> {
    const app = await this.apps.draftForRun(accountId, appId);
    if (!app.config.long_term_memory.enable) throw new FailException(LONG_TERM_MEMORY_OFF);
    if (!app.debugConversationId) return '';
    const c = await this.conversations.ownOrNull(accountId, app.debugConversationId);
    return c?.summary ?? '';
  }

  async updateSummary(accountId: string, appId: string, summary: string): Promise<void> {
    const app = await this.apps.draftForRun(accountId, appId);
    if (!app.config.long_term_memory.enable) throw new FailException(LONG_TERM_MEMORY_OFF);
    const c = await this.debugConversation(accountId, app.appId, app.debugConversationId);
    await this.conversations.setSummary(c.id, summary);
  }

  /** The app's debug conversation; a new one when there is none (or it was deleted). */
  private async debugConversation(
    accountId: string,
    appId: string,
    currentId: string | null,
  ): Promise<ConversationEntity> {
    const current = currentId ? await this.conversations.ownOrNull(accountId, currentId) : null;
    if (current) return current;
    const created = await this.conversations.createConversation({
      accountId,
      appId,
      invokeFrom: 'debugger',
      createdBy: accountId,
    });
    const attached = await this.apps.attachDebugConversation(
      accountId,
      appId,
      created.id,
      currentId,
    );
    if (attached === created.id) return created;
    // A concurrent first turn attached its own: both talk in that one.
    await this.conversations.remove(accountId, created.id);
    return this.conversations.own(accountId, attached);
  }
}
