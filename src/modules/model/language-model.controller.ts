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

@ApiTags('language-models')
@ApiBearerAuth('jwt')
@Controller('language-models')
export class LanguageModelController {
  constructor(
    private readonly catalog: ModelCatalog,
    private readonly credentials: CredentialsService,
  ) {}

  /** Providers and their models (a plain array, as the console expects). */
  @Get()
  @ApiOperation({ operationId: 'listLanguageModels', summary: 'Model providers and models' })
  @ApiEnvelope(LanguageModelProviderDto, { isArray: true })
  async list(
    @CurrentAccount() accountId: string,
    @Query() q: ListLanguageModelsDto,
  ): Promise<LanguageModelProviderDto[]> {
    const type = q.model_type ?? 'chat';
    const configured = await this.credentials.configuredProviders(accountId);
    return this.catalog.list().map((p) => ({
      name: p.name,
      position: p.position,
      label: p.label,
      icon: p.icon,
      description: p.description,
      background: p.background,
      support_model_types: p.support_model_types,
      configured: configured.has(p.name),
      models: p.models.filter((m) => type === 'all' || m.model_type === type).map(toModelDto),
    }));
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
