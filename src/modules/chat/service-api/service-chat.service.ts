import { NotFoundError, SseStream, ValidateError } from '@app/common';
import { AppConfig } from '@app/config';
import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppService } from 'src/modules/app/services/app.service';
import { AgentToolFactory } from '../agent/agent-tools.service';
import type { AgentEvent } from '../agent/agent.types';
import type { Round } from '../agent/chat-memory';
import {
  ChatTurnService,
  type PreparedTurn,
  type TurnOutput,
  type TurnResult,
} from '../agent/chat-turn.service';
import { type AgentFrame, TurnRecorder } from '../agent/turn-recorder';
import { ConversationService } from '../conversation.service';
import { EndUserService } from '../end-user.service';
import type { ServiceAgentThoughtDto, ServiceChatResDto } from './service-chat.dto';

export const END_USER_NOT_FOUND = 'The end user does not exist for this app';
export const SERVICE_CONVERSATION_NOT_FOUND =
  'The conversation does not exist for this app, channel and end user';

export interface ServiceTurnRequest {
  appId: string;
  endUserId?: string;
  conversationId?: string;
  query: string;
  /** The caller's own history (the OpenAI-compatible API) instead of the stored rounds. */
  history?: Round[];
  /** Images of the query (http(s) URLs), for models with the image_input feature. */
  imageUrls?: string[];
  /** Recorded with each model call's usage. */
  usageSource: string;
  /** An `endUserId` that is not an end user of the app makes a new one (instead of not_found). */
  newEndUserIfUnknown?: boolean;
}

/** A prepared service-API turn and who it is for. */
export interface ServiceTurn {
  turn: PreparedTurn;
  endUserId: string;
  appName: string;
}

/** Every frame of a turn as it was sent, and the result. */
export interface CollectedTurn {
  frames: Array<{ event: AgentEvent; data: AgentFrame }>;
  result: TurnResult;
}

/**
 * Turns of the service API (`/openapi/chat`, `/v1/chat/completions`) on an API key: the key's
 * account's PUBLISHED app config (invoke_from `service_api`), an end user of the app (created
 * when none is given) and a `service_api` conversation of that end user (created when none is
 * given). Everything before the stream opens fails as JSON (404 for another account's app, an
 * unpublished app, an unknown end user or a conversation of another end user).
 */
@Injectable()
export class ServiceChatService {
  constructor(
    private readonly config: AppConfig,
    private readonly apps: AppService,
    private readonly endUsers: EndUserService,
    private readonly conversations: ConversationService,
    private readonly toolFactory: AgentToolFactory,
    private readonly turns: ChatTurnService,
  ) {}

  async prepare(accountId: string, r: ServiceTurnRequest): Promise<ServiceTurn> {
    if (r.conversationId && !r.endUserId) {
      throw new ValidateError(
        { end_user_id: ['end_user_id is required with conversation_id'] },
        'end_user_id is required with conversation_id',
      );
    }
    const app = await this.apps.publishedForRun(accountId, r.appId);
    const { config } = app;
    // The end user and the app's tools are independent: looked up together.
    const [known, tools] = await Promise.all([
      this.knownEndUser(accountId, app.appId, r),
      this.toolFactory.forApp(accountId, app.appId, config),
    ]);
    const endUserId = known ?? (await this.endUsers.create(accountId, app.appId)).id;
    try {
      return await this.prepareTurn(accountId, r, app, tools, endUserId);
    } catch (err) {
      // A turn that cannot start leaves no end user behind that it made for itself.
      if (!known) await this.endUsers.discardUnused(endUserId);
      throw err;
    }
  }

