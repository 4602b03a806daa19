import { ApiEnvelope, ConsolePost, CurrentAccount, Page } from '@app/common';
import { Body, Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  BatchDocumentDto,
  CreateDocumentsDto,
  CreateDocumentsResultDto,
  DocumentDetailDto,
  DocumentDto,
  ListDocumentsDto,
  RenameDocumentDto,
  SetEnabledDto,
} from './dto/document.dto';
import { DocumentService } from './services/document.service';

@ApiTags('documents')
@ApiBearerAuth('jwt')
@Controller('datasets/:dataset_id/documents')
export class DocumentController {
  constructor(private readonly documents: DocumentService) {}

  @ConsolePost(undefined, 'Documents added; indexing started')
  @ApiOperation({
    operationId: 'createDocuments',
    summary: 'Add 1-10 uploaded files to the dataset and index them (asynchronous)',
  })
  @ApiEnvelope(CreateDocumentsResultDto)
  create(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Body() body: CreateDocumentsDto,
  ): Promise<CreateDocumentsResultDto> {
    return this.documents.create(accountId, datasetId, body);
  }

  // Before ':document_id' so "batch" is never taken for a document id.
  @Get('batch/:batch')
  @ApiOperation({
    operationId: 'documentBatchStatus',
    summary: 'Indexing progress of the documents of one batch',
  })
  @ApiEnvelope(BatchDocumentDto, { isArray: true })
  batch(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Param('batch') batch: string,
  ): Promise<BatchDocumentDto[]> {
    return this.documents.batch(accountId, datasetId, batch);
  }

  @Get()
  @ApiOperation({
    operationId: 'listDocuments',
    summary: 'Documents of the dataset by position (search by name)',
  })
  @ApiEnvelope(DocumentDto, { paginated: true })
  list(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Query() q: ListDocumentsDto,
  ): Promise<Page<DocumentDto>> {
    return this.documents.list(accountId, datasetId, q);
  }

  @Get(':document_id')
  @ApiOperation({ operationId: 'getDocument', summary: 'One document' })
  @ApiEnvelope(DocumentDetailDto)
  get(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Param('document_id') id: string,
  ): Promise<DocumentDetailDto> {
    return this.documents.get(accountId, datasetId, id);
  }

  @ConsolePost(':document_id/name', 'Document renamed')
  @ApiOperation({ operationId: 'renameDocument', summary: 'Rename a document' })
  @ApiEnvelope()
  async rename(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Param('document_id') id: string,
    @Body() body: RenameDocumentDto,
  ): Promise<void> {
    await this.documents.rename(accountId, datasetId, id, body.name);
  }

  @ConsolePost(':document_id/enabled', 'Document status updated')
  @ApiOperation({
    operationId: 'setDocumentEnabled',
    summary: 'Enable or disable a completed document (retrieval follows at once)',
  })
  @ApiEnvelope()
  async setEnabled(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Param('document_id') id: string,
    @Body() body: SetEnabledDto,
  ): Promise<void> {
    await this.documents.setEnabled(accountId, datasetId, id, body.enabled);
  }

  @ConsolePost(':document_id/delete', 'Document deleted')
  @ApiOperation({
    operationId: 'deleteDocument',
    summary: 'Delete a document (segments removed by a job)',
  })
  @ApiEnvelope()
  async delete(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') datasetId: string,
    @Param('document_id') id: string,
  ): Promise<void> {
    await this.documents.delete(accountId, datasetId, id);
  }
}
