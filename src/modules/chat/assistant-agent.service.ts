import { safeError } from '@app/common';
import { AppConfig } from '@app/config';
import { JobQueue } from '@app/queue';
import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AgentTasks } from './agent/agent-tasks.service';
import type { AgentTool } from './agent/agent.types';
import { ChatTurnService, type PreparedTurn } from './agent/chat-turn.service';
import { ConversationService } from './conversation.service';
import type { AgentChatReqDto } from './dto/conversation.dto';

/** Who the assistant is (its preset prompt). */
const ASSISTANT_PROMPT = `You are the LLMOps assistant on the home page of the LLMOps console. You help users understand and use the platform: agent apps (a model, a preset prompt, tools, knowledge bases, workflows, long-term memory), publishing apps as web apps or through the API, knowledge bases, workflows and model providers.

When the user asks you to create an app (an agent, a bot, an assistant...), call the create_app tool with a short name, a description of what the app does, and a complete preset prompt for it (its role, skills, constraints and answer format). Then tell the user that the app is being created and will appear in their app list, where they can edit and publish it. Never claim to have created an app without calling the tool.`;

/** The assistant's memory: the last rounds of its conversation, plus a running summary. */
const DIALOG_ROUND = 3;

const clip = (v: unknown, max: number): string =>
  typeof v === 'string' ? v.trim().slice(0, max) : '';

/**
 * The assistant agent on the console's home page: one live conversation per account (the
 * original's), a chat on ASSISTANT_AGENT_MODEL (with the user's credentials for its provider,
 * else the server's) with long-term memory, and a tool that creates an app for the user through
 * a queued job (`app.create-app`).
 */
@Injectable()
export class AssistantAgentService {
  private readonly logger = new Logger('AssistantAgent');
  private readonly provider: string;
  private readonly model: string;

  constructor(
    private readonly config: AppConfig,
    private readonly conversations: ConversationService,
    private readonly turns: ChatTurnService,
    private readonly tasks: AgentTasks,
    private readonly jobs: JobQueue,
  ) {
    const [provider, ...rest] = config.env.ASSISTANT_AGENT_MODEL.split('/');
    this.provider = provider;
    this.model = rest.join('/');
  }

  /**
   * Before the stream opens. `origin` is where the console reached us: the icon of an app the
   * assistant creates is the model provider's icon there (the user can change it).
   */
  async prepare(accountId: string, body: AgentChatReqDto, origin: string): Promise<PreparedTurn> {
    const conversation =
      (await this.conversations.assistantConversation(accountId)) ??
      (await this.conversations.createConversation({
        accountId,
        appId: null,
        invokeFrom: 'assistant_agent',
        createdBy: accountId,
      }));
    const base = (this.config.env.PUBLIC_BASE_URL ?? origin).replace(/\/+$/, '');
    return this.turns.prepare({
      accountId,
      conversation,
      query: body.query,
      imageUrls: body.image_urls ?? [],
      model: { provider: this.provider, model: this.model, parameters: { temperature: 0.8 } },
      usageSource: 'assistant_agent',
      presetPrompt: ASSISTANT_PROMPT,
      tools: [this.createAppTool(accountId, `${base}/language-models/${this.provider}/icon`)],
      dialogRound: DIALOG_ROUND,
      longTermMemory: true,
      review: null,
    });
  }

  async stop(accountId: string, taskId: string): Promise<void> {
    await this.tasks.stop(accountId, taskId);
  }

  private createAppTool(accountId: string, icon: string): AgentTool {
    return {
      name: 'create_app',
      description:
        'Creates an agent app for the user in the background. Call it when the user asks for a new app, agent or bot.',
      schema: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'The app name, at most 40 characters' },
          description: {
            type: 'string',
            description: 'What the app does, in one or two sentences (at most 800 characters)',
          },
          preset_prompt: {
            type: 'string',
            description:
              'The app’s complete preset prompt: its role, skills, constraints and answer format (at most 2000 characters)',
          },
        },
        required: ['name', 'description'],
      },
      event: 'agent_action',
      call: async (args) => {
        const name = clip(args.name, 40);
        if (!name) return 'Error: invalid arguments: name must be a non-empty string';
        const description = clip(args.description, 800);
        const appId = randomUUID();
        try {
          const job = await this.jobs.enqueue(
            'app.create-app',
            {
              app_id: appId,
              account_id: accountId,
              name,
              description,
              preset_prompt: clip(args.preset_prompt, 2000),
              icon,
            },
            { accountId, key: `${appId}:create-app` },
          );
          return JSON.stringify({
            status: 'creating',
            job_id: job.id,
            name,
            description,
            message: `The app "${name}" is being created in the background; it will appear in the app list in a moment.`,
          });
        } catch (err) {
          this.logger.warn({ err: safeError(err) }, 'create_app job not queued');
          return 'Error: the app could not be queued for creation right now; try again later';
        }
      },
    };
  }
}
