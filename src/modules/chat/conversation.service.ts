import { isUuid, NotFoundError, toPage, toUnix, type Page } from '@app/common';
import { insertRow } from '@app/database';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, LessThanOrEqual, Not, Repository, type FindOptionsWhere } from 'typeorm';
import type { AgentThoughtDto, ListMessagesReqDto, MessageItemDto } from './dto/conversation.dto';
import { ConversationEntity, type InvokeFrom } from './entities/conversation.entity';
import {
  MessageAgentThoughtEntity,
  type StoredThoughtEvent,
} from './entities/message-agent-thought.entity';
import { MessageEntity, type MessageStatus } from './entities/message.entity';
import { appsWithTraffic, appTrafficStats, type AppTrafficStats } from './message-stats';

const CONVERSATION_NOT_FOUND = 'The conversation does not exist';
const MESSAGE_NOT_FOUND = 'The message does not exist';
/** Message lists show finished answers only (the original's rule). */
const LISTED_STATUSES: MessageStatus[] = ['normal', 'stop'];

export interface NewConversation {
  accountId: string;
  appId: string | null;
  invokeFrom: InvokeFrom;
  createdBy: string;
  name?: string;
}

export interface NewMessage {
  conversation: ConversationEntity;
  query: string;
  imageUrls?: string[];
}

export interface StoredThought {
  event: StoredThoughtEvent;
  thought?: string;
  observation?: string;
  tool?: string;
  tool_input?: Record<string, unknown>;
  total_token_count?: number;
  total_price?: number;
  latency?: number;
}

export interface FinishedMessage {
  answer: string;
  status: MessageStatus;
  error?: string;
  message_token_count?: number;
  answer_token_count?: number;
  total_price?: number;
  latency: number;
  thoughts: StoredThought[];
}

/**
 * Conversations and their messages: the store every chat surface writes (debugger, web apps,
 * service API, assistant agent) and the console's reads of it. Console routes see only
 * conversations the account talks in itself; an app's owner reads its debug conversation
 * through the app routes.
 */
@Injectable()
export class ConversationService {
  constructor(
    @InjectRepository(ConversationEntity)
    private readonly conversations: Repository<ConversationEntity>,
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    @InjectRepository(MessageAgentThoughtEntity)
    private readonly thoughts: Repository<MessageAgentThoughtEntity>,
  ) {}

  // ---- for the service API (end users' conversations) ----

  /**
   * A conversation of the end user `endUserId` on the app `appId` of the account, from the
   * channel `invokeFrom` (not deleted), or null.
   */
  async ofEndUser(
    accountId: string,
    appId: string,
    endUserId: string,
    conversationId: string,
    invokeFrom: InvokeFrom,
  ): Promise<ConversationEntity | null> {
    if (!isUuid(conversationId) || !isUuid(endUserId)) return null;
    return this.conversations.findOne({
      where: {
        id: conversationId,
        account_id: accountId,
        app_id: appId,
        created_by: endUserId,
        invoke_from: invokeFrom,
        is_deleted: false,
      },
    });
  }

  // ---- end of the service API block ----

  // ---- reads ----

  /** A conversation the account itself talks in (not deleted), or not_found. */
  async own(accountId: string, conversationId: string): Promise<ConversationEntity> {
    if (!isUuid(conversationId)) throw new NotFoundError(CONVERSATION_NOT_FOUND);
    const row = await this.conversations.findOne({
      where: {
        id: conversationId,
        account_id: accountId,
        created_by: accountId,
        is_deleted: false,
      },
    });
    if (!row) throw new NotFoundError(CONVERSATION_NOT_FOUND);
    return row;
  }

