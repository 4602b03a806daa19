import { raceAbort, safeError, settledWithin, SseStream } from '@app/common';
import { AppConfig } from '@app/config';
import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { AppModelConfig, ReviewConfig } from 'src/modules/app/config/app-config.types';
import { modelErrorMessage } from 'src/modules/model/runtime/model-error';
import {
  ModelRuntime,
  type RuntimeChatModel,
} from 'src/modules/model/runtime/model-runtime.service';
import { messagesPackage } from 'src/modules/model/runtime/provider-packages';
import { ConversationService } from '../conversation.service';
import type { ConversationEntity } from '../entities/conversation.entity';
import type { MessageEntity, MessageStatus } from '../entities/message.entity';
import { agentSystemPrompt, SUMMARY_SYSTEM_PROMPT, summaryRequest } from './agent-prompts';
import { AgentRunner, contentText } from './agent-runner.service';
import { AgentTasks, TurnAbort } from './agent-tasks.service';
import type { AgentEvent, AgentTool } from './agent.types';
import { fitRounds, messageTokens, promptBudget, type Round } from './chat-memory';
import { type AgentFrame, TurnRecorder } from './turn-recorder';
import { UploadFileService } from 'src/modules/dataset/uploads/upload-file.service';

/** Everything one turn needs, whatever the surface (debugger, web app, service API, assistant). */
export interface TurnSpec {
  /** Whose credentials, usage and data. */
  accountId: string;
  conversation: ConversationEntity;
  query: string;
  imageUrls: string[];
  model: AppModelConfig;
  /** Recorded with each model call's usage, e.g. `app.debugger`. */
  usageSource: string;
  presetPrompt: string;
  tools: AgentTool[];
  dialogRound: number;
  longTermMemory: boolean;
  review: ReviewConfig | null;
  /** Added to every frame's data (the service API adds `end_user_id`). */
  frameFields?: Record<string, string>;
  /**
   * Who may stop the turn by its task id (the AgentTasks key); the account when absent. Web apps
   * use the end user's id, so only the visitor who started a turn can stop it.
   */
  taskOwner?: string;
  /**
   * Earlier rounds given by the caller (the OpenAI-compatible API sends its own history), used
   * instead of the conversation's stored rounds; still cut to `dialogRound` and the context window.
   */
  history?: Round[];
  /**
   * The conversation was created for this turn: when the turn cannot start (no credentials for
   * the model, say), it is removed rather than left empty in a list.
   */
  newConversation?: boolean;
}

/** A turn ready to stream: its message row exists, its model is built. */
export interface PreparedTurn {
  spec: TurnSpec;
  taskId: string;
  message: MessageEntity;
  /** Null when the input review answers without a model. */
  chat: RuntimeChatModel | null;
  presetResponse: string | null;
}

/** Where a turn's frames go (an SSE stream); `end` right after the closing frame. */
export interface TurnOutput {
  send(event: AgentEvent, data: AgentFrame): void;
  end(): void;
}

export interface TurnResult {
  status: MessageStatus;
  answer: string;
}

/** What the closing frame of each outcome is called. */
const CLOSING_EVENT: Record<MessageStatus, AgentEvent> = {
  normal: 'agent_end',
  stop: 'stop',
  timeout: 'timeout',
  error: 'error',
};

/** How long a shutdown waits for stopped turns to store their messages. */
const SHUTDOWN_STORE_MS = 3_000;

/** Tokens of the tool definitions sent with each call, roughly, for the memory budget. */
const TOOL_DEFINITION_TOKENS = 150;

/**
 * One agent turn from the query to the stored message, for every chat surface:
 * - `prepare` (before the stream opens, so its errors answer as JSON envelopes) checks the input
 *   review, builds the model and creates the message row;
 * - `run` streams the frames, bounded by AGENT_RUN_TIMEOUT_SECONDS and stoppable by task id from
 *   any process; it never depends on the client: a client that leaves stops receiving frames,
 *   the turn goes on to its end and the message and its steps are stored all the same. The
 *   message is stored before the closing frame (agent_end, stop, timeout or error), so a client
 *   that saw the end reads it back; long-term memory is summarized after the stream ends.
 */
