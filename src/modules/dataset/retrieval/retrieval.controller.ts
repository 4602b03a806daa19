import { ApiEnvelope, ConsolePost, CurrentAccount, toUnix } from '@app/common';
import { Body, Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DatasetQueryDto, HitDto, HitTestingDto } from './dto/retrieval.dto';
import { RetrievalHit, RetrievalService } from './retrieval.service';

export function toHitDto(hit: RetrievalHit): HitDto {
  return {
    id: hit.id,
    document: hit.document,
    dataset_id: hit.dataset_id,
    score: hit.score,
    position: hit.position,
    content: hit.content,
    keywords: hit.keywords,
    character_count: hit.character_count,
    token_count: hit.token_count,
    hit_count: hit.hit_count,
    enabled: hit.enabled,
    disabled_at: toUnix(hit.disabled_at),
    status: hit.status,
    error: hit.error,
    updated_at: toUnix(hit.updated_at),
    created_at: toUnix(hit.created_at),
  };
}

/** Hit testing of one dataset and its recent queries (the console's recall test page). */
@ApiTags('datasets')
@ApiBearerAuth('jwt')
@Controller('datasets/:dataset_id')
export class RetrievalController {
  constructor(private readonly retrieval: RetrievalService) {}

  @ConsolePost('hit', 'Retrieval test completed')
  @ApiOperation({
    operationId: 'hitDataset',
    summary: 'Search a dataset (hit testing); logged as a query with source hit_testing',
  })
  @ApiEnvelope(HitDto, { isArray: true })
  async hit(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Body() body: HitTestingDto,
  ): Promise<HitDto[]> {
    await this.retrieval.assertOwned(accountId, datasetId);
    const hits = await this.retrieval.retrieve(accountId, {
      datasetIds: [datasetId],
      query: body.query,
      strategy: body.retrieval_strategy,
      k: body.k,
      score: body.score ?? 0,
      source: 'hit_testing',
    });
    return hits.map(toHitDto);
  }

  @Get('queries')
  @ApiOperation({
    operationId: 'listDatasetQueries',
    summary: 'The latest 10 queries of a dataset, newest first',
  })
  @ApiEnvelope(DatasetQueryDto, { isArray: true })
  async queries(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
  ): Promise<DatasetQueryDto[]> {
    await this.retrieval.assertOwned(accountId, datasetId);
    const rows = await this.retrieval.recentQueries(accountId, datasetId);
    return rows.map((r) => ({
      id: r.id,
      dataset_id: r.dataset_id,
      query: r.query,
      source: r.source,
      created_at: toUnix(r.created_at),
    }));
  }
}
