import { ApiEnvelope, ConsolePost, CurrentAccount, Page } from '@app/common';
import { Body, Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CreateDatasetDto, DatasetDto, ListDatasetsDto, UpdateDatasetDto } from './dto/dataset.dto';
import { DatasetService } from './services/dataset.service';

@ApiTags('datasets')
@ApiBearerAuth('jwt')
@Controller('datasets')
export class DatasetController {
  constructor(private readonly datasets: DatasetService) {}

  @Get()
  @ApiOperation({
    operationId: 'listDatasets',
    summary: 'Your datasets, newest first (search by name)',
  })
  @ApiEnvelope(DatasetDto, { paginated: true })
  list(
    @CurrentAccount() accountId: string,
    @Query() q: ListDatasetsDto,
  ): Promise<Page<DatasetDto>> {
    return this.datasets.list(accountId, q);
  }

  @ConsolePost(undefined, 'Dataset created')
  @ApiOperation({ operationId: 'createDataset', summary: 'Create a dataset' })
  @ApiEnvelope(DatasetDto)
  async create(
    @CurrentAccount() accountId: string,
    @Body() body: CreateDatasetDto,
  ): Promise<DatasetDto> {
    const row = await this.datasets.create(accountId, body);
    return this.datasets.get(accountId, row.id);
  }

  @Get(':dataset_id')
  @ApiOperation({ operationId: 'getDataset', summary: 'One dataset with its counts' })
  @ApiEnvelope(DatasetDto)
  get(@CurrentAccount() accountId: string, @Param('dataset_id') id: string): Promise<DatasetDto> {
    return this.datasets.get(accountId, id);
  }

  @ConsolePost(':dataset_id', 'Dataset updated')
  @ApiOperation({
    operationId: 'updateDataset',
    summary:
      'Update name, icon, description (indexing mode and model only while it has no documents)',
  })
  @ApiEnvelope(DatasetDto)
  async update(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') id: string,
    @Body() body: UpdateDatasetDto,
  ): Promise<DatasetDto> {
    await this.datasets.update(accountId, id, body);
    return this.datasets.get(accountId, id);
  }

  @ConsolePost(':dataset_id/delete', 'Dataset deleted')
  @ApiOperation({
    operationId: 'deleteDataset',
    summary: 'Delete a dataset: gone at once; its segments and vectors are removed by a job',
  })
  @ApiEnvelope()
  async delete(
    @CurrentAccount() accountId: string,
    @Param('dataset_id') id: string,
  ): Promise<void> {
    await this.datasets.delete(accountId, id);
  }
}
