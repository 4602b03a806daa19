import { ApiEnvelope, ConsolePost, CurrentAccount, Page } from '@app/common';
import { Body, Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SetEnabledDto } from './dto/document.dto';
import { ListSegmentsDto, SegmentBodyDto, SegmentDetailDto, SegmentDto } from './dto/segment.dto';
import { SegmentService } from './services/segment.service';

@ApiTags('segments')
@ApiBearerAuth('jwt')
@Controller('datasets/:dataset_id/documents/:document_id/segments')
export class SegmentController {
  constructor(private readonly segments: SegmentService) {}

  @Get()
  @ApiOperation({
    operationId: 'listSegments',
    summary: 'Segments of a document by position (search in content)',
  })
  @ApiEnvelope(SegmentDto, { paginated: true })
  list(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Param('document_id') documentId: string,
    @Query() q: ListSegmentsDto,
  ): Promise<Page<SegmentDto>> {
    return this.segments.list(accountId, datasetId, documentId, q);
  }

  @ConsolePost(undefined, 'Segment added')
  @ApiOperation({
    operationId: 'createSegment',
    summary: 'Add a segment (≤1000 tokens) at the end; keywords extracted when none are given',
  })
  @ApiEnvelope(SegmentDetailDto)
  create(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Param('document_id') documentId: string,
    @Body() body: SegmentBodyDto,
  ): Promise<SegmentDetailDto> {
    return this.segments.create(accountId, datasetId, documentId, body);
  }

  @Get(':segment_id')
  @ApiOperation({ operationId: 'getSegment', summary: 'One segment with its hash' })
  @ApiEnvelope(SegmentDetailDto)
  get(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Param('document_id') documentId: string,
    @Param('segment_id') id: string,
  ): Promise<SegmentDetailDto> {
    return this.segments.get(accountId, datasetId, documentId, id);
  }

  @ConsolePost(':segment_id', 'Segment updated')
  @ApiOperation({
    operationId: 'updateSegment',
    summary: 'Edit a segment (re-keyworded and re-embedded)',
  })
  @ApiEnvelope(SegmentDetailDto)
  update(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Param('document_id') documentId: string,
    @Param('segment_id') id: string,
    @Body() body: SegmentBodyDto,
  ): Promise<SegmentDetailDto> {
    return this.segments.update(accountId, datasetId, documentId, id, body);
  }

  @ConsolePost(':segment_id/enabled', 'Segment status updated')
  @ApiOperation({
    operationId: 'setSegmentEnabled',
    summary: 'Enable or disable a segment (retrieval follows at once)',
  })
  @ApiEnvelope()
  async setEnabled(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Param('document_id') documentId: string,
    @Param('segment_id') id: string,
    @Body() body: SetEnabledDto,
  ): Promise<void> {
    await this.segments.setEnabled(accountId, datasetId, documentId, id, body.enabled);
  }

  @ConsolePost(':segment_id/delete', 'Segment deleted')
  @ApiOperation({ operationId: 'deleteSegment', summary: 'Delete a segment' })
  @ApiEnvelope()
  async delete(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Param('document_id') documentId: string,
    @Param('segment_id') id: string,
  ): Promise<void> {
    await this.segments.delete(accountId, datasetId, documentId, id);
  }
}
