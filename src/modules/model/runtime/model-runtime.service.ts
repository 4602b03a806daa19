import { FailException } from '@app/common';
import { AppConfig } from '@app/config';
import { createGuardedAgent, createPolicyFetch, SsrfPolicy } from '@app/http';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import type { ChatOpenAICompletions, ChatOpenAIResponses } from '@langchain/openai';
import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { Agent } from 'undici';
import { CatalogModel, ModelType } from '../catalog/catalog.schema';
import { ModelCatalog } from '../catalog/model-catalog.service';
import { normalizeParameters, ParameterValues, validateParameters } from '../catalog/parameters';
import { CredentialsService, ResolvedCredentials } from '../credentials.service';
import { anthropicPackage, googlePackage, ollamaPackage, openaiPackage } from './provider-packages';
import { createUsageRecorder, UsageRecorder } from './usage-recorder';
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

/**
 * The Google SDK takes no fetch (so no policy fetch and its deadline): its own `timeout` request
 * option bounds each call instead, set on the client LangChain built (chat and embeddings).
 */
function setGoogleTimeout(model: unknown, timeoutMs: number): void {
  const client = (model as { client?: { _requestOptions?: Record<string, unknown> } }).client;
  if (client) client._requestOptions = { ...client._requestOptions, timeout: timeoutMs };
}

/** Distinct OpenAI setups (account key, model, parameters) whose models are kept for reuse. */
const OPENAI_MODEL_CACHE = 500;

interface OpenAIInner {
  configuration: { baseURL?: string; organization?: string; fetch: typeof fetch };
  completions: ChatOpenAICompletions;
  responses: ChatOpenAIResponses;
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
  /** See openaiInner: the per-call cost of building OpenAI chat models, paid once per setup. */
  private readonly openaiModels = new Map<string, OpenAIInner>();

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
    // Built lazily: the OpenAI path reuses a cached one with its cached client.
    const fetch = (): typeof globalThis.fetch => this.fetchFor(creds, ctx);
    const usage = createUsageRecorder(this.usage, catalog, ctx.accountId, ctx.source);
    const runtime = this.catalog.provider(catalog.provider).runtime;
    const common = { callbacks: [usage], maxRetries: 0 };
    let model: BaseChatModel;
    switch (runtime) {
      case 'openai': {
        const fields = {
          model: catalog.model_name,
          apiKey: creds.apiKey || 'not-needed',
          temperature: num(parameters.temperature),
          topP: num(parameters.top_p),
          presencePenalty: num(parameters.presence_penalty),
          frequencyPenalty: num(parameters.frequency_penalty),
          maxTokens: num(parameters.max_tokens),
          streamUsage: true,
        };
        const inner = this.openaiInner(fields, creds, ctx);
        model = new (openaiPackage().ChatOpenAI)({ ...common, ...fields, ...inner });
        break;
      }
      case 'anthropic':
        model = new (anthropicPackage().ChatAnthropic)({
          ...common,
          model: catalog.model_name,
          apiKey: creds.apiKey,
          anthropicApiUrl: creds.baseUrl,
          temperature: num(parameters.temperature),
          topP: num(parameters.top_p),
          maxTokens: num(parameters.max_tokens) ?? 4096,
          clientOptions: { fetch: fetch() },
        });
        break;
      case 'gemini':
        // The Google SDK takes no custom fetch; its base URL is Google's (or the server's env).
        model = new (googlePackage().ChatGoogleGenerativeAI)({
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
        setGoogleTimeout(model, ctx.timeoutMs ?? this.config.env.MODEL_TIMEOUT_MS);
        break;
      case 'ollama':
        model = new (ollamaPackage().ChatOllama)({
          ...common,
          model: catalog.model_name,
          baseUrl: creds.baseUrl,
          fetch: fetch(),
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
        embeddings = new (openaiPackage().OpenAIEmbeddings)({
          model: catalog.model_name,
          apiKey: creds.apiKey || 'not-needed',
          configuration: { baseURL: creds.baseUrl, organization: creds.organization, fetch },
          maxRetries: 0,
          // Batching is the EmbeddingService's job (rate limits, concurrency, usage).
          batchSize: 2048,
        });
        break;
      case 'ollama':
        embeddings = new (ollamaPackage().OllamaEmbeddings)({
          model: catalog.model_name,
          baseUrl: creds.baseUrl,
          fetch,
          maxRetries: 0,
        });
        break;
      case 'gemini':
        embeddings = new (googlePackage().GoogleGenerativeAIEmbeddings)({
          model: catalog.model_name,
          apiKey: creds.apiKey,
          baseUrl: creds.baseUrl,
          maxRetries: ctx.maxRetries ?? this.config.env.MODEL_MAX_RETRIES,
        });
        setGoogleTimeout(embeddings, ctx.timeoutMs ?? this.config.env.MODEL_TIMEOUT_MS);
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

  /**
   * A ChatOpenAI is three LangChain models (itself, the Completions and the Responses API ones),
   * each reading a dozen environment variables when built, and its OpenAI client is built on its
   * first call: about a millisecond of CPU per call, more than the rest of the gateway. The two
   * inner models hold only the setup (model, key, base URL, parameters, the policy fetch) and
   * their client, and the outer model hands them each call's run manager, so they are shared by
   * every call with the same setup (bounded LRU; a changed key or parameter is another setup).
   */
  private openaiInner(
    fields: Record<string, unknown>,
    creds: ResolvedCredentials,
    ctx: RuntimeContext,
  ): OpenAIInner {
    const timeoutMs = ctx.timeoutMs ?? this.config.env.MODEL_TIMEOUT_MS;
    const maxRetries = ctx.maxRetries ?? this.config.env.MODEL_MAX_RETRIES;
    const key = createHash('sha256')
      .update(
        JSON.stringify([
          fields,
          creds.baseUrl,
          creds.organization,
          creds.userSupplied,
          timeoutMs,
          maxRetries,
        ]),
      )
      .digest('base64');
    const cached = this.openaiModels.get(key);
    if (cached) {
      // Most recently used last: the first key is the one to evict.
      this.openaiModels.delete(key);
      this.openaiModels.set(key, cached);
      return cached;
    }
    const setup = {
      ...fields,
      maxRetries: 0,
      configuration: {
        baseURL: creds.baseUrl,
        organization: creds.organization,
        fetch: this.fetchFor(creds, ctx),
      },
    };
    const { ChatOpenAICompletions, ChatOpenAIResponses } = openaiPackage();
    const inner: OpenAIInner = {
      configuration: setup.configuration,
      completions: new ChatOpenAICompletions(setup),
      responses: new ChatOpenAIResponses(setup),
    };
    this.openaiModels.set(key, inner);
    if (this.openaiModels.size > OPENAI_MODEL_CACHE) {
      this.openaiModels.delete(this.openaiModels.keys().next().value!);
    }
    return inner;
  }

  private fetchFor(creds: ResolvedCredentials, ctx: RuntimeContext): typeof fetch {
    return createPolicyFetch({
      timeoutMs: ctx.timeoutMs ?? this.config.env.MODEL_TIMEOUT_MS,
      maxRetries: ctx.maxRetries ?? this.config.env.MODEL_MAX_RETRIES,
      authHeaders: PROVIDER_AUTH_HEADERS,
      maxBodyBytes: this.config.env.MODEL_MAX_RESPONSE_BYTES,
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
