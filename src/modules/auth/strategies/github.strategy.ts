import { createValidationPipe, RouteParamsPipe } from '@app/common';
import { ArgumentMetadata, Injectable, OnModuleDestroy } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-custom';
import { clientInfo } from '../client-info';
import { OAuthAuthorizeDto } from '../dto/auth.dto';
import { AuthService } from '../services/auth.service';
import type { IssuedTokens } from '../services/session.service';
import { GITHUB_STRATEGY, retireStrategy, trackStrategy } from './passport-support';

const PROVIDER: ArgumentMetadata = { type: 'param', data: 'provider_name', metatype: String };
const BODY: ArgumentMetadata = { type: 'body', metatype: OAuthAuthorizeDto };

/**
 * `github`: the console posts GitHub's `code` (and `state`) to POST /oauth/authorize/:provider,
 * not a browser redirect, so this wraps our flow (state check, code exchange, identity, account,
 * session) instead of passport-github2's redirect dance. The "user" is the new session's tokens.
 */
@Injectable()
export class GithubStrategy
  extends PassportStrategy<typeof Strategy, IssuedTokens>(Strategy, GITHUB_STRATEGY)
  implements OnModuleDestroy
{
  // Guards run before pipes: check the param and body as the route's pipes would, in their
  // order, so a bad request answers validate_error / not_found exactly as before.
  private readonly params = new RouteParamsPipe();
  private readonly body = createValidationPipe();

  constructor(private readonly auth: AuthService) {
    super();
    trackStrategy(GITHUB_STRATEGY, this);
  }

  async validate(req: Request): Promise<IssuedTokens> {
    const raw: unknown = req.params?.provider_name;
    const provider = typeof raw === 'string' ? raw : GITHUB_STRATEGY;
    this.params.transform(provider, PROVIDER);
    const dto = (await this.body.transform(req.body, BODY)) as OAuthAuthorizeDto;
    return this.auth.oauthAuthorize(provider, dto.code, dto.state, clientInfo(req));
  }

  onModuleDestroy(): void {
    retireStrategy(GITHUB_STRATEGY, this);
  }
}