  /** Like `own`, but null instead of not_found. */
  async ownOrNull(accountId: string, conversationId: string): Promise<ConversationEntity | null> {
    try {
      return await this.own(accountId, conversationId);
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  /**
   * Finished messages of a conversation, newest first: `created_at` (Unix seconds, 0 = none) is
   * a cursor (`created_at <= cursor`) combined with offset paging, as the console pages them.
   */
  async listMessages(conversationId: string, q: ListMessagesReqDto): Promise<Page<MessageItemDto>> {
    const where: FindOptionsWhere<MessageEntity> = {
      conversation_id: conversationId,
      is_deleted: false,
      status: In(LISTED_STATUSES),
      answer: Not(''),
      ...(q.created_at ? { created_at: LessThanOrEqual(new Date(q.created_at * 1000 + 999)) } : {}),
    };
    const size = q.page_size ?? 20;
    const page = q.current_page ?? 1;
    const [rows, total] = await this.messages.findAndCount({
      where,
      order: { created_at: 'DESC', id: 'DESC' },
      skip: (page - 1) * size,
      take: size,
    });
    return toPage(await this.withThoughts(rows), total, q);
  }

  /** Messages with their stored steps (one query for all steps of the page). */
  async withThoughts(rows: MessageEntity[]): Promise<MessageItemDto[]> {
    const steps = rows.length
      ? await this.thoughts.find({
          where: { message_id: In(rows.map((r) => r.id)) },
          order: { position: 'ASC' },
        })
      : [];
    const byMessage = new Map<string, AgentThoughtDto[]>();
    for (const s of steps) {
      const list = byMessage.get(s.message_id) ?? [];
      list.push({
        id: s.id,
        position: s.position,
        event: s.event,
        thought: s.thought,
        observation: s.observation,
        tool: s.tool,
        tool_input: s.tool_input,
        latency: s.latency,
        created_at: toUnix(s.created_at),
      });
      byMessage.set(s.message_id, list);
    }
    return rows.map((m) => ({
      id: m.id,
      conversation_id: m.conversation_id,
      query: m.query,
      image_urls: m.image_urls ?? [],
      answer: m.answer,
      total_token_count: m.total_token_count,
      latency: m.latency,
      agent_thoughts: byMessage.get(m.id) ?? [],
      created_at: toUnix(m.created_at),
    }));
  }

  /**
   * The query and answer of a message the account may follow up on (the AI helpers'
   * MESSAGE_LOOKUP): its own, or one it sent as a signed-in visitor of someone's web app (stored
   * under the app owner's account, by the visitor's end user).
   */
  async exchange(
    accountId: string,
    messageId: string,
  ): Promise<{ query: string; answer: string } | null> {
    if (!isUuid(messageId)) return null;
    const rows = await this.messages.query<Array<{ query: string; answer: string }>>(
      `SELECT m.query, m.answer FROM messages m
        WHERE m.id = $1 AND NOT m.is_deleted
          AND (m.account_id = $2
               OR (m.invoke_from = 'web_app' AND EXISTS (
                     SELECT 1 FROM end_users e
                      WHERE e.id = m.created_by AND e.created_by_account = $2)))`,
      [messageId, accountId],
    );
    return rows[0] ?? null;
  }

  // ---- console changes (on a conversation the caller was allowed to: own(), ConversationAccess) ----

  async rename(c: ConversationEntity, name: string): Promise<void> {
    await this.conversations.update({ id: c.id }, { name });
  }

  async pin(c: ConversationEntity, isPinned: boolean): Promise<void> {
    await this.conversations.update({ id: c.id }, { is_pinned: isPinned });
  }

  /** Soft delete: the conversation leaves every list; its messages stay for analysis. */
  async softDelete(c: ConversationEntity): Promise<void> {
    await this.conversations.update({ id: c.id }, { is_deleted: true });
  }

  /** Soft-deletes the account's own conversation. */
  async remove(accountId: string, conversationId: string): Promise<void> {
    await this.softDelete(await this.own(accountId, conversationId));
  }

  async removeMessage(c: ConversationEntity, messageId: string): Promise<void> {
    if (!isUuid(messageId)) throw new NotFoundError(MESSAGE_NOT_FOUND);
    const res = await this.messages.update(
      { id: messageId, conversation_id: c.id, is_deleted: false },
      { is_deleted: true },
    );
    if (!res.affected) throw new NotFoundError(MESSAGE_NOT_FOUND);
  }

  // ---- the assistant agent's conversation (one live per account, created on first use) ----

  async assistantConversation(accountId: string): Promise<ConversationEntity | null> {
    return this.conversations.findOne({
      where: {
        account_id: accountId,
        created_by: accountId,
        invoke_from: 'assistant_agent',
        is_deleted: false,
      },
      order: { created_at: 'DESC' },
    });
  }

  async listAssistantMessages(
    accountId: string,
    q: ListMessagesReqDto,
  ): Promise<Page<MessageItemDto>> {
    const c = await this.assistantConversation(accountId);
    return c ? this.listMessages(c.id, q) : toPage([], 0, q);
  }

  /** Detaches the assistant conversation: the next chat starts a new one. */
  async removeAssistantConversation(accountId: string): Promise<void> {
    await this.conversations.update(
      {
        account_id: accountId,
        created_by: accountId,
        invoke_from: 'assistant_agent',
        is_deleted: false,
      },
      { is_deleted: true },
    );
  }

  /**
   * Short-term memory: the last `rounds` finished exchanges of a conversation (an answer, status
   * normal or stop, not deleted), oldest first.
   */
  async recentRounds(
    conversationId: string,
    rounds: number,
  ): Promise<Array<{ query: string; answer: string }>> {
    if (rounds <= 0) return [];
    const rows = await this.messages.find({
      select: { id: true, query: true, answer: true },
      where: {
        conversation_id: conversationId,
        is_deleted: false,
        status: In(LISTED_STATUSES),
        answer: Not(''),
      },
      order: { created_at: 'DESC', id: 'DESC' },
      take: rounds,
    });
    return rows.reverse().map((m) => ({ query: m.query, answer: m.answer }));
  }

  async summaryOf(conversationId: string): Promise<string> {
    const row = await this.conversations.findOne({
      select: { id: true, summary: true },
      where: { id: conversationId },
    });
    return row?.summary ?? '';
  }

  /** Long-term memory: the conversation's running summary. */
  async setSummary(conversationId: string, summary: string): Promise<void> {
    await this.conversations.update({ id: conversationId }, { summary });
  }

  // ---- writes of the chat runners ----

  async createConversation(c: NewConversation): Promise<ConversationEntity> {
    return insertRow(this.conversations, {
      account_id: c.accountId,
      app_id: c.appId,
      invoke_from: c.invokeFrom,
      created_by: c.createdBy,
      ...(c.name ? { name: c.name.slice(0, 255) } : {}),
    });
  }

  /**
   * Removes a conversation this request created when its first turn could not start (no model
   * credentials, say): nothing would ever be said in it. One with messages is left alone.
   */
  async discardUnused(conversationId: string): Promise<void> {
    await this.conversations.query(
      `DELETE FROM conversations c
        WHERE c.id = $1 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id)`,
      [conversationId],
    );
  }

  /** The row of a message being answered (status `normal`, empty answer until it finishes). */
  async startMessage(m: NewMessage): Promise<MessageEntity> {
    return insertRow(this.messages, {
      account_id: m.conversation.account_id,
      app_id: m.conversation.app_id,
      conversation_id: m.conversation.id,
      invoke_from: m.conversation.invoke_from,
      created_by: m.conversation.created_by,
      query: m.query,
      image_urls: m.imageUrls ?? [],
    });
  }

  /**
   * Stores the answer, how it ended, its cost and its steps: one statement (the UPDATE and the
   * steps' INSERT in a CTE), so it is atomic without a transaction's BEGIN and COMMIT round trips.
   * A message deleted meanwhile (its conversation removed during the turn) gets no steps.
   */
  async finishMessage(message: MessageEntity, f: FinishedMessage): Promise<void> {
    const messageTokens = f.message_token_count ?? 0;
    const answerTokens = f.answer_token_count ?? 0;
    const steps = f.thoughts;
    await this.messages.query(
      `WITH m AS (
         UPDATE messages
            SET answer = $2, status = $3, error = $4, message_token_count = $5,
                answer_token_count = $6, total_token_count = $7, total_price = $8, latency = $9,
                updated_at = CURRENT_TIMESTAMP
          WHERE id = $1
         RETURNING id, account_id, conversation_id)
       INSERT INTO message_agent_thoughts
              (account_id, message_id, conversation_id, position, event, thought, observation,
               tool, tool_input, total_token_count, total_price, latency)
       SELECT m.account_id, m.id, m.conversation_id, s.position, s.event, s.thought,
              s.observation, s.tool, s.tool_input, s.total_token_count, s.total_price, s.latency
         FROM m,
              unnest($10::int[], $11::text[], $12::text[], $13::text[], $14::text[],
                     $15::jsonb[], $16::int[], $17::numeric[], $18::float8[])
                AS s(position, event, thought, observation, tool, tool_input, total_token_count,
                     total_price, latency)`,
      [
        message.id,
        f.answer,
        f.status,
        f.error ?? '',
        messageTokens,
        answerTokens,
        messageTokens + answerTokens,
        f.total_price ?? 0,
        f.latency,
        steps.map((_, i) => i + 1),
        steps.map((t) => t.event),
        steps.map((t) => t.thought ?? ''),
        steps.map((t) => t.observation ?? ''),
        steps.map((t) => t.tool ?? ''),
        steps.map((t) => JSON.stringify(t.tool_input ?? {})),
        steps.map((t) => t.total_token_count ?? 0),
        steps.map((t) => t.total_price ?? 0),
        steps.map((t) => t.latency ?? 0),
      ],
    );
  }

  // ---- analysis reads (the analysis module aggregates an app's traffic through these) ----

  /** Per-day and per-period sums of an app's traffic (message-stats.ts says what counts). */
  appTrafficStats(appId: string, bounds: Date[], split: number): Promise<AppTrafficStats> {
    return appTrafficStats(this.messages.manager, appId, bounds, split);
  }

  /** Ids of the apps with traffic in [from, to). */
  appsWithTraffic(from: Date, to: Date): Promise<string[]> {
    return appsWithTraffic(this.messages.manager, from, to);
  }
}
