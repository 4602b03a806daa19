import { FailException } from '@app/common';
import { AppConfig } from '@app/config';
import { createGuardedAgent, createPolicyFetch, SsrfPolicy } from '@app/http';
import { ChatAnthropic } from '@langchain/anthropic';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import { ChatGoogleGenerativeAI, GoogleGenerativeAIEmbeddings } from '@langchain/google-genai';
import { ChatOllama, OllamaEmbeddings } from '@langchain/ollama';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Agent } from 'undici';
import { CatalogModel, ModelType } from '../catalog/catalog.schema';
import { ModelCatalog } from '../catalog/model-catalog.service';
import { normalizeParameters, ParameterValues, validateParameters } from '../catalog/parameters';
import { CredentialsService, ResolvedCredentials } from '../credentials.service';
import { UsageRecorder } from './usage-recorder';
import { UsageService } from './usage.service';

export interface ModelRef {
  provider: string;
  model: string;
  parameters?: Record<string, unknown> | null;
}

export interface RuntimeContext {
  /** Whose credentials and whose usage; null for server-side work. */
  accountId: string | null;
  /** Recorded with the usage, e.g. `app.debug`. */
  source: string;
  /** Limit of one call, streams included (default MODEL_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Retries on 429/5xx honouring Retry-After (default MODEL_MAX_RETRIES). */
  maxRetries?: number;
  /** `strict` (default) rejects bad parameters; `lenient` replaces them by defaults (stored configs). */
  parameterMode?: 'strict' | 'lenient';
}

export interface RuntimeChatModel {
  /** A LangChain chat model: invoke/stream/bindTools, pass `{signal}` to abort. */
  model: BaseChatModel;
  catalog: CatalogModel;
  parameters: ParameterValues;
  /** Holds the usage row of the last call (`usage.last`). */
  usage: UsageRecorder;
}

export interface RuntimeEmbeddings {
  embeddings: EmbeddingsInterface;
  catalog: CatalogModel;
}

/**
 * `@google/generative-ai` tees every stream into the chunks LangChain reads and an aggregated
 * `response` promise that nobody awaits; when the stream fails (connection drop, caller abort)
 * that promise rejects unhandled and Node exits. The caller still gets the error from the chunks.
 */
