import { AdminOnly, ApiEnvelope, ConsolePost, CurrentAccount, type Page } from '@app/common';
import { Body, Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HubModelDto } from '../dto/model-hub.dto';
import {
  CategoryDto,
  ListModelsReqDto,
  ModelEntryDto,
  ModelStatsDto,
  SyncModelsReqDto,
  SyncResultDto,
  TrendingReqDto,
} from './model-registry.dto';
import { ModelRegistryService } from './model-registry.service';

@ApiTags('models')
@ApiBearerAuth('jwt')
@Controller('models')
export class ModelRegistryController {
  constructor(private readonly registry: ModelRegistryService) {}

  @Get()
  @ApiOperation({
    operationId: 'listModelEntries',
    summary: 'The machine-wide registry: models looked at, downloaded or synced from Ollama',
  })
  @ApiEnvelope(ModelEntryDto, { paginated: true })
  list(
    @CurrentAccount() accountId: string,
    @Query() q: ListModelsReqDto,
  ): Promise<Page<ModelEntryDto>> {
    return this.registry.list(accountId, q);
  }

  @Get('categories')
  @ApiOperation({ operationId: 'listModelCategories', summary: 'Tasks of the registry entries' })
  @ApiEnvelope(CategoryDto, { isArray: true })
  categories(): Promise<CategoryDto[]> {
    return this.registry.categories();
  }

  @Get('trending')
  @ApiOperation({
    operationId: 'listTrendingModels',
    summary: "Hugging Face's trending models (cached for 5 minutes)",
  })
  @ApiEnvelope(HubModelDto, { isArray: true })
  trending(@Query() q: TrendingReqDto): Promise<HubModelDto[]> {
    return this.registry.trending(q.limit);
  }

  @Get('stats')
  @ApiOperation({
    operationId: 'getModelStats',
    summary: 'Counts by source, status and format; bytes of downloaded models',
  })
  @ApiEnvelope(ModelStatsDto)
  stats(@CurrentAccount() accountId: string): Promise<ModelStatsDto> {
    return this.registry.stats(accountId);
  }

  @ConsolePost('sync', 'Models synced')
  @AdminOnly()
  @ApiOperation({
    operationId: 'syncModelEntries',
    summary: 'Admin: make the local Ollama models registry entries',
  })
  @ApiEnvelope(SyncResultDto)
  sync(@Body() body: SyncModelsReqDto): Promise<SyncResultDto> {
    void body.source; // ollama is the only source with a local library to sync
    return this.registry.syncOllama();
  }

  @ConsolePost(':id/favorite', 'Added to favorites')
  @ApiOperation({ operationId: 'favoriteModelEntry', summary: "Add to the caller's favorites" })
  @ApiEnvelope(ModelEntryDto)
  favorite(@CurrentAccount() accountId: string, @Param('id') id: string): Promise<ModelEntryDto> {
    return this.registry.favorite(accountId, id);
  }

  @ConsolePost(':id/unfavorite', 'Removed from favorites')
  @ApiOperation({
    operationId: 'unfavoriteModelEntry',
    summary: "Remove from the caller's favorites",
  })
  @ApiEnvelope(ModelEntryDto)
  unfavorite(@CurrentAccount() accountId: string, @Param('id') id: string): Promise<ModelEntryDto> {
    return this.registry.unfavorite(accountId, id);
  }

  @ConsolePost(':id/delete', 'Model entry deleted')
  @AdminOnly()
  @ApiOperation({
    operationId: 'deleteModelEntry',
    summary: 'Admin: remove an entry (a downloaded one only once its files are gone)',
  })
  @ApiEnvelope()
  async delete(@Param('id') id: string): Promise<void> {
    await this.registry.delete(id);
  }
}
