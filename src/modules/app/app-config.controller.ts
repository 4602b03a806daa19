import { ApiEnvelope, ConsolePost, CurrentAccount, Page } from '@app/common';
import { Body, Controller, Get, Param, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import {
  DraftAppConfigDto,
  FallbackHistoryDto,
  ListPublishHistoriesDto,
  PublishedConfigDto,
  PublishHistoryDto,
  UpdateDraftAppConfigDto,
  WebAppTokenDto,
} from './dto/app-config.dto';
import { AppDraftService } from './services/app-draft.service';
import { AppPublishService } from './services/app-publish.service';

/** Where the console reached us: builtin tool icons in the draft are absolute URLs. */
function originOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

@ApiTags('apps')
@ApiBearerAuth('jwt')
@Controller('apps')
export class AppConfigController {
  constructor(
    private readonly drafts: AppDraftService,
    private readonly publishing: AppPublishService,
  ) {}

  @Get(':app_id/draft-app-config')
  @ApiOperation({
    operationId: 'getDraftAppConfig',
    summary:
      'The draft config, every key present; tools, workflows and datasets expanded (those gone are dropped and the draft saved)',
  })
  @ApiEnvelope(DraftAppConfigDto)
  getDraft(
    @CurrentAccount() accountId: string,
    @Param('app_id') id: string,
    @Req() req: Request,
  ): Promise<DraftAppConfigDto> {
    return this.drafts.get(accountId, id, originOf(req));
  }

  @ConsolePost(':app_id/draft-app-config', 'Draft config saved')
  @ApiOperation({
    operationId: 'updateDraftAppConfig',
    summary:
      'Update some keys of the draft config (only those given change); an empty body or an unknown key answers validate_error',
  })
  // The body is checked by parseDraftUpdate (exact keys, partial): the global pipe must not prune it.
  @ApiBody({ type: UpdateDraftAppConfigDto })
  @ApiEnvelope()
  async updateDraft(
    @CurrentAccount() accountId: string,
    @Param('app_id') id: string,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    await this.drafts.update(accountId, id, body);
  }

  @ConsolePost(':app_id/publish', 'App published')
  @ApiOperation({
    operationId: 'publishApp',
    summary:
      'Publish the draft as a new version (previous maximum + 1) and make it the running config',
  })
  @ApiEnvelope()
  async publish(@CurrentAccount() accountId: string, @Param('app_id') id: string): Promise<void> {
    await this.publishing.publish(accountId, id);
  }

  @ConsolePost(':app_id/cancel-publish', 'App unpublished')
  @ApiOperation({
    operationId: 'cancelPublishApp',
    summary: 'Stop the running config (fail if not published); the web-app link stops working',
  })
  @ApiEnvelope()
  async cancelPublish(
    @CurrentAccount() accountId: string,
    @Param('app_id') id: string,
  ): Promise<void> {
    await this.publishing.cancelPublish(accountId, id);
  }

  @Get(':app_id/publish-histories')
  @ApiOperation({
    operationId: 'listAppPublishHistories',
    summary: 'Published versions, newest first',
  })
  @ApiEnvelope(PublishHistoryDto, { paginated: true })
  histories(
    @CurrentAccount() accountId: string,
    @Param('app_id') id: string,
    @Query() q: ListPublishHistoriesDto,
  ): Promise<Page<PublishHistoryDto>> {
    return this.publishing.histories(accountId, id, q);
  }

  @ConsolePost(':app_id/fallback-history', 'Version restored to the draft')
  @ApiOperation({
    operationId: 'fallbackAppHistory',
    summary: 'Copy a published version into the draft (what no longer exists is left out)',
  })
  @ApiEnvelope()
  async fallback(
    @CurrentAccount() accountId: string,
    @Param('app_id') id: string,
    @Body() body: FallbackHistoryDto,
  ): Promise<void> {
    await this.publishing.fallback(accountId, id, body.app_config_version_id);
  }

  @Get(':app_id/published-config')
  @ApiOperation({
    operationId: 'getAppPublishedConfig',
    summary: 'The web app: {token, status}; a published app gets its token on the first read',
  })
  @ApiEnvelope(PublishedConfigDto)
  publishedConfig(
    @CurrentAccount() accountId: string,
    @Param('app_id') id: string,
  ): Promise<PublishedConfigDto> {
    return this.publishing.publishedConfig(accountId, id);
  }

  @ConsolePost(':app_id/published-config/regenerate-web-app-token', 'Web-app link regenerated')
  @ApiOperation({
    operationId: 'regenerateAppWebAppToken',
    summary: 'A new web-app token (the old link stops working); fail if the app is not published',
  })
  @ApiEnvelope(WebAppTokenDto)
  regenerateToken(
    @CurrentAccount() accountId: string,
    @Param('app_id') id: string,
  ): Promise<WebAppTokenDto> {
    return this.publishing.regenerateToken(accountId, id);
  }
}
