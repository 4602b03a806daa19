import { ApiEnvelope, ConsolePost, CurrentAccount, Page } from '@app/common';
import { Body, Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  ApiKeyDto,
  CreateApiKeyDto,
  ListApiKeysDto,
  UpdateApiKeyActiveDto,
  UpdateApiKeyDto,
} from './dto/api-key.dto';
import { ApiKeyService } from './services/api-key.service';

/** Managed from the console (access token); the keys themselves open only /openapi and /v1. */
@ApiTags('api-keys')
@ApiBearerAuth('jwt')
@Controller('openapi/api-keys')
export class ApiKeyController {
  constructor(private readonly keys: ApiKeyService) {}

  @Get()
  @ApiOperation({
    operationId: 'listApiKeys',
    summary:
      'API keys of the account, newest first (each with its full key, as the console copies it)',
  })
  @ApiEnvelope(ApiKeyDto, { paginated: true })
  list(@CurrentAccount() accountId: string, @Query() q: ListApiKeysDto): Promise<Page<ApiKeyDto>> {
    return this.keys.list(accountId, q);
  }

  /** Creates a key; `data.api_key` holds the full key (the list shows it again to its owner). */
  @ConsolePost(undefined, 'API key created')
  @ApiOperation({ operationId: 'createApiKey', summary: 'Create an API key' })
  @ApiEnvelope(ApiKeyDto)
  create(@CurrentAccount() accountId: string, @Body() body: CreateApiKeyDto): Promise<ApiKeyDto> {
    return this.keys.create(accountId, body);
  }

  @ConsolePost(':api_key_id', 'API key updated')
  @ApiOperation({ operationId: 'updateApiKey', summary: 'Update remark and/or is_active' })
  @ApiEnvelope(ApiKeyDto)
  update(
    @CurrentAccount() accountId: string,
    @Param('api_key_id') id: string,
    @Body() body: UpdateApiKeyDto,
  ): Promise<ApiKeyDto> {
    return this.keys.update(accountId, id, body);
  }

  @ConsolePost(':api_key_id/is-active', 'API key status updated')
  @ApiOperation({ operationId: 'setApiKeyActive', summary: 'Enable or disable a key' })
  @ApiEnvelope(ApiKeyDto)
  setActive(
    @CurrentAccount() accountId: string,
    @Param('api_key_id') id: string,
    @Body() body: UpdateApiKeyActiveDto,
  ): Promise<ApiKeyDto> {
    return this.keys.update(accountId, id, { is_active: body.is_active });
  }

  @ConsolePost(':api_key_id/delete', 'API key deleted')
  @ApiOperation({ operationId: 'deleteApiKey', summary: 'Delete a key (it stops working at once)' })
  @ApiEnvelope()
  async delete(@CurrentAccount() accountId: string, @Param('api_key_id') id: string) {
    await this.keys.delete(accountId, id);
  }
}
