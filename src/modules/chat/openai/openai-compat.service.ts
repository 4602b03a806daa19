import {
  ApiException,
  FailException,
  lazyRequire,
  NotFoundError,
  ValidateError,
} from '@app/common';
import { Injectable } from '@nestjs/common';
import { AppService } from 'src/modules/app/services/app.service';
import { ModelCatalog } from 'src/modules/model/catalog/model-catalog.service';
import { EmbeddingService } from 'src/modules/model/runtime/embedding.service';
import { modelErrorMessage } from 'src/modules/model/runtime/model-error';
import type { EmbeddingsResDto, ModelItemDto, ModelListDto } from './openai-compat.dto';

export const EMBEDDING_LIMITS = {
  maxInputs: 2048,
  maxChars: 32_768,
  maxTotalChars: 4_000_000,
  /** Tokens of one token-array input (OpenAI's own limit). */
  maxTokens: 8192,
};

/** cl100k_base ids, special tokens included. */
const CL100K_TOKENS = 100_277;
const tiktoken = lazyRequire<typeof import('js-tiktoken/lite')>('js-tiktoken/lite');
const cl100kRanks = lazyRequire<import('js-tiktoken/lite').TiktokenBPE>(
  'js-tiktoken/ranks/cl100k_base',
);
let cl100k: import('js-tiktoken/lite').Tiktoken | undefined;

/** The text of cl100k_base token ids (what OpenAI's embedding models read them as). */
function decodeTokens(tokens: number[]): string {
  cl100k ??= new (tiktoken().Tiktoken)(cl100kRanks());
  return cl100k.decode(tokens);
}

/**
 * The OpenAI-compatible service API on an API key (`/v1`): the account's published apps as
 * models, and embeddings through the configured providers with the key account's credentials.
 * Errors are OpenAI error objects with real statuses (the exception filter's `openai` family).
 */
@Injectable()
export class OpenAiCompatService {
  constructor(
    private readonly apps: AppService,
    private readonly catalog: ModelCatalog,
    private readonly embeddings: EmbeddingService,
  ) {}

  async models(accountId: string): Promise<ModelListDto> {
    const apps = await this.apps.published(accountId);
    return {
      object: 'list',
      data: apps.map((a) => ({
        id: a.id,
        object: 'model',
        created: Math.floor(a.created_at.getTime() / 1000),
        owned_by: a.name,
      })),
    };
  }

  /** One published app of the account as a model; 404 otherwise (OpenAI's answer). */
  async model(accountId: string, id: string): Promise<ModelItemDto> {
    const found = (await this.models(accountId)).data.find((m) => m.id === id);
    if (!found) throw new NotFoundError(`The model \`${id}\` does not exist`);
    return found;
  }

  async embed(accountId: string, body: unknown): Promise<EmbeddingsResDto> {
    const req = this.check(body);
    const ref = this.embeddingModel(req.model);
    const vectors = await this.embeddings
      .embedDocuments(ref, req.inputs, { accountId, source: 'service_api.embeddings' })
      .catch((err: unknown) => {
        throw providerFailure(err);
      });
    const tokens = req.inputs.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
    return {
      object: 'list',
      data: vectors.map((v, index) => ({
        object: 'embedding',
        index,
        embedding: req.base64 ? float32Base64(v) : v,
      })),
      model: req.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  }

  private check(body: unknown): { model: string; inputs: string[]; base64: boolean } {
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const fail = (field: string, message: string): never => {
      throw new ValidateError({ [field]: [message] }, message);
    };
    if (typeof b.model !== 'string' || !b.model.trim()) fail('model', 'model is required');
    const raw = b.input;
    if (raw === undefined || raw === null) fail('input', 'input is required');
    // OpenAI's four shapes: a text, texts, one token array, token arrays (LangChain's
    // OpenAIEmbeddings sends cl100k_base tokens by default).
    const isTokens = (v: unknown): v is number[] =>
      Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');
    const inputs = typeof raw === 'string' || isTokens(raw) ? [raw] : raw;
    if (!Array.isArray(inputs)) fail('input', 'input must be a string or an array of strings');
    const list = inputs as unknown[];
    if (list.length === 0) fail('input', 'input must not be empty');
    if (list.length > EMBEDDING_LIMITS.maxInputs) {
      fail('input', `input takes at most ${EMBEDDING_LIMITS.maxInputs} texts`);
    }
    let total = 0;
    const texts = list.map((item, i) => {
      if (isTokens(item)) {
        if (item.length > EMBEDDING_LIMITS.maxTokens)
          fail('input', `input[${i}] has more than ${EMBEDDING_LIMITS.maxTokens} tokens`);
        if (!item.every((x) => Number.isInteger(x) && x >= 0 && x < CL100K_TOKENS))
          fail('input', `input[${i}] holds a token id that is not a cl100k_base token`);
      }
      const text = isTokens(item) ? decodeTokens(item) : item;
      if (typeof text !== 'string') fail('input', `input[${i}] must be a string or a token array`);
      const value = text as string;
      if (!value.length) fail('input', `input[${i}] must not be empty`);
      if (value.length > EMBEDDING_LIMITS.maxChars) {
        fail('input', `input[${i}] is longer than ${EMBEDDING_LIMITS.maxChars} characters`);
      }
      total += value.length;
      return value;
    });
    if (total > EMBEDDING_LIMITS.maxTotalChars) {
      fail('input', `input is longer than ${EMBEDDING_LIMITS.maxTotalChars} characters in all`);
    }
    const format = b.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      fail('encoding_format', 'encoding_format must be float or base64');
    }
    if (b.dimensions !== undefined && b.dimensions !== null) {
      fail('dimensions', 'dimensions is not supported: the model answers its own size');
    }
    return {
      model: (b.model as string).trim(),
      inputs: texts,
      base64: format === 'base64',
    };
  }

  /** `provider/model`, or a bare name looked up among the catalog's embedding models. */
  private embeddingModel(name: string): { provider: string; model: string } {
    const slash = name.indexOf('/');
    if (slash > 0) {
      const provider = name.slice(0, slash);
      const model = name.slice(slash + 1);
      if (this.catalog.list().some((p) => p.name === provider)) {
        this.catalog.model(provider, model, 'embedding');
        return { provider, model };
      }
    }
    for (const p of this.catalog.list()) {
      const m = p.models.find((x) => x.model_name === name && x.model_type === 'embedding');
      if (m) return { provider: p.name, model: m.model_name };
    }
    // OpenAI answers an unknown model with 404 (the SDKs' NotFoundError).
    throw new NotFoundError(
      `The model "${name}" is not an embedding model of any configured provider`,
    );
  }
}

function float32Base64(v: number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

/**
 * A failed provider call as OpenAI's client sees such a thing: 429 when the provider rate-limits
 * the account (the SDKs retry it), else 502 with the provider's status and a short sanitized
 * reason; never a 4xx that would blame the caller's request. Our own errors pass as they are.
 */
function providerFailure(err: unknown): Error {
  if (err instanceof ApiException) return err;
  const status = (err as { status?: unknown } | null)?.status;
  if (status === 429)
    return new FailException(
      'The embedding provider is rate-limiting this account; retry later',
      {},
      429,
    );
  if (status === 401 || status === 403)
    return new FailException(
      `The embedding provider refused this account's credentials (HTTP ${status}); check them in the console`,
      {},
      502,
    );
  return new FailException(`The embedding provider failed: ${modelErrorMessage(err)}`, {}, 502);
}
