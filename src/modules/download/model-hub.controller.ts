import { ApiEnvelope, CurrentAccount, type Page } from '@app/common';
import { Controller, Get, Logger, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HubModelDto,
  ModelInfoDto,
  ModelInfoReqDto,
  SearchModelsReqDto,
} from './dto/model-hub.dto';
import { ModelHubService } from './model-hub.service';
import { ModelRegistryService } from './registry/model-registry.service';

@ApiTags('models')
@ApiBearerAuth('jwt')
@Controller('models')
export class ModelHubController {
  private readonly log = new Logger(ModelHubController.name);

  constructor(
    private readonly hub: ModelHubService,
    private readonly registry: ModelRegistryService,
  ) {}

  @Get('search')
  @ApiOperation({
    operationId: 'searchHubModels',
    summary: 'Search Hugging Face, or filter the local Ollama library',
  })
  @ApiEnvelope(HubModelDto, {
    paginated: true,
    description:
      'Hugging Face gives no total: total_record counts the results up to this page, plus one ' +
      'while the hub has more (so total_page is current_page + 1 while more pages exist)',
  })
  search(@Query() q: SearchModelsReqDto): Promise<Page<HubModelDto>> {
    return this.hub.search(q);
  }

  @Get('info')
  @ApiOperation({
    operationId: 'getHubModelInfo',
    summary:
      'One model: files and sizes, tags, gated, formats, parameters, context length ' +
      '(recorded as a registry entry)',
  })
  @ApiEnvelope(ModelInfoDto)
  async info(
    @CurrentAccount() accountId: string,
    @Query() q: ModelInfoReqDto,
  ): Promise<ModelInfoDto> {
    const info = await this.hub.info(q);
    // The model looked at becomes a registry entry; the answer does not depend on it.
    await this.registry.recordInfo(accountId, info).catch((err: unknown) => {
      this.log.warn(`Cannot record ${q.source}:${q.model_id} in the registry: ${String(err)}`);
    });
    return info;
  }
}
