import { ApiEnvelope, ConsolePost, CurrentAccount, okMessage, Page } from '@app/common';
import { Body, Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  ApiKeyDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
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
    summary: 'API keys of the account (masked), newest first',
  })
  @ApiEnvelope(ApiKeyDto, { paginated: true })
  list(@CurrentAccount() accountId: string, @Query() q: ListApiKeysDto): Promise<Page<ApiKeyDto>> {
    return this.keys.list(accountId, q);
  }

  /** Creates a key; `data.api_key` holds the full key this once. */
  @ConsolePost()
  @ApiOperation({ operationId: 'createApiKey', summary: 'Create an API key' })
  @ApiEnvelope(CreatedApiKeyDto)
  create(@CurrentAccount() accountId: string, @Body() body: CreateApiKeyDto): Promise<ApiKeyDto> {
    return this.keys.create(accountId, body);
  }

  @ConsolePost(':api_key_id')
  @ApiOperation({ operationId: 'updateApiKey', summary: 'Update remark and/or is_active' })
  @ApiEnvelope(ApiKeyDto)
  update(
    @CurrentAccount() accountId: string,
    @Param('api_key_id') id: string,
    @Body() body: UpdateApiKeyDto,
  ): Promise<ApiKeyDto> {
    return this.keys.update(accountId, id, body);
  }

  @ConsolePost(':api_key_id/is-active')
  @ApiOperation({ operationId: 'setApiKeyActive', summary: 'Enable or disable a key' })
  @ApiEnvelope(ApiKeyDto)
  setActive(
    @CurrentAccount() accountId: string,
    @Param('api_key_id') id: string,
    @Body() body: UpdateApiKeyActiveDto,
  ): Promise<ApiKeyDto> {
    return this.keys.update(accountId, id, { is_active: body.is_active });
  }

  @ConsolePost(':api_key_id/delete')
  @ApiOperation({ operationId: 'deleteApiKey', summary: 'Delete a key (it stops working at once)' })
  @ApiEnvelope()
  async delete(@CurrentAccount() accountId: string, @Param('api_key_id') id: string) {
    await this.keys.delete(accountId, id);
    return okMessage('API key deleted');
  }
}
