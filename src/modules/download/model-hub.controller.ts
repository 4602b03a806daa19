import { ApiEnvelope, type Page } from '@app/common';
import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HubModelDto,
  ModelInfoDto,
  ModelInfoReqDto,
  SearchModelsReqDto,
} from './dto/model-hub.dto';
import { ModelHubService } from './model-hub.service';

@ApiTags('models')
@ApiBearerAuth('jwt')
@Controller('models')
export class ModelHubController {
  constructor(private readonly hub: ModelHubService) {}

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
    summary: 'One model: files and sizes, tags, gated, formats, parameters, context length',
  })
  @ApiEnvelope(ModelInfoDto)
  info(@Query() q: ModelInfoReqDto): Promise<ModelInfoDto> {
    return this.hub.info(q);
  }
}
