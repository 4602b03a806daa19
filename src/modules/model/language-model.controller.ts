import { ApiEnvelope, CurrentAccount, Public, RawResponse } from '@app/common';
import { Controller, Get, Header, Param, Query, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { createReadStream } from 'node:fs';
import { CatalogModel } from './catalog/catalog.schema';
import { ModelCatalog } from './catalog/model-catalog.service';
import { CredentialsService } from './credentials.service';
import {
  LanguageModelDto,
  LanguageModelProviderDto,
  ListLanguageModelsDto,
} from './dto/language-model.dto';

function toModelDto(m: CatalogModel): LanguageModelDto {
  return {
    model_name: m.model_name,
    label: m.label,
    model_type: m.model_type,
    features: m.features,
    context_window: m.context_window,
    max_output_tokens: m.max_output_tokens,
    attributes: { model: m.model_name, ...(m.dimensions ? { dimensions: m.dimensions } : {}) },
    metadata: { pricing: m.pricing },
    parameters: m.parameters,
  };
}

/** One provider's list entry as JSON, with `configured` true and false: only that differs per account. */
interface SerializedProvider {
  name: string;
  configured: string;
  unconfigured: string;
}

@ApiTags('language-models')
@ApiBearerAuth('jwt')
@Controller('language-models')
export class LanguageModelController {
  private cache: { version: number; byType: Map<string, SerializedProvider[]> } = {
    version: -1,
    byType: new Map(),
  };

  constructor(
    private readonly catalog: ModelCatalog,
    private readonly credentials: CredentialsService,
  ) {}

  /**
   * Providers and their models (a plain array, as the console expects). The catalog is static
   * between changes of the dynamic models, so its JSON is built once and only `configured` is
   * chosen per account: serializing the whole catalog on every call was a tenth of its CPU.
   */
  @Get()
  @RawResponse()
  @Header('Content-Type', 'application/json; charset=utf-8')
  @ApiOperation({ operationId: 'listLanguageModels', summary: 'Model providers and models' })
  @ApiEnvelope(LanguageModelProviderDto, { isArray: true })
  async list(
    @CurrentAccount() accountId: string,
    @Query() q: ListLanguageModelsDto,
  ): Promise<string> {
    const configured = await this.credentials.configuredProviders(accountId);
    const entries = this.serialized(q.model_type ?? 'chat').map((p) =>
      configured.has(p.name) ? p.configured : p.unconfigured,
    );
    return `{"code":"success","message":"","data":[${entries.join(',')}]}`;
  }

  private serialized(type: string): SerializedProvider[] {
    if (this.cache.version !== this.catalog.version) {
      this.cache = { version: this.catalog.version, byType: new Map() };
    }
    let entries = this.cache.byType.get(type);
    if (!entries) {
      entries = this.catalog.list().map((p) => {
        const dto = (configured: boolean): LanguageModelProviderDto => ({
          name: p.name,
          position: p.position,
          label: p.label,
          icon: p.icon,
          description: p.description,
          background: p.background,
          support_model_types: p.support_model_types,
          configured,
          models: p.models.filter((m) => type === 'all' || m.model_type === type).map(toModelDto),
        });
        return {
          name: p.name,
          configured: JSON.stringify(dto(true)),
          unconfigured: JSON.stringify(dto(false)),
        };
      });
      this.cache.byType.set(type, entries);
    }
    return entries;
  }

  /** The provider's icon (loaded by <img>, so no token). */
  @Public()
  @RawResponse()
  @Get(':provider_name/icon')
  @Header('Cache-Control', 'public, max-age=86400')
  @ApiProduces('image/svg+xml', 'image/png')
  @ApiOperation({ operationId: 'languageModelIcon', summary: 'Provider icon (image bytes)' })
  icon(@Param('provider_name') provider: string): StreamableFile {
    const file = this.catalog.iconPath(provider);
    return new StreamableFile(createReadStream(file), {
      type: file.endsWith('.svg') ? 'image/svg+xml' : 'image/png',
    });
  }

  @Get(':provider_name/:model_name')
  @ApiOperation({ operationId: 'getLanguageModel', summary: 'One model with its parameters' })
  @ApiEnvelope(LanguageModelDto)
  get(
    @Param('provider_name') provider: string,
    @Param('model_name') model: string,
  ): LanguageModelDto {
    return toModelDto(this.catalog.model(provider, model));
  }
}
