import { ApiEnvelope, ConsolePost, CurrentAccount } from '@app/common';
import { Body, Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CredentialsService } from './credentials.service';
import {
  CredentialDto,
  CredentialTestResultDto,
  SetCredentialDto,
  TestCredentialDto,
} from './dto/credential.dto';
import { ModelTester } from './runtime/model-tester.service';

/** Your provider credentials. Keys are sealed at rest and never returned in clear. */
@ApiTags('language-models')
@ApiBearerAuth('jwt')
@Controller('language-models/credentials')
export class CredentialsController {
  constructor(
    private readonly credentials: CredentialsService,
    private readonly tester: ModelTester,
  ) {}

  /** One entry per provider (masked), whether configured by you, by the server or not at all. */
  @Get()
  @ApiOperation({ operationId: 'listModelCredentials', summary: 'Provider credentials (masked)' })
  @ApiEnvelope(CredentialDto, { isArray: true })
  list(@CurrentAccount() accountId: string): Promise<CredentialDto[]> {
    return this.credentials.list(accountId);
  }

  @ConsolePost(':provider_name', 'Credentials saved')
  @ApiOperation({ operationId: 'setModelCredential', summary: 'Set credentials for a provider' })
  @ApiEnvelope(CredentialDto)
  set(
    @CurrentAccount() accountId: string,
    @Param('provider_name') provider: string,
    @Body() body: SetCredentialDto,
  ): Promise<CredentialDto> {
    return this.credentials.set(accountId, provider, body);
  }

  /** Makes one cheap call (a 1-token completion, or the model list) with the effective credentials. */
  @ConsolePost(':provider_name/test', 'Credentials tested')
  @ApiOperation({
    operationId: 'testModelCredential',
    summary: 'Test a provider with one cheap call',
  })
  @ApiEnvelope(CredentialTestResultDto)
  test(
    @CurrentAccount() accountId: string,
    @Param('provider_name') provider: string,
    @Body() body: TestCredentialDto,
  ): Promise<CredentialTestResultDto> {
    return this.tester.test(accountId, provider, body.model);
  }

  @ConsolePost(':provider_name/delete', 'Credentials deleted')
  @ApiOperation({
    operationId: 'deleteModelCredential',
    summary: 'Delete your credentials for a provider',
  })
  @ApiEnvelope()
  async delete(@CurrentAccount() accountId: string, @Param('provider_name') provider: string) {
    await this.credentials.delete(accountId, provider);
  }
}