function handleStreamAggregate(model: BaseChatModel): void {
  const client = (model as unknown as { client?: Record<string, unknown> }).client;
  const original = client?.generateContentStream;
  if (!client || typeof original !== 'function') return;
  client.generateContentStream = async (...args: unknown[]) => {
    const result = (await original.apply(client, args)) as { response?: Promise<unknown> };
    result?.response?.catch(() => undefined);
    return result;
  };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** Account identifiers the SDKs send beside the key; dropped with it when a redirect leaves the origin. */
const PROVIDER_AUTH_HEADERS = ['openai-organization', 'openai-project'];

/**
 * The one way to get a model: `(account, provider, model, parameters)` -> a LangChain chat model
 * or embeddings, with the account's credentials (or the server's), parameters checked against the
 * catalog, one retry policy honouring Retry-After, a call timeout, the SSRF guard on user-supplied
 * base URLs, and a usage row per call.
 */
@Injectable()
export class ModelRuntime implements OnApplicationShutdown {
  private readonly policy: SsrfPolicy;
  private readonly guardedAgent: Agent;

  constructor(
    private readonly config: AppConfig,
    private readonly catalog: ModelCatalog,
    private readonly credentials: CredentialsService,
    private readonly usage: UsageService,
  ) {
    this.policy = new SsrfPolicy(config.env.OUTBOUND_ALLOW_HOSTS);
    this.guardedAgent = createGuardedAgent(this.policy);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.guardedAgent.close().catch(() => undefined);
  }

  async chat(ref: ModelRef, ctx: RuntimeContext): Promise<RuntimeChatModel> {
    const catalog = this.catalog.model(ref.provider, ref.model, 'chat');
    const parameters =
      ctx.parameterMode === 'lenient'
        ? normalizeParameters(catalog, ref.parameters)
        : validateParameters(catalog, ref.parameters);
    const creds = await this.resolve(catalog, ctx.accountId);
    const fetch = this.fetchFor(creds, ctx);
    const usage = new UsageRecorder(this.usage, catalog, ctx.accountId, ctx.source);
    const runtime = this.catalog.provider(catalog.provider).runtime;
    const common = { callbacks: [usage], maxRetries: 0 };
    let model: BaseChatModel;
    switch (runtime) {
      case 'openai':
        model = new ChatOpenAI({
          ...common,
          model: catalog.model_name,
          apiKey: creds.apiKey || 'not-needed',
          configuration: { baseURL: creds.baseUrl, organization: creds.organization, fetch },
          temperature: num(parameters.temperature),
          topP: num(parameters.top_p),
          presencePenalty: num(parameters.presence_penalty),
          frequencyPenalty: num(parameters.frequency_penalty),
          maxTokens: num(parameters.max_tokens),
          streamUsage: true,
        });
        break;
      case 'anthropic':
        model = new ChatAnthropic({
          ...common,
          model: catalog.model_name,
          apiKey: creds.apiKey,
          anthropicApiUrl: creds.baseUrl,
          temperature: num(parameters.temperature),
          topP: num(parameters.top_p),
          maxTokens: num(parameters.max_tokens) ?? 4096,
          clientOptions: { fetch },
        });
        break;
      case 'gemini':
        // The Google SDK takes no custom fetch; its base URL is Google's (or the server's env).
        model = new ChatGoogleGenerativeAI({
          callbacks: [usage],
          maxRetries: ctx.maxRetries ?? this.config.env.MODEL_MAX_RETRIES,
          model: catalog.model_name,
          apiKey: creds.apiKey,
          baseUrl: creds.baseUrl,
          temperature: num(parameters.temperature),
          topP: num(parameters.top_p),
          maxOutputTokens: num(parameters.max_tokens),
        });
        handleStreamAggregate(model);
        break;
      case 'ollama':
        model = new ChatOllama({
          ...common,
          model: catalog.model_name,
          baseUrl: creds.baseUrl,
          fetch,
          temperature: num(parameters.temperature),
          topP: num(parameters.top_p),
          presencePenalty: num(parameters.presence_penalty),
          frequencyPenalty: num(parameters.frequency_penalty),
          numPredict: num(parameters.max_tokens),
        });
        break;
    }
    return { model, catalog, parameters, usage };
  }

  async embeddings(
    ref: Omit<ModelRef, 'parameters'>,
    ctx: RuntimeContext,
  ): Promise<RuntimeEmbeddings> {
    const catalog = this.catalog.model(ref.provider, ref.model, 'embedding');
    const creds = await this.resolve(catalog, ctx.accountId);
    const fetch = this.fetchFor(creds, ctx);
    const runtime = this.catalog.provider(catalog.provider).runtime;
    let embeddings: EmbeddingsInterface;
    switch (runtime) {
      case 'openai':
        embeddings = new OpenAIEmbeddings({
          model: catalog.model_name,
          apiKey: creds.apiKey || 'not-needed',
          configuration: { baseURL: creds.baseUrl, organization: creds.organization, fetch },
          maxRetries: 0,
          // Batching is the EmbeddingService's job (rate limits, concurrency, usage).
          batchSize: 2048,
        });
        break;
      case 'ollama':
        embeddings = new OllamaEmbeddings({
          model: catalog.model_name,
          baseUrl: creds.baseUrl,
          fetch,
          maxRetries: 0,
        });
        break;
      case 'gemini':
        embeddings = new GoogleGenerativeAIEmbeddings({
          model: catalog.model_name,
          apiKey: creds.apiKey,
          baseUrl: creds.baseUrl,
          maxRetries: ctx.maxRetries ?? this.config.env.MODEL_MAX_RETRIES,
        });
        break;
      default:
        throw new FailException(`${catalog.provider} has no embedding models`);
    }
    return { embeddings, catalog };
  }

  private async resolve(
    model: CatalogModel,
    accountId: string | null,
  ): Promise<ResolvedCredentials> {
    // Dynamic models (local deployments) are served at a server-known address.
    if (model.dynamic && model.base_url) {
      return { baseUrl: model.base_url, userSupplied: false, source: 'server' };
    }
    return this.credentials.resolve(accountId, model.provider);
  }

  private fetchFor(creds: ResolvedCredentials, ctx: RuntimeContext): typeof fetch {
    return createPolicyFetch({
      timeoutMs: ctx.timeoutMs ?? this.config.env.MODEL_TIMEOUT_MS,
      maxRetries: ctx.maxRetries ?? this.config.env.MODEL_MAX_RETRIES,
      authHeaders: PROVIDER_AUTH_HEADERS,
      ...(creds.userSupplied
        ? { guard: { policy: this.policy, dispatcher: this.guardedAgent } }
        : {}),
    });
  }

  /** The catalog entry (for callers that need features or limits before building a model). */
  describe(provider: string, model: string, type?: ModelType): CatalogModel {
    return this.catalog.model(provider, model, type);
  }
}
