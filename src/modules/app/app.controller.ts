import { ApiEnvelope, ConsolePost, CurrentAccount, Page } from '@app/common';
import { Body, Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AppDto, AppListItemDto, CreatedAppDto, ListAppsDto, SaveAppDto } from './dto/app.dto';
import { AppService } from './services/app.service';

@ApiTags('apps')
@ApiBearerAuth('jwt')
@Controller('apps')
export class AppController {
  constructor(private readonly apps: AppService) {}

  @Get()
  @ApiOperation({
    operationId: 'listApps',
    summary:
      'Your apps, newest first (search_word matches the name); prompt and model of the published config, else of the draft',
  })
  @ApiEnvelope(AppListItemDto, { paginated: true })
  list(
    @CurrentAccount() accountId: string,
    @Query() q: ListAppsDto,
  ): Promise<Page<AppListItemDto>> {
    return this.apps.list(accountId, q);
  }

  @ConsolePost(undefined, 'App created')
  @ApiOperation({
    operationId: 'createApp',
    summary:
      'Create a draft app with the default config (unknown body keys such as fileList are ignored)',
  })
  @ApiEnvelope(CreatedAppDto)
  create(@CurrentAccount() accountId: string, @Body() body: SaveAppDto): Promise<CreatedAppDto> {
    return this.apps.create(accountId, body);
  }

  @Get(':app_id')
  @ApiOperation({ operationId: 'getApp', summary: 'One app (draft_updated_at: last draft change)' })
  @ApiEnvelope(AppDto)
  get(@CurrentAccount() accountId: string, @Param('app_id') id: string): Promise<AppDto> {
    return this.apps.get(accountId, id);
  }

  @ConsolePost(':app_id', 'App updated')
  @ApiOperation({ operationId: 'updateApp', summary: 'Update name, icon and description' })
  @ApiEnvelope()
  async update(
    @CurrentAccount() accountId: string,
    @Param('app_id') id: string,
    @Body() body: SaveAppDto,
  ): Promise<void> {
    await this.apps.update(accountId, id, body);
  }

  @ConsolePost(':app_id/copy', 'App copied')
  @ApiOperation({
    operationId: 'copyApp',
    summary: 'Copy an app and its draft config into a new draft app; answers the new id',
  })
  @ApiEnvelope(CreatedAppDto)
  copy(@CurrentAccount() accountId: string, @Param('app_id') id: string): Promise<CreatedAppDto> {
    return this.apps.copy(accountId, id);
  }

  @ConsolePost(':app_id/delete', 'App deleted')
  @ApiOperation({ operationId: 'deleteApp', summary: 'Delete an app with its draft and versions' })
  @ApiEnvelope()
  async delete(@CurrentAccount() accountId: string, @Param('app_id') id: string): Promise<void> {
    await this.apps.delete(accountId, id);
  }
}
