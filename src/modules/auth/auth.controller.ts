import { ApiEnvelope, ConsolePost, CurrentPrincipal, Public } from '@app/common';
import type { AuthPrincipal } from '@app/common';
import { Body, Controller, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Throttle } from '@nestjs/throttler';
import type { Request } from 'express';
import { clientInfo } from './client-info';
import { LoginResultDto, loginAnswer, PasswordLoginDto, RefreshDto } from './dto/auth.dto';
import { AuthService } from './services/auth.service';

/** Sign-in throttle per client IP, on top of the per-email/per-IP failure lock. */
const AUTH_THROTTLE = { default: { limit: 30, ttl: 60_000 } };

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  /** Email + password sign-in. Five failures per email or IP lock it for 15 minutes. */
  @Public()
  @Throttle(AUTH_THROTTLE)
  @ConsolePost('password-login', 'Signed in')
  @ApiOperation({ operationId: 'passwordLogin', summary: 'Sign in with email and password' })
  @ApiEnvelope(LoginResultDto)
  async login(@Body() body: PasswordLoginDto, @Req() req: Request): Promise<LoginResultDto> {
    return loginAnswer(
      await this.auth.passwordLogin(body, clientInfo(req)),
      body.with_refresh_token,
    );
  }

  /** Rotates the refresh token; reusing an old one signs the session out. */
  @Public()
  @Throttle(AUTH_THROTTLE)
  @ConsolePost('refresh', 'Session refreshed')
  @ApiOperation({ operationId: 'refreshToken', summary: 'Exchange a refresh token for new tokens' })
  @ApiEnvelope(LoginResultDto)
  refresh(@Body() body: RefreshDto): Promise<LoginResultDto> {
    return this.auth.refresh(body.refresh_token);
  }

  /** Ends this session: its access and refresh tokens stop working at once. */
  @ApiBearerAuth('jwt')
  @ConsolePost('logout', 'Signed out')
  @ApiOperation({ operationId: 'logout', summary: 'Sign out this session' })
  @ApiEnvelope()
  async logout(@CurrentPrincipal() principal: AuthPrincipal) {
    await this.auth.logout(principal.sessionId);
  }
}
