import {
  ADMIN_ONLY_KEY,
  AUTH_MODE_KEY,
  AccessTokenVerifier,
  AuthenticatedRequest,
  bearerToken,
  ForbiddenError,
  IS_PUBLIC_KEY,
  UnauthorizedError,
} from '@app/common';
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiKeyService } from '../services/api-key.service';
import { API_KEY_PREFIX } from '../services/token.service';

/**
 * The global guard: every route needs an access token unless it is @Public(); @ApiKeyAuth()
 * routes need an API key instead. Keys never open console routes and tokens never open key
 * routes. @AdminOnly() adds the role check.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: AccessTokenVerifier,
    private readonly apiKeys: ApiKeyService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const req = ctx.switchToHttp().getRequest<Request & AuthenticatedRequest>();
    const token = bearerToken(req.headers.authorization);
    const mode = this.reflector.getAllAndOverride<string>(AUTH_MODE_KEY, targets) ?? 'jwt';

    if (mode === 'api-key') {
      if (!token)
        throw new UnauthorizedError(
          'An API key is required: send Authorization: Bearer llmops-v1/...',
        );
      if (!token.startsWith(API_KEY_PREFIX)) {
        throw new UnauthorizedError(
          'This API takes an API key (llmops-v1/...), not a console access token',
        );
      }
      const principal = await this.apiKeys.authenticate(token);
      if (!principal) throw new UnauthorizedError('The API key is invalid or disabled');
      req.principal = principal;
    } else {
      if (!token)
        throw new UnauthorizedError(
          'Sign in to use this API (Authorization: Bearer <access token>)',
        );
      if (token.startsWith(API_KEY_PREFIX)) {
        throw new UnauthorizedError(
          'API keys only open the service API (/openapi, /v1); sign in to use this one',
        );
      }
      const principal = await this.verifier.verify(token);
      if (!principal)
        throw new UnauthorizedError('The access token is invalid or expired, please sign in again');
      req.principal = principal;
    }
    if (
      this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY_KEY, targets) &&
      req.principal.role !== 'admin'
    ) {
      throw new ForbiddenError('Only administrators can do this');
    }
    return true;
  }
}