  private async prepareTurn(
    accountId: string,
    r: ServiceTurnRequest,
    app: Awaited<ReturnType<AppService['publishedForRun']>>,
    tools: Awaited<ReturnType<AgentToolFactory['forApp']>>,
    endUserId: string,
  ): Promise<ServiceTurn> {
    const { config } = app;
    const conversation = r.conversationId
      ? await this.conversations.ofEndUser(
          accountId,
          app.appId,
          endUserId,
          r.conversationId,
          'service_api',
        )
      : await this.conversations.createConversation({
          accountId,
          appId: app.appId,
          invokeFrom: 'service_api',
          createdBy: endUserId,
        });
    if (!conversation) throw new NotFoundError(SERVICE_CONVERSATION_NOT_FOUND);
    const turn = await this.turns.prepare({
      accountId,
      conversation,
      newConversation: !r.conversationId,
      query: r.query,
      imageUrls: r.imageUrls ?? [],
      model: config.model_config,
      usageSource: r.usageSource,
      presetPrompt: config.preset_prompt,
      tools,
      dialogRound: config.dialog_round,
      longTermMemory: config.long_term_memory.enable,
      review: config.review_config,
      ...(r.history ? { history: r.history } : {}),
    });
    return { turn, endUserId, appName: app.name };
  }

  /**
   * The given end user of the app; null when none is given, or an unknown one with
   * `newEndUserIfUnknown` (a new one is made then); not_found otherwise.
   */
  private async knownEndUser(
    accountId: string,
    appId: string,
    r: ServiceTurnRequest,
  ): Promise<string | null> {
    if (!r.endUserId) return null;
    const user = await this.endUsers.ofApp(accountId, appId, r.endUserId);
    if (user) return user.id;
    if (!r.newEndUserIfUnknown) throw new NotFoundError(END_USER_NOT_FOUND);
    return null;
  }

  /** The agent frames as SSE (CONSOLE-SHAPES §5), `end_user_id` on every frame (pings too). */
  async stream(t: ServiceTurn, req: Request, res: Response): Promise<TurnResult> {
    const ids = {
      conversation_id: t.turn.spec.conversation.id,
      message_id: t.turn.message.id,
      task_id: t.turn.taskId,
    };
    const pings = new TurnRecorder(ids, () => undefined, null);
    const sse = new SseStream(req, res, {
      pingIntervalMs: this.config.env.SSE_PING_INTERVAL_MS,
      pingEvent: true,
      pingData: () => ({ ...pings.frame('ping'), end_user_id: t.endUserId }),
    });
    sse.open();
    return this.turns.run(t.turn, {
      send: (event, data) => void sse.send(event, { ...data, end_user_id: t.endUserId }),
      end: () => sse.close(),
    });
  }

  /** Runs the turn to its end, keeping every frame (the blocking answers). */
  async collect(t: ServiceTurn, onFrame?: TurnOutput['send']): Promise<CollectedTurn> {
    const frames: CollectedTurn['frames'] = [];
    const result = await this.turns.run(t.turn, {
      send: (event, data) => {
        frames.push({ event, data });
        onFrame?.(event, data);
      },
      end: () => undefined,
    });
    return { frames, result };
  }

  /** `/openapi/chat` with `stream: false` (CONSOLE-SHAPES §4.12). */
  blockingAnswer(t: ServiceTurn, c: CollectedTurn): ServiceChatResDto {
    const closing = c.frames.at(-1)?.data;
    return {
      id: t.turn.message.id,
      end_user_id: t.endUserId,
      conversation_id: t.turn.spec.conversation.id,
      query: t.turn.spec.query,
      answer: c.result.answer,
      total_token_count: closing?.total_token_count ?? 0,
      latency: closing?.latency ?? 0,
      agent_thoughts: thoughtsOf(c.frames),
    };
  }
}

/**
 * The turn's steps from its frames: `agent_message` deltas merged per step id (their last
 * latency), every other step as sent, the closing frame (agent_end, stop) last; pings skipped.
 */
export function thoughtsOf(frames: CollectedTurn['frames']): ServiceAgentThoughtDto[] {
  const steps = new Map<string, ServiceAgentThoughtDto>();
  for (const { event, data } of frames) {
    if (event === 'ping') continue;
    const seen = steps.get(data.id);
    if (seen && event === 'agent_message') {
      seen.thought += data.thought;
      seen.latency = data.latency;
      continue;
    }
    steps.set(data.id, {
      id: data.id,
      event,
      thought: data.thought,
      observation: data.observation,
      tool: data.tool,
      tool_input: data.tool_input,
      latency: data.latency,
      created_at: 0,
    });
  }
  return [...steps.values()];
}
