import { ForbiddenError, isUuid, NotFoundError, toUnix } from '@app/common';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Request, Response } from 'express';
import { AppService } from 'src/modules/app/services/app.service';
import { ModelCatalog } from 'src/modules/model/catalog/model-catalog.service';
import { Repository } from 'typeorm';
import { AgentTasks } from '../agent/agent-tasks.service';
import { AgentToolFactory } from '../agent/agent-tools.service';
import { ChatTurnService, type PreparedTurn } from '../agent/chat-turn.service';
import { ConversationService } from '../conversation.service';
import { ConversationEntity } from '../entities/conversation.entity';
import type { EndUserEntity } from '../entities/end-user.entity';
import { WebAppIdentity, type WebAppRef } from './web-app-identity.service';
import type {
  ListWebAppConversationsReqDto,
  WebAppChatReqDto,
  WebAppConversationDto,
  WebAppDto,
} from './web-app.dto';

const CONVERSATION_FORBIDDEN = 'This conversation does not belong to you on this web app';
/** The visitor's conversation list is short-lived UI state; a hard cap keeps it bounded. */
const MAX_LISTED_CONVERSATIONS = 500;

/**
 * The public web app of a published app (CONSOLE-SHAPES §4.10): its info, chat turns on the
 * PUBLISHED config through ChatTurnService (invoke_from web_app, the owner's credentials and
 * usage), stop, and the visitor's conversations. Who the visitor is: WebAppIdentity.
 */
@Injectable()
export class WebAppService {
  constructor(
    private readonly apps: AppService,
    private readonly catalog: ModelCatalog,
    private readonly identity: WebAppIdentity,
    private readonly conversations: ConversationService,
    private readonly toolFactory: AgentToolFactory,
    private readonly turns: ChatTurnService,
    private readonly tasks: AgentTasks,
    @InjectRepository(ConversationEntity)
    private readonly conversationRows: Repository<ConversationEntity>,
  ) {}

  async info(token: string): Promise<WebAppDto> {
    const app = await this.apps.webAppByToken(token);
    const { config } = app;
    return {
      id: app.appId,
      icon: app.icon,
      name: app.name,
      description: app.description,
      app_config: {
        opening_statement: config.opening_statement ?? '',
        opening_questions: config.opening_questions ?? [],
        suggested_after_answer: { enable: !!config.suggested_after_answer?.enable },
        text_to_speech: {
          enable: !!config.text_to_speech?.enable,
          voice: config.text_to_speech?.voice || 'echo',
          auto_play: !!config.text_to_speech?.auto_play,
        },
        speech_to_text: { enable: !!config.speech_to_text?.enable },
        features: this.featuresOf(config.model_config.provider, config.model_config.model),
      },
    };
  }

  /** Everything before the stream opens (not_found, forbidden, model errors answer as JSON). */
  async prepare(
    token: string,
    body: WebAppChatReqDto,
    req: Request,
    res: Response,
  ): Promise<PreparedTurn> {
    const app = await this.apps.webAppByToken(token);
    const ref: WebAppRef = { appId: app.appId, accountId: app.accountId };
    const user = await this.identity.currentOrCreate(req, res, ref);
    const { config } = app;
    const tools = await this.toolFactory.forApp(app.accountId, app.appId, config);
    const conversation = body.conversation_id
      ? await this.visitorConversation(ref, user, body.conversation_id)
      : await this.conversations.createConversation({
          accountId: app.accountId,
          appId: app.appId,
          invokeFrom: 'web_app',
          createdBy: user.id,
          name: 'New Conversation',
        });
    return this.turns.prepare({
      accountId: app.accountId,
      conversation,
      newConversation: !body.conversation_id,
      query: body.query,
      imageUrls: body.image_urls ?? [],
      model: config.model_config,
      usageSource: 'app.web_app',
      presetPrompt: config.preset_prompt,
      tools,
      dialogRound: config.dialog_round,
      longTermMemory: config.long_term_memory.enable,
      review: config.review_config,
      taskOwner: user.id,
    });
  }

  /** Stops the visitor's own running turn; anyone else's task (or an unknown one) is untouched. */
  async stop(token: string, taskId: string, req: Request): Promise<void> {
    const app = await this.apps.webAppByToken(token);
    const user = await this.identity.current(req, { appId: app.appId, accountId: app.accountId });
    if (user) await this.tasks.stop(user.id, taskId);
  }

  /** The visitor's non-deleted conversations on this web app, newest first. */
  async list(
    token: string,
    q: ListWebAppConversationsReqDto,
    req: Request,
  ): Promise<WebAppConversationDto[]> {
    const app = await this.apps.webAppByToken(token);
    const user = await this.identity.current(req, { appId: app.appId, accountId: app.accountId });
    if (!user) return [];
    const rows = await this.conversationRows.find({
      select: { id: true, name: true, summary: true, created_at: true },
      where: {
        account_id: app.accountId,
        app_id: app.appId,
        invoke_from: 'web_app',
        created_by: user.id,
        is_deleted: false,
        ...(q.is_pinned === undefined ? {} : { is_pinned: q.is_pinned }),
      },
      order: { created_at: 'DESC', id: 'DESC' },
      take: MAX_LISTED_CONVERSATIONS,
    });
    return rows.map((c) => ({
      id: c.id,
      name: c.name,
      summary: c.summary,
      created_at: toUnix(c.created_at),
    }));
  }

  /** A conversation the visitor may continue: this app, web_app, theirs, not deleted. */
  private async visitorConversation(
    app: WebAppRef,
    user: EndUserEntity,
    conversationId: string,
  ): Promise<ConversationEntity> {
    const row = isUuid(conversationId)
      ? await this.conversationRows.findOne({
          where: {
            id: conversationId,
            account_id: app.accountId,
            app_id: app.appId,
            invoke_from: 'web_app',
            created_by: user.id,
            is_deleted: false,
          },
        })
      : null;
    if (!row) throw new ForbiddenError(CONVERSATION_FORBIDDEN);
    return row;
  }

  /** The model's features from the catalog (none when the model is not in it any more). */
  private featuresOf(provider: string, model: string): string[] {
    try {
      return [...this.catalog.model(provider, model, 'chat').features];
    } catch (err) {
      if (err instanceof NotFoundError) return [];
      throw err;
    }
  }
}
