import {
  ADMIN_ONLY_KEY,
  AUTH_MODE_KEY,
  AuthenticatedRequest,
  AuthPrincipal,
  ForbiddenError,
  IS_PUBLIC_KEY,
  routeMemo,
} from '@app/common';
import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard as PassportAuthGuard } from '@nestjs/passport';
import type { Request } from 'express';
import {
  ACCESS_TOKEN_STRATEGY,
  API_KEY_STRATEGY,
  passportOutcome,
} from '../strategies/passport-support';

/** @nestjs/passport's guard for the `api-key` strategy, answering with our messages. */
class ApiKeyPassportGuard extends PassportAuthGuard(API_KEY_STRATEGY) {
  override handleRequest<TUser>(err: unknown, user: unknown, info: unknown): TUser {
    return passportOutcome<TUser>(err, user, info);
  }
}

/**
 * The global guard, @nestjs/passport's AuthGuard for the `access-token` strategy: every route
 * needs an access token unless it is @Public(); @ApiKeyAuth() routes go through the `api-key`
 * strategy instead. Keys never open console routes and tokens never open key routes (each
 * strategy refuses the other's credential). @AdminOnly() adds the role check.
 */
@Injectable()
export class AuthGuard extends PassportAuthGuard(ACCESS_TOKEN_STRATEGY) {
  private readonly apiKeyGuard = new ApiKeyPassportGuard();
  /** What the route's decorators ask of the guard. */
  private readonly routeRules = routeMemo((handler, cls) => {
    const targets = [handler, cls];
    return {
      isPublic: this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets) === true,
      apiKey: this.reflector.getAllAndOverride<string>(AUTH_MODE_KEY, targets) === 'api-key',
      adminOnly: this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY_KEY, targets) === true,
    };
  });

  constructor(private readonly reflector: Reflector) {
    super();
  }

  override async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const rules = this.routeRules(ctx);
    if (rules.isPublic) return true;
    await (rules.apiKey ? this.apiKeyGuard.canActivate(ctx) : super.canActivate(ctx));
    // Passport leaves the principal on req.user; @CurrentAccount and the rest read req.principal.
    const req = ctx.switchToHttp().getRequest<Request & AuthenticatedRequest>();
    const principal = req.user as AuthPrincipal;
    req.principal = principal;
    if (principal.role !== 'admin' && rules.adminOnly) {
      throw new ForbiddenError('Only administrators can do this');
    }
    return true;
  }

  override handleRequest<TUser>(err: unknown, user: unknown, info: unknown): TUser {
    return passportOutcome<TUser>(err, user, info);
  }
}
