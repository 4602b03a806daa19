import { ValidateError } from '@app/common';
import { Injectable } from '@nestjs/common';
import { AppService } from 'src/modules/app/services/app.service';
import { ModelCatalog } from 'src/modules/model/catalog/model-catalog.service';
import { EmbeddingService } from 'src/modules/model/runtime/embedding.service';
import type { EmbeddingsResDto, ModelListDto } from './openai-compat.dto';

export const EMBEDDING_LIMITS = { maxInputs: 2048, maxChars: 32_768, maxTotalChars: 4_000_000 };

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

  async embed(accountId: string, body: unknown): Promise<EmbeddingsResDto> {
    const req = this.check(body);
    const ref = this.embeddingModel(req.model);
    const vectors = await this.embeddings.embedDocuments(ref, req.inputs, {
      accountId,
      source: 'service_api.embeddings',
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
    const inputs = typeof raw === 'string' ? [raw] : raw;
    if (!Array.isArray(inputs)) fail('input', 'input must be a string or an array of strings');
    const list = inputs as unknown[];
    if (list.length === 0) fail('input', 'input must not be empty');
    if (list.length > EMBEDDING_LIMITS.maxInputs) {
      fail('input', `input takes at most ${EMBEDDING_LIMITS.maxInputs} texts`);
    }
    let total = 0;
    list.forEach((t, i) => {
      if (typeof t !== 'string') {
        fail(
          'input',
          Array.isArray(t) || typeof t === 'number'
            ? 'token arrays are not accepted: send the texts'
            : `input[${i}] must be a string`,
        );
      }
      const text = t as string;
      if (!text.length) fail('input', `input[${i}] must not be empty`);
      if (text.length > EMBEDDING_LIMITS.maxChars) {
        fail('input', `input[${i}] is longer than ${EMBEDDING_LIMITS.maxChars} characters`);
      }
      total += text.length;
    });
    if (total > EMBEDDING_LIMITS.maxTotalChars) {
      fail('input', `input is longer than ${EMBEDDING_LIMITS.maxTotalChars} characters in all`);
    }
    const format = b.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      fail('encoding_format', 'encoding_format must be float or base64');
    }
    if (b.dimensions !== undefined) {
      fail('dimensions', 'dimensions is not supported: the model answers its own size');
    }
    return {
      model: (b.model as string).trim(),
      inputs: list as string[],
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
    throw new ValidateError(
      { model: [`"${name}" is not an embedding model of any configured provider`] },
      `The model "${name}" is not an embedding model of any configured provider`,
    );
  }
}

function float32Base64(v: number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}
