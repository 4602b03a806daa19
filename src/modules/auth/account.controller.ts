import { ApiEnvelope, ConsolePost, CurrentPrincipal, Public } from '@app/common';
import type { AuthPrincipal } from '@app/common';
import { Body, Controller, Get, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Throttle } from '@nestjs/throttler';
import type { Request } from 'express';
import { clientInfo } from './client-info';
import { AccountDto, UpdateAvatarDto, UpdateNameDto, UpdatePasswordDto } from './dto/account.dto';
import { LoginResultDto, loginAnswer, RegisterDto } from './dto/auth.dto';
import { AccountService } from './services/account.service';
import { AuthService } from './services/auth.service';

@ApiTags('account')
@ApiBearerAuth('jwt')
@Controller('account')
export class AccountController {
  constructor(
    private readonly accounts: AccountService,
    private readonly auth: AuthService,
  ) {}

  /** Creates an account and signs it in (REGISTRATION_ENABLED). The first account is admin. */
  @Public()
  @Throttle({ default: { limit: 10, ttl: 60_000 } })
  @ConsolePost('register', 'Account created')
  @ApiOperation({ operationId: 'register', summary: 'Create an account' })
  @ApiEnvelope(LoginResultDto)
  async register(@Body() body: RegisterDto, @Req() req: Request): Promise<LoginResultDto> {
    return loginAnswer(await this.auth.register(body, clientInfo(req)), body.with_refresh_token);
  }

  @Get()
  @ApiOperation({ operationId: 'getAccount', summary: 'The signed-in account' })
  @ApiEnvelope(AccountDto)
  async get(@CurrentPrincipal() p: AuthPrincipal): Promise<AccountDto> {
    return this.accounts.profile(p.accountId);
  }

  @ConsolePost('name', 'Name updated')
  @ApiOperation({ operationId: 'updateAccountName', summary: 'Change the display name' })
  @ApiEnvelope()
  async name(@CurrentPrincipal() p: AuthPrincipal, @Body() body: UpdateNameDto) {
    await this.accounts.update(p.accountId, { name: body.name });
  }

  @ConsolePost('avatar', 'Avatar updated')
  @ApiOperation({ operationId: 'updateAccountAvatar', summary: 'Change the avatar URL' })
  @ApiEnvelope()
  async avatar(@CurrentPrincipal() p: AuthPrincipal, @Body() body: UpdateAvatarDto) {
    await this.accounts.update(p.accountId, { avatar: body.avatar });
  }

  /** Sets the password; every other session of the account is signed out. */
  @ConsolePost('password', 'Password updated; other sessions were signed out')
  @ApiOperation({ operationId: 'updateAccountPassword', summary: 'Change the password' })
  @ApiEnvelope()
  async password(@CurrentPrincipal() p: AuthPrincipal, @Body() body: UpdatePasswordDto) {
    await this.auth.changePassword(p.accountId, p.sessionId, body.password, body.old_password);
  }
}