@Injectable()
export class ChatTurnService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('ChatTurn');
  /** Turns under way in this process, until their message is stored. */
  private readonly inflight = new Map<AbortController, Promise<unknown>>();

  constructor(
    private readonly config: AppConfig,
    private readonly runtime: ModelRuntime,
    private readonly runner: AgentRunner,
    private readonly tasks: AgentTasks,
    private readonly conversations: ConversationService,
    private readonly uploads: UploadFileService,
  ) {}

  async prepare(spec: TurnSpec): Promise<PreparedTurn> {
    const presetResponse = inputHit(spec.review, spec.query);
    try {
      const chat =
        presetResponse === null
          ? await this.runtime.chat(spec.model, {
              accountId: spec.accountId,
              source: spec.usageSource,
              parameterMode: 'lenient',
            })
          : null;
      const message = await this.conversations.startMessage({
        conversation: spec.conversation,
        query: spec.query,
        imageUrls: spec.imageUrls,
      });
      return { spec, taskId: randomUUID(), message, chat, presetResponse };
    } catch (err) {
      if (spec.newConversation) await this.conversations.discardUnused(spec.conversation.id);
      throw err;
    }
  }

  /**
   * Runs the turn as an SSE response: frames as they come, a `ping` event (with the frame shape)
   * every SSE_PING_INTERVAL_MS, the response ended right after the closing frame.
   */
  async stream(turn: PreparedTurn, req: Request, res: Response): Promise<TurnResult> {
    const pings = new TurnRecorder(this.idsOf(turn), () => undefined, null);
    const sse = new SseStream(req, res, {
      pingIntervalMs: this.config.env.SSE_PING_INTERVAL_MS,
      pingEvent: true,
      pingData: () => pings.frame('ping'),
    });
    sse.open();
    return this.run(turn, {
      send: (event, data) => void sse.send(event, data),
      end: () => sse.close(),
    });
  }

  /**
   * A shutdown stops the turns under way (status stop, what was answered kept) and waits a little
   * for their messages to be stored, before the database goes.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.inflight.size) return;
    for (const controller of this.inflight.keys())
      if (!controller.signal.aborted) controller.abort(new TurnAbort('stop'));
    await settledWithin(Promise.all(this.inflight.values()), SHUTDOWN_STORE_MS);
  }

  async run(turn: PreparedTurn, out: TurnOutput): Promise<TurnResult> {
    const controller = new AbortController();
    const running = this.runTurn(turn, out, controller);
    this.inflight.set(controller, running);
    try {
      return await running;
    } finally {
      this.inflight.delete(controller);
    }
  }

  private async runTurn(
    turn: PreparedTurn,
    out: TurnOutput,
    controller: AbortController,
  ): Promise<TurnResult> {
    const { spec } = turn;
    const started = performance.now();
    const unregister = this.tasks.register(
      turn.taskId,
      spec.taskOwner ?? spec.accountId,
      controller,
    );
    const timer = setTimeout(
      () => controller.abort(new TurnAbort('timeout')),
      this.config.env.AGENT_RUN_TIMEOUT_SECONDS * 1000,
    );
    const review = spec.review?.enable && spec.review.outputs_config.enable ? spec.review : null;
    const recorder = new TurnRecorder(
      this.idsOf(turn),
      (event, data) => out.send(event, data),
      review?.keywords ?? null,
    );
    let status: MessageStatus = 'normal';
    let error = '';
    try {
      if (turn.presetResponse !== null) recorder.say(turn.presetResponse);
      else await raceAbort(this.answer(turn, recorder, controller.signal), controller.signal);
    } catch (err) {
      const reason: unknown = controller.signal.reason;
      if (controller.signal.aborted && reason instanceof TurnAbort) status = reason.kind;
      else {
        status = 'error';
        error = modelErrorMessage(err);
        this.logger.warn({ err: safeError(err), task: turn.taskId }, 'Agent turn failed');
      }
    } finally {
      clearTimeout(timer);
      unregister();
      // Whatever still runs (a tool that ignores its signal) stops here.
      if (!controller.signal.aborted) controller.abort(new TurnAbort('stop'));
    }
    const steps = recorder.close();
    const latency = (performance.now() - started) / 1000;
    const usage = {
      message_token_count: recorder.promptTokens,
      answer_token_count: recorder.completionTokens,
      total_token_count: recorder.totalTokens,
      total_price: recorder.price,
    };
    try {
      await this.conversations.finishMessage(turn.message, {
        answer: recorder.answer,
        status,
        error,
        message_token_count: usage.message_token_count,
        answer_token_count: usage.answer_token_count,
        total_price: usage.total_price,
        latency,
        thoughts: steps,
      });
    } catch (err) {
      this.logger.error({ err: safeError(err), task: turn.taskId }, 'Agent message not stored');
    }
    const closing = recorder.frame(CLOSING_EVENT[status], {
      latency,
      ...usage,
      ...(status === 'error' ? { observation: error } : {}),
    });
    out.send(closing.event, closing);
    out.end();
    if (spec.longTermMemory && status === 'normal' && recorder.answer && turn.chat)
      await this.summarize(turn, recorder.answer);
    return { status, answer: recorder.answer };
  }

  private async answer(turn: PreparedTurn, recorder: TurnRecorder, signal: AbortSignal) {
    const { spec } = turn;
    const chat = turn.chat!;
    let summary = '';
    if (spec.longTermMemory) {
      summary = await this.conversations.summaryOf(spec.conversation.id);
      recorder.recall(summary);
    }
    const systemPrompt = agentSystemPrompt(spec.presetPrompt, summary);
    const maxOutput =
      typeof chat.parameters.max_tokens === 'number'
        ? chat.parameters.max_tokens
        : chat.catalog.max_output_tokens;
    const budget =
      promptBudget(chat.catalog.context_window, maxOutput) -
      messageTokens(systemPrompt) -
      messageTokens(spec.query) -
      spec.tools.length * TOOL_DEFINITION_TOKENS;
    const rounds = spec.history
      ? spec.dialogRound > 0
        ? spec.history.slice(-spec.dialogRound)
        : []
      : await this.conversations.recentRounds(spec.conversation.id, spec.dialogRound);
    await this.runner.run(
      {
        chat,
        systemPrompt,
        history: fitRounds(rounds, budget),
        query: spec.query,
        imageUrls: chat.catalog.features.includes('image_input')
          ? await Promise.all(
              spec.imageUrls.map(async (u) => (await this.uploads.imageDataUrl(u)) ?? u),
            )
          : [],
        tools: spec.tools,
        maxIterations: this.config.env.AGENT_MAX_ITERATIONS,
        signal,
      },
      recorder.sink,
    );
  }

  /** Long-term memory: the summary grows with the turn (a model call of the app's model). */
  private async summarize(turn: PreparedTurn, answer: string): Promise<void> {
    const { spec } = turn;
    try {
      const { model } = await this.runtime.chat(
        { ...spec.model, parameters: { ...spec.model.parameters, temperature: 0.5 } },
        {
          accountId: spec.accountId,
          source: `${spec.usageSource}.summary`,
          parameterMode: 'lenient',
        },
      );
      const previous = await this.conversations.summaryOf(spec.conversation.id);
      const { HumanMessage, SystemMessage } = messagesPackage();
      const res = await model.invoke([
        new SystemMessage(SUMMARY_SYSTEM_PROMPT),
        new HumanMessage(summaryRequest(previous, spec.query, answer)),
      ]);
      const summary = contentText(res.content).trim();
      if (summary) await this.conversations.setSummary(spec.conversation.id, summary);
    } catch (err) {
      this.logger.warn({ err: safeError(err), task: turn.taskId }, 'Summary not updated');
    }
  }

  private idsOf(turn: PreparedTurn) {
    return {
      ...turn.spec.frameFields,
      conversation_id: turn.spec.conversation.id,
      message_id: turn.message.id,
      task_id: turn.taskId,
    };
  }
}

/** Input review: the preset response when the query holds a keyword (case-sensitive, as the original). */
function inputHit(review: ReviewConfig | null, query: string): string | null {
  if (!review?.enable || !review.inputs_config.enable) return null;
  return review.keywords.some((k) => k && query.includes(k))
    ? review.inputs_config.preset_response
    : null;
}
