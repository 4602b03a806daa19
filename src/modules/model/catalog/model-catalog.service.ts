import { NotFoundError } from '@app/common';
import { Injectable, Logger } from '@nestjs/common';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  CatalogModel,
  CatalogProvider,
  expandParameters,
  genericChatParameters,
  ModelType,
  providerSchema,
} from './catalog.schema';

/** Where the provider data files live (copied next to the compiled code by nest build). */
export const PROVIDERS_DIR = path.join(__dirname, '..', 'providers');

export interface DynamicModelInput {
  provider?: string;
  model_name: string;
  label?: string;
  model_type?: ModelType;
  base_url: string;
  context_window?: number;
  max_output_tokens?: number;
  features?: CatalogModel['features'];
}

/**
 * The provider catalog (one data file per provider, validated at boot) plus the dynamic models
 * registered at run time — local deployments register themselves as `openai_compatible` models.
 */
@Injectable()
export class ModelCatalog {
  private readonly logger = new Logger('ModelCatalog');
  private readonly providers: CatalogProvider[];
  private readonly dynamic = new Map<string, CatalogModel>();
  private revision = 0;

  constructor() {
    this.providers = ModelCatalog.load(PROVIDERS_DIR);
  }

  static load(dir: string): CatalogProvider[] {
    const providers = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => {
        const file = path.join(dir, d.name, 'provider.json');
        const parsed = providerSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
        if (!parsed.success) {
          throw new Error(
            `Invalid provider catalog ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
          );
        }
        if (parsed.data.name !== d.name)
          throw new Error(`${file}: name must equal its folder (${d.name})`);
        const { models, ...rest } = parsed.data;
        return {
          ...rest,
          models: models.map((m) => ({
            ...m,
            provider: rest.name,
            parameters: expandParameters(m.parameters),
          })),
        };
      });
    return providers.sort((a, b) => a.position - b.position);
  }

  list(): CatalogProvider[] {
    return this.providers.map((p) => ({ ...p, models: [...p.models, ...this.dynamicOf(p.name)] }));
  }

  provider(name: string): CatalogProvider {
    const p = this.providers.find((x) => x.name === name);
    if (!p) throw new NotFoundError(`The model provider "${name}" does not exist`);
    return p;
  }

  /** A model by provider and name; custom names are accepted where the provider allows them. */
  model(providerName: string, modelName: string, type?: ModelType): CatalogModel {
    const provider = this.provider(providerName);
    const found =
      provider.models.find((m) => m.model_name === modelName) ??
      this.dynamic.get(`${providerName}/${modelName}`);
    if (found) {
      if (type && found.model_type !== type) {
        throw new NotFoundError(
          `"${providerName}/${modelName}" is ${article(found.model_type)} ${found.model_type} model, not ${article(type)} ${type} model`,
        );
      }
      return found;
    }
    if (provider.allow_custom_models && /^[\w.:/@-]{1,200}$/.test(modelName)) {
      const modelType = type ?? 'chat';
      return {
        provider: providerName,
        model_name: modelName,
        label: modelName,
        model_type: modelType,
        features: modelType === 'chat' ? ['tool_call', 'agent_thought'] : [],
        context_window: 0,
        max_output_tokens: modelType === 'chat' ? 4096 : 0,
        parameters: modelType === 'chat' ? genericChatParameters() : [],
        pricing: { input: 0, output: 0, unit: 1_000_000, currency: 'USD' },
        dynamic: true,
      };
    }
    throw new NotFoundError(
      `The model "${modelName}" does not exist for provider "${providerName}"`,
    );
  }

  /** Registers a model served elsewhere (a running deployment). Idempotent by name. */
  registerDynamic(input: DynamicModelInput): CatalogModel {
    const provider = input.provider ?? 'openai_compatible';
    this.provider(provider);
    const maxOut = input.max_output_tokens ?? 4096;
    const model: CatalogModel = {
      provider,
      model_name: input.model_name,
      label: input.label ?? input.model_name,
      model_type: input.model_type ?? 'chat',
      features: input.features ?? ['tool_call', 'agent_thought'],
      context_window: input.context_window ?? 0,
      max_output_tokens: maxOut,
      parameters: (input.model_type ?? 'chat') === 'chat' ? genericChatParameters(maxOut) : [],
      pricing: { input: 0, output: 0, unit: 1_000_000, currency: 'USD' },
      dynamic: true,
      base_url: input.base_url,
    };
    this.dynamic.set(`${provider}/${model.model_name}`, model);
    this.revision += 1;
    this.logger.log(`Registered ${provider}/${model.model_name} at ${input.base_url}`);
    return model;
  }

  unregisterDynamic(modelName: string, provider = 'openai_compatible'): boolean {
    const removed = this.dynamic.delete(`${provider}/${modelName}`);
    if (removed) this.revision += 1;
    return removed;
  }

  /** Changes whenever the list changes (dynamic models come and go): a key for cached answers. */
  get version(): number {
    return this.revision;
  }

  iconPath(providerName: string): string {
    const p = this.provider(providerName);
    return path.join(PROVIDERS_DIR, p.name, p.icon);
  }

  private dynamicOf(provider: string): CatalogModel[] {
    return [...this.dynamic.values()].filter((m) => m.provider === provider);
  }
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}
