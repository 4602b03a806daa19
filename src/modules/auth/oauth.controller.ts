import { ApiEnvelope, ConsolePost, Public } from '@app/common';
import { Body, Controller, Get, Param, Req, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Throttle } from '@nestjs/throttler';
import type { Request } from 'express';
import { LoginResultDto, loginAnswer, OAuthAuthorizeDto, OAuthRedirectDto } from './dto/auth.dto';
import { GithubAuthGuard } from './guards/github-auth.guard';
import { AuthService } from './services/auth.service';
import type { IssuedTokens } from './services/session.service';

@ApiTags('auth')
@Public()
@Controller('oauth')
export class OAuthController {
  constructor(private readonly auth: AuthService) {}

  /** The provider's authorization URL, carrying a signed single-use `state`. */
  @Get(':provider_name')
  @ApiOperation({ operationId: 'oauthRedirect', summary: 'Start an OAuth sign-in (github)' })
  @ApiEnvelope(OAuthRedirectDto)
  async redirect(@Param('provider_name') provider: string): Promise<OAuthRedirectDto> {
    return { redirect_url: await this.auth.oauthRedirect(provider) };
  }

  /**
   * Finishes the sign-in with the callback's `code` (and `state`): the `github` passport strategy
   * signs in and leaves the session's tokens on req.user.
   */
  @Throttle({ default: { limit: 30, ttl: 60_000 } })
  @UseGuards(GithubAuthGuard)
  @ConsolePost('authorize/:provider_name', 'Signed in')
  @ApiOperation({ operationId: 'oauthAuthorize', summary: 'Finish an OAuth sign-in' })
  @ApiEnvelope(LoginResultDto)
  authorize(
    @Param('provider_name') _provider: string,
    @Body() body: OAuthAuthorizeDto,
    @Req() req: Request,
  ): LoginResultDto {
    return loginAnswer(req.user as IssuedTokens, body.with_refresh_token);
  }
}
